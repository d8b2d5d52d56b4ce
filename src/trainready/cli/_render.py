"""Rendering a gradient-check report in the terminal: a table that fits the terminal's width.

Piped or redirected output keeps the report's own text (``str(report)``, one row per line,
for grep and logs); a terminal gets the same rows as a rich table whose hint column wraps
inside its cell, so an 80-column terminal still shows a table, never one word per line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer

from ._common import print_notes

__all__ = ["gradcheck_table", "print_gradcheck"]

_COLUMNS = ("param", "shape", "checked", "difference", "verdict", "worst", "numeric", "analytic")
_NARROW = 100  # below this width the numeric and analytic columns are dropped


def gradcheck_table(report: Any, width: int) -> Any:
    """The per-parameter rows of ``report`` (:meth:`GradcheckReport.rows`) as a rich Table.

    Args:
        report: a :class:`trainready.gradcheck.GradcheckReport`.
        width: the terminal's width in columns; narrow terminals drop the numeric and analytic
            columns (the hint keeps the ratio) and wrap the hint inside its cell.
    """
    from rich import box
    from rich.table import Table

    rows = report.rows()
    failing = any(r["verdict"] != "ok" for r in rows)
    cols = list(_COLUMNS if failing else _COLUMNS[:5])
    if width < _NARROW:
        cols = [c for c in cols if c not in ("numeric", "analytic", "checked")]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=False)
    for c in cols:
        right = c in ("checked", "difference", "numeric", "analytic")
        table.add_column(c, justify="right" if right else "left", no_wrap=True)
    if failing:
        table.add_column("hint", overflow="fold", ratio=1, min_width=16)
    for r in rows:
        cells = [r[c] for c in cols]
        if r["verdict"] != "ok":
            cells[cols.index("verdict")] = f"[red]{r['verdict']}[/red]"
        table.add_row(*cells, *([r["hint"]] if failing else []))
    return table


def print_gradcheck(report: Any, label: str, notes: Sequence[str]) -> None:
    """Print ``label: report`` and the notes; a table fitted to the width on a terminal."""
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    if not console.is_terminal:
        typer.echo(f"{label}: {report}")
        print_notes(notes)
        return
    step = f"eps {report.eps:g}" if report.eps is not None else "automatic steps"
    probes = f" + {len(report.probes)} probes" if report.probes else ""
    console.print(escape(f"{label}: {report.summary()}"), highlight=False)
    console.print(
        f"mode {report.mode}, {report.n_checked:,} of {report.n_params:,} elements compared"
        f"{probes}, {report.evaluations:,} loss calls, {step}, noise {report.noise:.1e}; "
        f"difference {report.difference:.2e} (textbook), beyond numerical error "
        f"{report.excess:.2e} -> {report.verdict}",
        highlight=False,
    )
    console.print(gradcheck_table(report, console.width))
    if report.kinks:
        resolved = sum(k.resolved for k in report.kinks)
        console.print(
            f"kinks: {len(report.kinks)} coordinate(s) crossed a non-differentiable point "
            f"({resolved} resolved by a smaller step, the rest not blamed)",
            highlight=False,
        )
    for line in [*report.notes, *notes]:
        console.print(escape(f"note: {line}"), highlight=False)
