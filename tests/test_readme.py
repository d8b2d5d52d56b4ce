"""The README's examples run as written, and every output they show is what they print.

Conventions the README follows (and this file checks):

- A ```` ```python ```` block runs on its own, in a fresh namespace: whatever it uses it defines
  or imports. A block whose first line is ``# NAME.py`` is a file of the user's: it is written to
  the working folder for the console blocks, not run.
- In a Python block, a top-level statement that calls ``print`` and is followed at once by lines
  starting with ``#`` shows its output there (``# `` stripped). The output is compared with what
  the statement prints, whitespace-tolerant (a long line may be wrapped anywhere there is a
  space) and with ``...`` standing for any text; every number shown is compared as printed.
- Functions named ``test_*`` that a block defines are called after it ran (they must pass).
- A fenced block whose lines start with ``$ `` is a shell session: each command runs (with
  ``trainready`` meaning this interpreter's ``python -m trainready``) in a folder holding the
  README's files, and the lines up to the next ``$`` are its output.
- A file the README names (``*.md``, relative links) exists in the repository.

When the tool's output changes on purpose (numerics, wording), rewrite the README's shown
outputs from a fresh run in one command, then review the diff::

    python tests/test_readme.py --update
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import io
import os
import re
import shlex
import subprocess
import sys
import tempfile
import textwrap
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
WIDTH = 100  # the README's line length: shown outputs are wrapped to it
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Block:
    """A fenced block of the README: its language, text and first line number (1-based)."""

    lang: str
    text: str
    line: int

    @property
    def file_name(self) -> str | None:
        """``model.py`` for a block whose first line is ``# model.py``."""
        m = re.fullmatch(r"# ([\w.-]+\.py)", self.text.splitlines()[0].strip())
        return m.group(1) if m else None

    @property
    def is_shell(self) -> bool:
        return self.lang in ("", "console", "shell") and self.text.startswith("$ ")


@dataclass(frozen=True)
class Shown:
    """An output the README shows: where (0-based lines of the README, end exclusive), the
    source that prints it, and the text shown."""

    start: int
    end: int
    source: str
    want: str
    indent: str = "# "


def blocks(text: str) -> list[Block]:
    out = []
    for m in FENCE.finditer(text):
        out.append(Block(m.group(1), m.group(2), text.count("\n", 0, m.start(2)) + 1))
    return out


def _calls_print(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
        for n in ast.walk(node)
    )


def python_steps(block: Block) -> list[tuple[str, Shown | None]]:
    """The block's top-level statements, each with the output it shows (or None)."""
    lines = block.text.splitlines()
    steps = []
    for stmt in ast.parse(block.text).body:
        decorators = getattr(stmt, "decorator_list", [])
        first = (decorators[0] if decorators else stmt).lineno - 1
        end = stmt.end_lineno or stmt.lineno
        source = "\n".join(lines[first:end])
        k = end
        while k < len(lines) and lines[k].startswith("#"):
            k += 1
        shown = None
        if k > end and _calls_print(stmt):
            want = "\n".join(line[2:] if line.startswith("# ") else "" for line in lines[end:k])
            shown = Shown(block.line + end - 1, block.line + k - 1, source, want + "\n")
        steps.append((source, shown))
    return steps


def shell_steps(block: Block) -> list[Shown]:
    """Each ``$ command`` of a shell block with the lines shown under it."""
    lines = block.text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("$ ")]
    out = []
    for a, b in zip(starts, [*starts[1:], len(lines)], strict=True):
        want = "\n".join(lines[a + 1 : b])
        out.append(
            Shown(block.line + a, block.line + b - 1, lines[a][2:], want + "\n" if want else "", "")
        )
    return out


def matches(want: str, got: str) -> bool:
    return doctest.OutputChecker().check_output(want, got, FLAGS)


def explain(want: str, got: str) -> str:
    example = doctest.Example("", want)
    return doctest.OutputChecker().output_difference(example, got, FLAGS)


