"""``trainready demo``: the whole story on embedded data, with progress bars and a report."""

from __future__ import annotations

import math
import time
from typing import Annotated, Any

import typer

from ._common import check_out_folder, guard, help_text
from ._progress import Steps, bars
from ._typer import Command

EXAMPLE = "trainready demo --quick --out trainready-report"
DEFAULT_OUT = "trainready-report"

HELP = help_text(f"""Run the whole story on embedded data and write a report.

1. normalization: a real data set (breast cancer, bundled with scikit-learn) whose feature stds span
a factor 2.4e5, trained raw and standardized; 2. vanishing and exploding: deep linear W = 1.5·I
and 0.5·I, a 50-layer ReLU network under zeros, N(0, 1), LeCun, He and LSUV; 3. initialization:
the [2, 10, 5, 1] network from zeros, random × 10, LeCun and He; 4. gradient checking: backprop
checked, injected bugs caught and localized, probe mode on a million parameters.

Writes PNG figures and one self-contained index.html (figures embedded, readable offline) into
--out. The full run takes about 25 s on 2 CPU cores, --quick about 15 s (measured: 22 s and 14 s,
benchmarks/cli_timings.py); the run's own time is printed at the end.

[bold]Example:[/bold] {EXAMPLE}
""")


def _pct(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{x:.0%}"


def _g(x: float) -> str:
    if not math.isfinite(x):
        return "—"
    return f"{x:.3g}" if x == 0 or 1e-3 <= abs(x) < 1e5 else f"{x:.1e}"


def _verdict(text: str) -> str:
    color = {"ok": "green", "check": "yellow", "wrong": "red"}.get(text.lower(), "white")
    return f"[{color}]{text.upper() if text.lower() != 'ok' else 'ok'}[/{color}]"


def _where(rep: Any) -> str:
    """'W2[3, 4]' from the report's one-line summary."""
    return str(rep.summary().split(": ", 1)[-1].split(" — ")[0])


def _short_hint(hint: str) -> str:
    """The hint up to its first ';', without a trailing question in parentheses."""
    text = hint.split(";")[0].strip()
    if text.endswith("?)") and " (" in text:
        text = text[: text.rindex(" (")]
    return text


def _gradcheck_table(res: Any, width: int) -> Any:
    """Section 4's table; below 120 columns the pattern goes under the check's name."""
    from rich.table import Table

    wide = width >= 120
    t = Table(title="4. gradient checking", title_justify="left")
    t.add_column("check", ratio=1, min_width=20)
    t.add_column("verdict", no_wrap=True)
    t.add_column("difference", justify="right", no_wrap=True)
    t.add_column("where", no_wrap=True)
    if wide:
        t.add_column("pattern", ratio=1)
    t.add_column("loss calls", justify="right", no_wrap=True)
    rows = [
        ("correct backprop, at init", res.at_init),
        ("correct backprop, trained", res.after_training),
        *((f"bug {i}: {c.bug}", c.report) for i, c in enumerate(res.bugs, start=1)),
        (f"probe mode, N = {res.big_n_params:,}, correct", res.probe_correct),
        (
            f"probe mode, N = {res.big_n_params:,}, W1{list(res.probe_bug_index)} made 10% wrong",
            res.probe_buggy,
        ),
    ]
    for label, rep in rows:
        worst = rep.failing[0] if rep.failing else None
        pattern = _short_hint(worst.hint) if worst is not None else ""
        cells = [
            label if wide or not pattern else f"{label}\n[dim]→ {pattern}[/dim]",
            _verdict(rep.verdict),
            _g(worst.difference if worst is not None else rep.difference),
            _where(rep) if worst is not None else "",
            *([pattern] if wide else []),
            f"{rep.evaluations:,}",
        ]
        t.add_row(*cells)
    classic = [
        "classic loop, N parameters",
        "",
        "",
        "",
        *(["2N"] if wide else []),
        f"{res.classic_calls:,}",
    ]
    t.add_row(*classic)
    return t


def summary_tables(result: Any, width: int = 120) -> list[Any]:
    """The terminal summary of a :class:`trainready.demo.DemoResult`, as rich renderables.

    Args:
        result: the demo's result.
        width: the terminal's width; section 4's table folds its pattern column below 120.
    """
    from rich.table import Table

    out: list[Any] = []
    res = result.normalization
    if res is not None:
        t = Table(
            title=f"1. normalization · std ratio of raw features {res.scale_ratio:.2g}",
            title_justify="left",
        )
        for c in ("run", "final cost", "train acc", "test acc"):
            t.add_column(c, justify="left" if c == "run" else "right")
        for r in res.runs:
            t.add_row(r.label, _g(r.final_loss), _pct(r.train_accuracy), _pct(r.test_accuracy))
        out.append(t)
    res = result.depth
    if res is not None:
        up, down = res.linear
        t = Table(
            title=f"2. vanishing/exploding · deep linear: 1.5^{up.depth} → "
            f"{up.activation_ratio[-1]:.3g}, 0.5^{down.depth} → {down.activation_ratio[-1]:.3g}",
            title_justify="left",
        )
        t.add_column("init")
        t.add_column("last hidden std", justify="right")
        t.add_column("doctor")
        for s in res.schemes:
            d = s.diagnosis
            kinds = ", ".join(dict.fromkeys(d.kinds()))
            t.add_row(
                s.label, _g(s.last_std), "[green]healthy[/green]" if d.ok else f"[red]{kinds}[/red]"
            )
        out.append(t)
    res = result.initialization
    if res is not None:
        t = Table(
            title=f"3. initialization · {list(res.layer_dims)} on two circles", title_justify="left"
        )
        for c in ("init", "initial cost", "final cost", "train acc", "test acc"):
            t.add_column(c, justify="left" if c == "init" else "right")
        for r in res.runs:
            t.add_row(
                r.run.label,
                _g(r.initial_loss),
                _g(r.run.final_loss),
                _pct(r.run.train_accuracy),
                _pct(r.run.test_accuracy),
            )
        out.append(t)
    res = result.gradcheck
    if res is not None:
        out.append(_gradcheck_table(res, width))
    return out


def run_demo_command(out: str, quick: bool, seed: int) -> None:
    """Run the demo with progress bars, print the summary, write the report."""
    from rich.console import Console

    from ..demo import run_demo
    from ..report.html import write_demo_report

    folder = check_out_folder("--out", out)
    console = Console()
    start = time.perf_counter()
    console.print(
        f"[bold]trainready demo[/bold]{' --quick' if quick else ''}: normalization, "
        "vanishing/exploding signals, initialization, gradient checking"
    )
    with bars(console) as progress:
        steps = Steps(progress)
        try:
            result = run_demo(quick, rng=seed, progress=steps)
            files = write_demo_report(result, folder, progress=steps, started=start)
        finally:
            steps.close()
    for table in summary_tables(result, console.width):
        console.print(table)
    console.print(  # the run time the report's footer shows (one measurement for both)
        f"report: [bold]{files.index}[/bold] ({len(files.figures)} figures embedded, also saved "
        f"as PNG in {folder}) · {files.seconds:.1f} s"
    )


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""

    @app.command("demo", help=HELP, cls=Command)
    def demo(
        out: Annotated[
            str, typer.Option("--out", "-o", help="Folder for index.html and the PNG figures.")
        ] = DEFAULT_OUT,
        quick: Annotated[
            bool, typer.Option("--quick", help="Fewer epochs and smaller batches (seconds).")
        ] = False,
        seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of everything random.")] = 0,
    ) -> None:
        guard(run_demo_command, out, quick, seed)
