"""``trainready normalize fit|transform``: fit a scaler on a data file, apply it to others."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from ._common import UsageProblem, check_out_file, describe, guard, one_line, print_notes
from ._progress import file_bar
from ._table import Table, read_table
from ._typer import Command, Group

FIT_EXAMPLE = "trainready normalize fit train.csv --exclude id,label --out scaler.npz"
TRANSFORM_EXAMPLE = (
    "trainready normalize transform test.csv --scaler scaler.npz --out test_scaled.csv"
)
_NAMES_WARNING = "X does not have valid feature names"


class Kind(StrEnum):
    standard = "standard"
    minmax = "minmax"


class NanPolicy(StrEnum):
    raise_ = "raise"
    omit = "omit"


@dataclass(frozen=True)
class Fitted:
    """What ``normalize fit`` did: the scaler, the audit of the data, where it was saved."""

    scaler: Any
    audit: Any
    path: Path
    table: Table
    columns: tuple[int, ...]


def _read(data: str) -> Table:
    path = Path(data).expanduser()
    size = path.stat().st_size if path.is_file() else 0
    with file_bar(size, f"reading {path.name}") as tick:
        return read_table(data, tick)


def _kept(table: Table, exclude: list[str]) -> tuple[int, ...]:
    dropped = set(table.excluded(exclude))
    kept = tuple(j for j in range(table.n_columns) if j not in dropped)
    if not kept:
        raise UsageProblem(
            f"--exclude leaves no column of {table.name} to scale; exclude only labels and IDs"
        )
    return kept


def _values(table: Table, kept: tuple[int, ...], nan_policy: str, fix: str) -> np.ndarray:
    values = table.numeric(kept)
    if nan_policy == "raise":
        where = table.first_nonfinite(values, kept)
        if where is not None:
            raise UsageProblem(f"{table.name}: {where}; {fix}")
    return values


def _fit(
    data: str,
    out: str,
    kind: str,
    feature_range: tuple[float, float] | None,
    exclude: list[str],
    nan_policy: str,
) -> Fitted:
    from ..normalize import MinMaxScaler, StandardScaler, audit

    out_path = check_out_file("--out", out, (".npz", ".json"))
    if feature_range is not None and kind != "minmax":
        raise UsageProblem(
            f"--range {feature_range[0]:g} {feature_range[1]:g} applies to --kind minmax only; "
            "add --kind minmax, or drop --range for standardization"
        )
    low, high = feature_range if feature_range is not None else (0.0, 1.0)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise UsageProblem(f"--range: expected finite MIN < MAX, got {low:g} {high:g}")
    table = _read(data)
    kept = _kept(table, exclude)
    values = _values(
        table,
        kept,
        nan_policy,
        "clean or impute them, or pass --nan-policy omit to fit around them (they then pass "
        "through transform unchanged)",
    )
    names = [table.header[j] for j in kept] if table.header is not None else None
    scaler = (
        StandardScaler(nan_policy=nan_policy)
        if kind == "standard"
        else MinMaxScaler(feature_range=(low, high), nan_policy=nan_policy)
    )
    try:
        scaler.fit(values)
        if names is not None:  # as a DataFrame fit would: transform then selects by name
            scaler.feature_names_in_ = np.asarray(names, dtype=object)
    except (ValueError, TypeError) as exc:
        raise UsageProblem(f"{table.name}: {one_line(str(exc))}") from None
    try:
        scaler.save(out_path)
    except OSError as exc:
        raise UsageProblem(f"--out {str(out_path)!r}: saving failed ({describe(exc)})") from None
    return Fitted(scaler, audit(values, feature_names=names), out_path, table, kept)


def _transform_columns(table: Table, scaler: Any, exclude: list[str]) -> tuple[int, ...]:
    names = getattr(scaler, "feature_names_in_", None)
    dropped = set(table.excluded(exclude))
    if names is not None and table.header is not None:
        missing = [str(n) for n in names if str(n) not in table.header]
        if missing:
            raise UsageProblem(
                f"{table.name} has no column {', '.join(repr(m) for m in missing[:5])}, which the "
                "scaler was fitted on; pass a file with the training columns"
            )
        kept = tuple(table.header.index(str(n)) for n in names)
        clash = sorted(dropped & set(kept))
        if clash:
            raise UsageProblem(
                f"--exclude {', '.join(repr(table.header[j]) for j in clash)}: the scaler was "
                "fitted on these columns; exclude only columns it was not fitted on"
            )
        return kept
    kept = tuple(j for j in range(table.n_columns) if j not in dropped)
    n_in = int(scaler.n_features_in_)
    if len(kept) != n_in:
        raise UsageProblem(
            f"{table.name} has {len(kept)} column(s) to scale"
            + (f" after --exclude ({len(dropped)} left out)" if dropped else "")
            + f", but the scaler was fitted on {n_in}; pass the same --exclude as at fit"
        )
    return kept


def _transform(
    data: str, scaler_path: str, out: str | None, inverse: bool, exclude: list[str]
) -> tuple[Path, Table, tuple[int, ...]]:
    from ..errors import FormatError
    from ..normalize import load

    path = Path(scaler_path).expanduser()
    if not path.is_file():
        raise UsageProblem(
            f"scaler file {scaler_path!r} does not exist; create it first: {FIT_EXAMPLE}"
        )
    src = Path(data).expanduser()
    target = out or str(
        src.with_name(src.stem + (".restored" if inverse else ".scaled") + src.suffix)
    )
    out_path = check_out_file("--out", target, (".npy", ".csv"))
    try:
        scaler = load(path)
    except (FormatError, ValueError, OSError) as exc:
        raise UsageProblem(f"{path.name}: {one_line(str(exc))}") from None
    table = _read(data)
    kept = _transform_columns(table, scaler, exclude)
    values = _values(
        table,
        kept,
        scaler.nan_policy,
        "the scaler was fitted with --nan-policy raise: clean the file, or refit with "
        "--nan-policy omit to pass them through",
    )
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_NAMES_WARNING)  # columns chosen by name
            Z = scaler.inverse_transform(values) if inverse else scaler.transform(values)
    except (ValueError, TypeError) as exc:
        raise UsageProblem(f"{table.name}: {one_line(str(exc))}") from None
    try:
        with file_bar(src.stat().st_size, f"writing {out_path.name}") as tick:
            table.write(out_path, kept, np.asarray(Z), tick)
    except OSError as exc:
        raise UsageProblem(
            f"--out {str(out_path)!r}: writing failed ({describe(exc)}); nothing was changed "
            "there (the file is replaced only once it is complete)"
        ) from None
    return out_path, table, kept


def _excluded_text(table: Table, kept: tuple[int, ...]) -> str:
    rest = [j for j in range(table.n_columns) if j not in set(kept)]
    if not rest:
        return ""
    names = [repr(table.header[j]) if table.header else str(j) for j in rest]
    return f" ({len(rest)} column(s) passed through unscaled: {', '.join(names[:8])})"


_EXCLUDE_HELP = (
    "Columns kept out of the statistics and passed through unchanged (labels, IDs): header "
    "names, or 0-based indices for a file without a header; repeat or separate with commas."
)


def register(app: typer.Typer) -> None:
    """Add the ``normalize`` command group (``fit``, ``transform``) to ``app``."""
    group = typer.Typer(
        cls=Group,
        help="Fit a scaler on training data (.npy or .csv) and apply it to other files.\n\n"
        f"[bold]Example:[/bold] {FIT_EXAMPLE}; then {TRANSFORM_EXAMPLE}",
        no_args_is_help=True,
        rich_markup_mode="rich",
    )

    @group.command(
        "fit",
        cls=Command,
        help="Fit a StandardScaler (or MinMaxScaler) on a training file and save it (.npz or "
        "JSON, no pickle); prints the input audit of the file. A CSV file may have one header "
        "row; errors name the row and column (1-based, the header is row 1).\n\n"
        f"[bold]Example:[/bold] {FIT_EXAMPLE} (or --kind minmax --range -1 1)",
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
            tuple[float, float] | None,
            typer.Option(
                "--range", metavar="MIN MAX", help="Target range of --kind minmax (default: 0 1)."
            ),
        ] = None,
        exclude: Annotated[
            list[str] | None, typer.Option("--exclude", "-x", metavar="NAME", help=_EXCLUDE_HELP)
        ] = None,
        nan_policy: Annotated[
            NanPolicy,
            typer.Option(
                "--nan-policy",
                help="raise: refuse empty, NaN or inf cells (naming the first); omit: fit around "
                "them, and pass them through transform.",
            ),
        ] = NanPolicy.raise_,
    ) -> None:
        res, notes = guard(
            _fit, data, out, kind.value, feature_range, exclude or [], nan_policy.value
        )
        n = res.table.n_rows
        typer.echo(
            f"fitted {type(res.scaler).__name__} on {n} rows x {len(res.columns)} features of "
            f"{res.table.name}{_excluded_text(res.table, res.columns)}; saved to {res.path}"
        )
        typer.echo(str(res.audit))
        print_notes(notes)

    @group.command(
        "transform",
        cls=Command,
        help="Scale a file with a saved scaler (the training statistics) and write the result "
        "(.npy or .csv, the header and the excluded columns kept as they were).\n\n"
        f"[bold]Example:[/bold] {TRANSFORM_EXAMPLE} (--inverse undoes it)",
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
        exclude: Annotated[
            list[str] | None,
            typer.Option(
                "--exclude",
                "-x",
                metavar="NAME",
                help="As at fit (not needed for a CSV header: the scaler knows its columns).",
            ),
        ] = None,
    ) -> None:
        (path, table, kept), notes = guard(_transform, data, scaler, out, inverse, exclude or [])
        typer.echo(
            f"wrote {table.n_rows} rows x {table.n_columns} columns to {path}"
            f"{_excluded_text(table, kept)}"
        )
        print_notes(notes)

    app.add_typer(group, name="normalize")
