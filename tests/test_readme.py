"""The README's Python examples run as written (those that need no file of the user's)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
# Blocks that are fragments of a user's files or test suite are documented, not run.
RUNNABLE = [b for b in BLOCKS if b.lstrip().startswith("import") and "model.py" not in b]


def test_the_readme_has_runnable_examples():
    assert len(RUNNABLE) >= 4


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.splitlines()[0][:40] for b in RUNNABLE])
def test_readme_example_runs(block, tmp_path, monkeypatch):
    if "torch" in block:
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)  # examples may save files
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # examples may show warnings on purpose
        exec(compile(block, str(README), "exec"), {"__name__": "__readme__"})