@contextlib.contextmanager
def _in_folder(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def run_python(block: Block, folder: Path) -> list[tuple[Shown, str]]:
    """Run ``block`` statement by statement in ``folder``; (shown, printed) for each output it
    shows. Then call the ``test_*`` functions it defined."""
    space: dict[str, object] = {"__name__": "__readme__"}
    results = []
    with _in_folder(folder), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # examples may show warnings on purpose
        for source, shown in python_steps(block):
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                code = compile(textwrap.dedent(source), f"README.md:{block.line}", "exec")
                exec(code, space)
            if shown is not None:
                results.append((shown, buf.getvalue()))
        for name, obj in list(space.items()):
            if name.startswith("test_") and callable(obj):
                obj()
    return results


def readme_files(all_blocks: list[Block], folder: Path) -> None:
    for b in all_blocks:
        if b.lang == "python" and b.file_name:
            (folder / b.file_name).write_text(b.text, encoding="utf-8")


def run_shell(block: Block, folder: Path) -> list[tuple[Shown, str]]:
    """Run each command of a shell block in ``folder`` (stdout and stderr together)."""
    prelude = f'trainready() {{ {shlex.quote(sys.executable)} -m trainready "$@"; }}\n'
    env = {**os.environ, "COLUMNS": str(WIDTH), "TERM": "dumb", "NO_COLOR": "1"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    results = []
    for shown in shell_steps(block):
        proc = subprocess.run(
            ["bash", "-c", prelude + shown.source + " 2>&1"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        results.append((shown, proc.stdout))
    return results


BLOCKS = blocks(README.read_text(encoding="utf-8"))
PYTHON = [b for b in BLOCKS if b.lang == "python" and not b.file_name]
SHELL = [b for b in BLOCKS if b.is_shell]


def _id(b: Block) -> str:
    return f"line{b.line}"


def test_the_readme_has_runnable_examples_that_show_outputs():
    assert len(PYTHON) >= 6 and SHELL
    shown = sum(s is not None for b in PYTHON for _, s in python_steps(b))
    assert shown >= 8


@pytest.mark.parametrize("block", PYTHON, ids=[_id(b) for b in PYTHON])
def test_readme_example_runs_and_prints_what_it_shows(block, tmp_path):
    if "torch" in block.text:
        pytest.importorskip("torch")
    for shown, got in run_python(block, tmp_path):
        assert matches(shown.want, got), f"README.md line {shown.start + 1}:\n" + explain(
            shown.want, got
        )


@pytest.mark.parametrize("block", SHELL, ids=[_id(b) for b in SHELL])
def test_readme_shell_session_prints_what_it_shows(block, tmp_path):
    pytest.importorskip("typer")
    readme_files(BLOCKS, tmp_path)
    for shown, got in run_shell(block, tmp_path):
        assert matches(shown.want, got), f"README.md line {shown.start + 1}:\n" + explain(
            shown.want, got
        )


#: Files written on other branches at the same time (issue 15: the architecture page).
PENDING = {"docs/architecture.md"}


def _named_files() -> list[str]:
    text = README.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)#\s]+)", text)
    mentioned = re.findall(r"(?<![\w/.-])((?:[\w-]+/)*[\w-]+\.md)\b", text)
    return sorted({f for f in links + mentioned if not re.match(r"\w+:", f)})


@pytest.mark.parametrize("name", _named_files())
def test_every_file_the_readme_names_exists(name):
    if name in PENDING and not (ROOT / name).exists():
        pytest.skip(f"{name} is written on another branch (merge it first)")
    assert (ROOT / name).is_file(), f"README.md names {name}, which the repository lacks"


def test_the_output_check_is_strict_on_numbers_and_loose_on_spaces():
    assert matches("gradcheck OK: 154 loss calls\n", "gradcheck  OK:\n154 loss calls\n")
    assert not matches("154 loss calls\n", "138 loss calls\n")
    assert not matches("0.098\n", "0.099\n")
    assert matches("layer 37 ... end\n", "layer 37 and much more end\n")


def _wrapped(text: str, prefix: str) -> list[str]:
    out = []
    for line in text.rstrip("\n").splitlines():
        if len(prefix + line) <= WIDTH:
            out.append((prefix + line).rstrip())
            continue
        lead = line[: len(line) - len(line.lstrip())]
        out.extend(
            (prefix + part).rstrip()
            for part in textwrap.wrap(
                line,
                WIDTH - len(prefix),
                subsequent_indent=lead + "  ",
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return out


def update(readme: Path = README) -> int:
    """Rewrite every shown output that no longer matches with what its block prints now.

    Returns the number of outputs rewritten. Outputs that still match (``...`` included) are
    left as written.
    """
    text = readme.read_text(encoding="utf-8")
    all_blocks = blocks(text)
    lines = text.splitlines()
    edits: list[tuple[Shown, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        readme_files(all_blocks, folder)
        for b in all_blocks:
            if b.lang == "python" and not b.file_name:
                edits += run_python(b, folder)
            elif b.is_shell:
                edits += run_shell(b, folder)
    changed = 0
    for shown, got in sorted(edits, key=lambda e: -e[0].start):
        if matches(shown.want, got):
            continue
        lines[shown.start : shown.end] = _wrapped(got, shown.indent)
        changed += 1
    readme.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_readme.py --update   (rewrites README.md's outputs)")
    sys.path.insert(0, str(ROOT / "src"))
    print(f"README.md: {update()} shown output(s) rewritten from a fresh run")
