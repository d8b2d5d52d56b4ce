"""The typer application: commands and the one-line error handling around them."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from ._common import UsageProblem, fail, one_line

__all__ = ["app"]

# typer >= 0.20 vendors click (typer._click); older versions use click itself. Find the usage
# error classes through the public typer.BadParameter either way.
_MRO = {c.__name__: c for c in typer.BadParameter.__mro__}
_UsageError: type[Exception] = _MRO["UsageError"]
_ClickException: type[Exception] = _MRO["ClickException"]


class _Group(TyperGroup):
    """Every usage error becomes one line on stderr (exit 2) instead of a usage box."""

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
            ctx = getattr(exc, "ctx", None)
            cmd = ctx.command_path if ctx is not None else "trainready"
            typer.echo(
                f"error: {one_line(exc.format_message())} (see '{cmd} --help' for an example)",  # type: ignore[attr-defined]
                err=True,
            )
            code = exc.exit_code  # type: ignore[attr-defined]
        except _ClickException as exc:
            typer.echo(f"error: {one_line(exc.format_message())}", err=True)  # type: ignore[attr-defined]
            code = exc.exit_code  # type: ignore[attr-defined]
        except typer.Abort:
            typer.echo("aborted", err=True)
            code = 130
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=_Group,
    name="trainready",
    help="Make a deep network ready to train, and prove it: normalization, initialization and "
    "signal diagnosis, gradient checking.",
    epilog="Examples: trainready demo --quick · trainready check model.py:make_problem · "
    "trainready doctor model.py:make_model · trainready normalize fit train.csv -o scaler.npz",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a command body; usage problems become one line and exit 2."""
    try:
        return fn(*args, **kwargs)
    except UsageProblem as exc:
        fail(str(exc))


from . import _check, _demo, _doctor, _normalize  # noqa: E402

_demo.register(app, _guard)
_check.register(app, _guard)
_doctor.register(app, _guard)
_normalize.register(app, _guard)
