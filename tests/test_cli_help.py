"""The first hour (issue 12.3, 12.5, 12.6): --version, bare commands print help and succeed, clean
help pages, 80-column terminals, and progress bars that finish or go away."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import trainready
from trainready.cli import app

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

PAGES = [
    [],
    ["demo"],
    ["check"],
    ["doctor"],
    ["normalize"],
    ["normalize", "fit"],
    ["normalize", "transform"],
]


def test_version() -> None:
    for flag in ("--version", "-V"):
        result = runner.invoke(app, [flag])
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"trainready {trainready.__version__} (Python ")


@pytest.mark.parametrize("command", [[], ["normalize"]])
def test_bare_command_prints_help_and_exits_0(command: list[str]) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    assert "Usage: trainready" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("command", PAGES)
def test_help_pages_are_clean(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert "<bool>" not in page
    assert len(re.findall(r"Examples?:", page)) == 1, page  # one example line, not two
    assert "trainready " in page


def test_demo_help_gives_the_measured_duration() -> None:
    page = runner.invoke(app, ["demo", "--help"]).stdout
    assert "a few seconds" not in page
    assert re.search(r"about 25 s on 2 CPU cores, --quick about 15 s", " ".join(page.split()))


# ------------------------------------------------------------------------- 80 columns
BUGGY = textwrap.dedent(
    """
    import numpy as np

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((16, 3)), rng.standard_normal(16)
    P = {"W1": rng.standard_normal((4, 3)), "b1": np.zeros(4), "W2": rng.standard_normal((1, 4))}

    def cost(p):
        h = np.tanh(X @ p["W1"].T + p["b1"])
        return float(0.5 * np.mean(((h @ p["W2"].T)[:, 0] - y) ** 2))

    def backprop(p):
        h = np.tanh(X @ p["W1"].T + p["b1"])
        r = ((h @ p["W2"].T)[:, 0] - y) / len(X)
        dz = np.outer(r, p["W2"][0]) * (1 - h ** 2)
        return {"W1": 2 * dz.T @ X, "b1": dz.sum(0), "W2": (r @ h)[None, :]}

    def make():
        return cost, P, backprop
    """
)


def in_terminal(args: list[str], cwd: Path, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TTY_COMPATIBLE": "1", "COLUMNS": str(columns), "NO_COLOR": "1"}
    src = str(Path(__file__).parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "trainready", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
        cwd=cwd,
    )


def test_gradcheck_table_stays_a_table_at_80_columns(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(BUGGY)
    proc = in_terminal(["check", "m.py:make", "--mode", "full"], tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = [ANSI.sub("", line) for line in proc.stdout.splitlines()]
    assert all(len(line) <= 80 for line in lines), lines
    header = next(line for line in lines if line.startswith("param"))
    assert header.split() == ["param", "shape", "difference", "verdict", "worst", "hint"]
    row = next(line for line in lines if line.startswith("W1 "))
    # one row holds the parameter, its verdict, the element and the start of the hint
    assert "WRONG" in row and "W1[" in row and "analytic ≈ 2.00" in row
    hint_start = header.index("hint")
    continuation = lines[lines.index(row) + 1]
    assert continuation[:hint_start].strip() == ""  # the hint wraps inside its own column
    assert len(continuation.split()) >= 3  # several words per line, not one
    # a long job shows a bar (on stderr, erased at the end) that reached its count
    bar = ANSI.sub("", proc.stderr)
    assert re.search(r"checking m\.py:make: loss calls.* (\d+)/\1 \d:\d\d:\d\d", bar), bar


def test_progress_bar_keeps_counts_and_time_at_80_columns() -> None:
    from rich.console import Console

    from trainready.cli._progress import bars

    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=True, color_system=None)
    with bars(console) as progress:
        long = "1 normalization: standardized inputs, lr 0.1, on the breast cancer data set"
        task = progress.add_task(long, total=400)
        progress.update(task, completed=400)
    last = [ANSI.sub("", line) for line in buf.getvalue().splitlines() if "400/400" in line]
    assert last, buf.getvalue()
    assert re.search(r"400/400 \d:\d\d:\d\d$", last[-1].rstrip()), last[-1]
    assert "…" in last[-1] and len(last[-1].rstrip()) <= 80


# -------------------------------------------------------------------- bars never frozen
def test_an_announced_step_that_never_advances_is_removed() -> None:
    from rich.console import Console

    from trainready.cli._progress import Steps, bars

    console = Console(file=io.StringIO(), width=80, force_terminal=True)
    with bars(console) as progress:
        steps = Steps(progress)
        steps("4 gradcheck: trained", 0, 1000)  # announced, never advanced (the old spinner)
        steps("4 gradcheck: bug 1", 0, 5)
        steps("4 gradcheck: bug 1", 5, 5)
        steps("4 gradcheck: bug 2", 2, 5)  # still running when the run ends
        steps.close()
        assert [(t.description, t.finished) for t in progress.tasks] == [
            ("4 gradcheck: bug 1", True)
        ]


@pytest.fixture(scope="module")
def gradcheck_section():
    """The demo's real gradient-checking section through the CLI's bars (about 5 s)."""
    from rich.console import Console

    from trainready.cli._progress import Steps, bars
    from trainready.demo import run_demo

    console = Console(file=io.StringIO(), width=80, force_terminal=True)
    with bars(console) as progress:
        steps = Steps(progress)
        result = run_demo(True, sections=["gradcheck"], progress=steps)
        steps.close()
        left = [(t.description, t.completed, t.total) for t in progress.tasks if not t.finished]
    return result, left


def test_every_demo_bar_finishes_or_is_removed(gradcheck_section) -> None:
    _, left = gradcheck_section
    assert left == []


@pytest.mark.parametrize("width", [80, 140])
def test_demo_gradcheck_table_fits(gradcheck_section, width: int) -> None:
    from rich.console import Console

    from trainready.cli._demo import summary_tables

    result, _ = gradcheck_section
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None)
    for table in summary_tables(result, width):
        console.print(table)
    lines = buf.getvalue().splitlines()
    assert all(len(line) <= width for line in lines)
    cells = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    assert any(c.startswith("bug 1: dW2 computed") for c in cells), cells  # not word by word
    text = buf.getvalue()
    assert "2.00 ×" in text and "W1[" in text  # the pattern and the element are kept
    if width >= 120:
        assert "pattern" in text


def test_no_help_text_is_eaten_as_markup() -> None:
    """rich markup would swallow a '[default: 0 1]' written in a help text."""
    page = " ".join(
        runner.invoke(app, ["normalize", "fit", "--help"]).stdout.replace("│", " ").split()
    )
    assert "Target range of --kind minmax (default: 0 1)." in page
