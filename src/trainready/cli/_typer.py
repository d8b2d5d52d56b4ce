"""typer's command and group classes, adjusted: clean help pages and one-line errors.

Exit codes: 0 all is well (and bare ``trainready`` or ``trainready normalize``, which print
their help), 1 a verdict (a wrong gradient, a doctor's finding), 2 anything else -- a usage
error, bad input, the user's code failing -- always one line on stderr. 130 after Ctrl-C.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from ._common import ABORTED, describe, one_line

__all__ = ["TRACEBACK_ENV", "Command", "Group"]

# typer >= 0.20 vendors click (typer._click); older versions use click itself. Find the usage
# error classes through the public typer.BadParameter either way.
_MRO = {c.__name__: c for c in typer.BadParameter.__mro__}
_UsageError: type[Exception] = _MRO["UsageError"]
_ClickException: type[Exception] = _MRO["ClickException"]

#: Set to 1 to see the traceback of an unexpected error instead of its one line.
TRACEBACK_ENV = "TRAINREADY_TRACEBACK"


def _plain_flags(params: list[Any]) -> list[Any]:
    """Flags (``--json``, ``--help``) take no value: show no ``<bool>`` type in the help."""
    for p in params:
        if getattr(p, "is_flag", False) and getattr(p, "metavar", None) is None:
            p.metavar = ""
    return params


class Command(TyperCommand):
    """A command whose help shows no ``<bool>`` metavar for flags."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))


class Group(TyperGroup):
    """A group whose usage errors become one line on stderr (exit 2) instead of a usage box,
    and whose unexpected errors become one line too (``TRAINREADY_TRACEBACK=1`` re-raises)."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _plain_flags(super().get_params(ctx))

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            rv = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
            code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
        except _UsageError as exc:
            code = _usage_error(exc)
        except _ClickException as exc:
            typer.echo(f"error: {one_line(exc.format_message())}", err=True)  # type: ignore[attr-defined]
            code = exc.exit_code  # type: ignore[attr-defined]
        except (typer.Abort, KeyboardInterrupt):
            typer.echo(ABORTED, err=True)
            code = 130
        except Exception as exc:
            if os.environ.get(TRACEBACK_ENV) == "1":
                raise
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            typer.echo(
                f"error: trainready failed: {describe(exc)} (in {os.path.basename(frame.filename)}"
                f", line {frame.lineno}); this is a bug in trainready, please report it with the "
                f"command you ran ({TRACEBACK_ENV}=1 shows the traceback)",
                err=True,
            )
            code = 2
        if standalone_mode:
            sys.exit(code)
        return code


def _usage_error(exc: Exception) -> int:
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":
        # bare `trainready` or `trainready normalize`: the help, on stdout, and success
        text = exc.format_message()  # type: ignore[attr-defined]
        if text.strip():
            typer.echo(text)
        return 0
    cmd = ctx.command_path if ctx is not None else "trainready"
    typer.echo(
        f"error: {one_line(exc.format_message())} (see '{cmd} --help' for an example)",  # type: ignore[attr-defined]
        err=True,
    )
    return int(exc.exit_code)  # type: ignore[attr-defined]
