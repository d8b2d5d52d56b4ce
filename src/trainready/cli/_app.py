"""The typer application: the commands and ``--version``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ._typer import Group

__all__ = ["app", "version_line"]


app = typer.Typer(
    cls=Group,
    name="trainready",
    help="Make a deep network ready to train, and prove it: normalization, initialization and "
    "signal diagnosis, gradient checking.\n\n"
    "[bold]Examples:[/bold] trainready demo --quick · trainready check model.py:make_problem · "
    "trainready doctor model.py:make_model · trainready normalize fit train.csv -o scaler.npz",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def version_line() -> str:
    """``trainready 0.1.0 (Python 3.12.3, NumPy 2.3.1, torch 2.13.0)``: read, nothing imported."""
    from importlib import metadata

    import numpy as np

    from .. import __version__

    parts = [f"Python {sys.version.split()[0]}", f"NumPy {np.__version__}"]
    for dist in ("torch", "typer", "rich"):
        try:
            parts.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            pass
    return f"trainready {__version__} ({', '.join(parts)})"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            "-V",
            callback=_print_version,
            is_eager=True,
            help="Print the version of trainready (and of Python, NumPy, PyTorch) and exit.",
        ),
    ] = False,
) -> None:
    pass


from . import _check, _demo, _doctor, _normalize  # noqa: E402

for _module in (_demo, _check, _doctor, _normalize):
    _module.register(app)
