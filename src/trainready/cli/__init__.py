"""The ``trainready`` command line: ``demo``, ``check``, ``doctor`` and ``normalize``.

Run ``trainready --help`` (or ``python -m trainready --help``). typer and rich are needed (the
``cli`` extra); they are imported when the command runs, not by ``import trainready``.

Exit codes: 0 when all is well, 1 when a check found a problem (a wrong gradient, a doctor's
finding), 2 for a usage or input error, reported as one line that says what to do.

Example:
    >>> from typer.testing import CliRunner            # doctest: +SKIP
    >>> from trainready.cli import app                  # doctest: +SKIP
    >>> CliRunner().invoke(app, ["--help"]).exit_code   # doctest: +SKIP
    0
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``trainready`` console script and of ``python -m trainready``."""
    from .._optional import require
    from ..errors import MissingDependencyError

    try:
        require("typer", "the trainready command line")
        require("rich", "the trainready command line")
        from ._app import app
    except MissingDependencyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    app(prog_name="trainready")


def __getattr__(name: str) -> Any:
    if name == "app":
        from ._app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
