"""``trainready normalize fit|transform``: fit a scaler on a data file, apply it to others."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from ._common import UsageProblem, one_line, read_table, write_table

FIT_EXAMPLE = "trainready normalize fit train.csv --out scaler.npz"
TRANSFORM_EXAMPLE = (
    "trainready normalize transform test.csv --scaler scaler.npz --out test_scaled.csv"
)


class Kind(StrEnum):
    standard = "standard"
    minmax = "minmax"


def _fit(data: str, out: str, kind: str, low: float, high: float) -> tuple[Any, Any, Path, Any]:
    from ..normalize import MinMaxScaler, StandardScaler, audit

    X, _ = read_table(data)
    out_path = Path(out).expanduser()
    if out_path.suffix.lower() not in (".npz", ".json"):
        raise UsageProblem(f"--out {out!r}: save the scaler as .npz or .json")
    if not out_path.parent.exists():
        raise UsageProblem(f"--out {out!r}: the folder {str(out_path.parent)!r} does not exist")
    if kind == "minmax" and not low < high:
        raise UsageProblem(f"--range: expected MIN < MAX, got {low:g} {high:g}")
    scaler = StandardScaler() if kind == "standard" else MinMaxScaler(feature_range=(low, high))
    try:
        scaler.fit(X)
        scaler.save(out_path)
    except (ValueError, TypeError, OSError) as exc:
        raise UsageProblem(f"{Path(data).name}: {one_line(str(exc))}") from None
    return scaler, audit(X), out_path, X.shape


def _transform(data: str, scaler_path: str, out: str | None, inverse: bool) -> tuple[Path, Any]:
    from ..errors import FormatError
    from ..normalize import load

    path = Path(scaler_path).expanduser()
    if not path.is_file():
        raise UsageProblem(
            f"scaler file {scaler_path!r} does not exist; create it first: {FIT_EXAMPLE}"
        )
    try:
        scaler = load(path)
    except (FormatError, ValueError, OSError) as exc:
        raise UsageProblem(f"{path.name}: {one_line(str(exc))}") from None
    X, header = read_table(data)
    try:
        Z = scaler.inverse_transform(X) if inverse else scaler.transform(X)
    except (ValueError, TypeError) as exc:
        raise UsageProblem(f"{Path(data).name}: {one_line(str(exc))}") from None
    src = Path(data)
    target = out or str(
        src.with_name(src.stem + (".restored" if inverse else ".scaled") + src.suffix)
    )
    written = write_table(target, np.asarray(Z), header)
    return written, Z.shape


def register(app: typer.Typer, guard: Callable[..., Any]) -> None:
    """Add the ``normalize`` command group (``fit``, ``transform``) to ``app``."""
    group = typer.Typer(
        help="Fit a scaler on training data (.npy or .csv) and apply it to other files.\n\n"
        f"[bold]Example:[/bold] {FIT_EXAMPLE}; then {TRANSFORM_EXAMPLE}",
        no_args_is_help=True,
        rich_markup_mode="rich",
    )

    @group.command(
        "fit",
        help="Fit a StandardScaler (or MinMaxScaler) on a training file and save it (.npz or "
        "JSON, no pickle); prints the input audit of the file.\n\n"
        f"[bold]Example:[/bold] {FIT_EXAMPLE}",
        epilog="Example: trainready normalize fit train.npy --kind minmax --range -1 1 "
        "--out scaler.json",
    )
    def fit(
        data: Annotated[str, typer.Argument(metavar="DATA", help="Training data, .npy or .csv.")],
        out: Annotated[
            str, typer.Option("--out", "-o", help="Where to save the scaler (.npz or .json).")
        ] = "scaler.npz",
        kind: Annotated[
            Kind, typer.Option("--kind", help="standard (mean 0, std 1) or minmax.")
        ] = Kind.standard,
        feature_range: Annotated[
            tuple[float, float],
            typer.Option("--range", metavar="MIN MAX", help="Target range of minmax."),
        ] = (0.0, 1.0),
    ) -> None:
        scaler, report, path, shape = guard(
            _fit, data, out, kind.value, feature_range[0], feature_range[1]
        )
        typer.echo(
            f"fitted {type(scaler).__name__} on {shape[0]} rows x {shape[1]} features of "
            f"{Path(data).name}; saved to {path}"
        )
        typer.echo(str(report))

    @group.command(
        "transform",
        help="Scale a file with a saved scaler (the training statistics) and write the result "
        "(.npy or .csv, the header kept).\n\n"
        f"[bold]Example:[/bold] {TRANSFORM_EXAMPLE}",
        epilog=f"Example: {TRANSFORM_EXAMPLE}",
    )
    def transform(
        data: Annotated[str, typer.Argument(metavar="DATA", help="Data to scale, .npy or .csv.")],
        scaler: Annotated[
            str, typer.Option("--scaler", "-s", help="A scaler saved by 'normalize fit'.")
        ] = "scaler.npz",
        out: Annotated[
            str | None,
            typer.Option("--out", "-o", help="Output file (default: DATA.scaled.<ext>)."),
        ] = None,
        inverse: Annotated[
            bool, typer.Option("--inverse", help="Undo the scaling instead.")
        ] = False,
    ) -> None:
        path, shape = guard(_transform, data, scaler, out, inverse)
        typer.echo(f"wrote {shape[0]} rows x {shape[1]} features to {path}")

    app.add_typer(group, name="normalize")
