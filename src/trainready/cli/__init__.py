"""The ``trainready`` command line: ``demo``, ``check``, ``doctor`` and ``normalize``.

Run ``trainready --help`` (or ``python -m trainready --help``). typer and rich are needed (the
``cli`` extra); they are imported when the command runs, not by ``import trainready``.

Exit codes: 0 when all is well (bare ``trainready`` prints its help and exits 0), 1 for a verdict
and nothing else (a wrong gradient, a doctor's finding), 2 for every other failure -- a usage or
input error, the user's code raising or calling ``sys.exit`` -- reported as one line on stderr
that names what failed (for the user's code: the exception, its message, file and line) and what
to do; 130 after Ctrl-C. Warnings become ``note:`` lines of the report, never extra stderr.

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
