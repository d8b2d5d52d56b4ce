"""Run a benchmark script on an older commit's ``src`` (``git archive``), in a subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["ROOT", "run_at_commit"]


def run_at_commit(commit: str, script: str) -> Any:
    """``python script --json`` with ``src`` of ``commit`` first on the path: its JSON output."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit, "src"], capture_output=True, check=True
        ).stdout
        tarfile.open(fileobj=io.BytesIO(archive)).extractall(tmp, filter="data")
        env = dict(os.environ, PYTHONPATH=str(Path(tmp) / "src"), OMP_NUM_THREADS="1")
        proc = subprocess.run(
            [sys.executable, script, "--json"], capture_output=True, text=True, env=env, check=True
        )
    return json.loads(proc.stdout)
