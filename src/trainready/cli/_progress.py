"""Progress bars that fit any terminal and never stay frozen.

The description column takes what is left of the width and is cut with an ellipsis, so the
counts and the elapsed time keep their place on an 80-column terminal. :class:`Steps` adapts a
``progress(step, done, total)`` callback: a step announced and never advanced is removed when
the next step starts (and at the end), so no bar is left behind at 0/N.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["BAR_BYTES", "Steps", "bars", "file_bar", "job_bar"]

#: Files at least this large get a progress bar while they are read or written; smaller ones
#: take under half a second (measured: 8.8 MB of CSV read in 0.85 s, written in 1.1 s;
#: benchmarks/bench_cli_csv.py).
BAR_BYTES = 4 << 20


def bars(console: Any, *, transient: bool = False) -> Any:
    """A ``rich.progress.Progress`` whose counts and times survive a narrow terminal."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Column

    return Progress(
        SpinnerColumn(),
        TextColumn(
            "{task.description}",
            table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis", min_width=10),
        ),
        BarColumn(bar_width=20),
        MofNCompleteColumn(table_column=Column(no_wrap=True)),
        TimeElapsedColumn(table_column=Column(no_wrap=True)),
        console=console,
        transient=transient,
        expand=True,
    )


class Steps:
    """Adapts ``progress(step, done, total)`` to one bar per step; unfinished bars are removed
    when the next step starts and by :meth:`close`."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.tasks: dict[str, Any] = {}

    def _drop_unfinished(self) -> None:
        by_id = {t.id: t for t in self.progress.tasks}
        for step, task in list(self.tasks.items()):
            if not by_id[task].finished:
                self.progress.remove_task(task)
                del self.tasks[step]

    def __call__(self, step: str, done: int, total: int) -> None:
        total = max(total, done, 1)
        if step not in self.tasks:
            self._drop_unfinished()
            self.tasks[step] = self.progress.add_task(step, total=total)
        self.progress.update(self.tasks[step], completed=done, total=total)

    def close(self) -> None:
        """Remove every bar that did not finish."""
        self._drop_unfinished()


@contextlib.contextmanager
def job_bar(description: str, show: bool = True) -> Iterator[Callable[[int, int], None]]:
    """``tick(done, total)`` for one long job: a transient bar on stderr (drawn on a terminal
    only, erased when done), or nothing when ``show`` is False."""
    from rich.console import Console

    console = Console(stderr=True)
    if not (show and console.is_terminal):  # a log or a pipe gets no bar (not even a newline)
        yield lambda done, total: None
        return
    with bars(console, transient=True) as progress:
        task = progress.add_task(description, total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield tick


def file_bar(size: int, description: str) -> contextlib.AbstractContextManager[Any]:
    """:func:`job_bar` for reading or writing a file of ``size`` bytes: a bar from
    :data:`BAR_BYTES` up, none for smaller files."""
    return job_bar(description, size >= BAR_BYTES)
