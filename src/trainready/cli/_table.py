"""Data files for ``normalize``: ``.npy`` arrays and CSV files read as a CSV reader reads them.

A CSV file is read with Python's :mod:`csv` (quoted fields, quoted headers with commas, a UTF-8
byte-order mark); an optional header row is recognised when it holds a name where the next row
holds a number. Columns left out of the statistics (``--exclude``: labels, IDs) are kept as the
text they were and written back unchanged. Every error names the file, the row and column
(1-based, the header being row 1, as a spreadsheet counts) and the column's name.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from ._common import UsageProblem, describe

__all__ = ["Table", "Tick", "read_table"]

#: ``tick(done, total)``: rows read or written so far (for a progress bar).
Tick = Callable[[int, int], None]

_TICK_ROWS = 20_000


def _no_tick(done: int, total: int) -> None:
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Table:
    """One data file as read: every column, the header, and where each cell came from.

    Attributes:
        name: the file's name, for messages.
        header: every column's name, or None without a header row.
        cells: CSV files: the rows as text (``n_rows`` lists of ``n_columns`` strings).
        array: ``.npy`` files: the ``(n_rows, n_columns)`` array.
    """

    name: str
    header: tuple[str, ...] | None
    cells: list[list[str]] | None = None
    array: NDArray[Any] | None = None

    @property
    def n_rows(self) -> int:
        """Data rows (the header not counted)."""
        return len(self.cells) if self.cells is not None else int(self._arr.shape[0])

    @property
    def n_columns(self) -> int:
        """Columns, excluded ones included."""
        if self.cells is not None:
            return len(self.header) if self.header is not None else len(self.cells[0])
        return int(self._arr.shape[1])

    @property
    def _arr(self) -> NDArray[Any]:
        return cast(NDArray[Any], self.array)  # set whenever cells is None

    def label(self, j: int) -> str:
        """``"column 3 ('ratio')"``: 1-based, with the header's name when there is one."""
        name = f" ({self.header[j]!r})" if self.header is not None else ""
        return f"column {j + 1}{name}"

    def row_number(self, i: int) -> int:
        """The 1-based row of data row ``i`` in the file (the header is row 1)."""
        return i + (2 if self.header is not None else 1)

    def excluded(self, tokens: Sequence[str], option: str = "--exclude") -> tuple[int, ...]:
        """The column indices named by ``--exclude`` tokens (names, or 0-based indices without
        a header; a token may list several, comma-separated)."""
        picked: list[int] = []
        for token in tokens:
            parts = (
                [token] if self.header is not None and token in self.header else token.split(",")
            )
            for part in (p.strip() for p in parts):
                if not part:
                    continue
                picked.append(self._column_of(part, option))
        return tuple(sorted(set(picked)))

    def _column_of(self, part: str, option: str) -> int:
        if self.header is not None:
            hits = [j for j, h in enumerate(self.header) if h == part]
            if len(hits) > 1:
                raise UsageProblem(
                    f"{option} {part!r}: {self.name} has {len(hits)} columns named {part!r} "
                    f"(columns {', '.join(str(j + 1) for j in hits)}); rename them in the header"
                )
            if hits:
                return hits[0]
            shown = ", ".join(repr(h) for h in self.header[:12])
            more = f" and {len(self.header) - 12} more" if len(self.header) > 12 else ""
            raise UsageProblem(
                f"{option} {part!r}: {self.name} has no column named {part!r}; its header names "
                f"{shown}{more}"
            )
        if not part.lstrip("-").isdigit():
            raise UsageProblem(
                f"{option} {part!r}: {self.name} has no header row, so name columns by 0-based "
                f"index (0..{self.n_columns - 1}), e.g. {option} 0"
            )
        j = int(part)
        if not 0 <= j < self.n_columns:
            raise UsageProblem(
                f"{option} {part}: {self.name} has {self.n_columns} columns, 0-based indices "
                f"0..{self.n_columns - 1}"
            )
        return j

    def numeric(self, columns: Sequence[int], tick: Tick = _no_tick) -> NDArray[np.float64]:
        """The ``(n_rows, len(columns))`` float64 values of ``columns``; an empty cell is NaN.

        Raises:
            UsageProblem: a cell that is not a number, named by row, column and header name.
        """
        if self.cells is None:
            values = self._arr[:, list(columns)]
            if not np.issubdtype(values.dtype, np.number) or np.iscomplexobj(values):
                raise UsageProblem(
                    f"{self.name} holds {values.dtype} values; expected real numbers"
                )
            return np.array(values, dtype=np.float64)
        out = np.empty((self.n_rows, len(columns)), dtype=np.float64)
        for k, j in enumerate(columns):
            text = np.char.strip(np.array([row[j] for row in self.cells], dtype=str))
            text[text == ""] = "nan"
            try:
                out[:, k] = text.astype(np.float64)
            except ValueError:
                self._bad_cell(j)
            tick(k + 1, len(columns))
        return out

    def _bad_cell(self, j: int) -> None:
        for i, row in enumerate(self.cells or []):
            cell = row[j].strip()
            if cell and not _is_number(cell):
                hint = _separator_hint(cell)
                name = self.header[j] if self.header is not None else str(j)
                raise UsageProblem(
                    f"{self.name}: row {self.row_number(i)}, {self.label(j)} holds {cell!r}, "
                    f"not a number{hint}; fix the cell, or keep the column out of the statistics "
                    f"with --exclude {name!r} (labels, IDs)"
                )
        raise UsageProblem(f"{self.name}: {self.label(j)} holds values that are not numbers")

    def first_nonfinite(self, values: NDArray[np.float64], columns: Sequence[int]) -> str | None:
        """``"row 5, column 2 ('ratio') is empty; 3 missing or non-finite values in column(s)
        'ratio'"``, or None when every value is finite."""
        bad = ~np.isfinite(values)
        if not bad.any():
            return None
        i, k = (int(v) for v in np.argwhere(bad)[0])
        j = columns[k]
        if self.cells is not None:
            cell = self.cells[i][j].strip()
            what = "is empty" if not cell else f"holds {cell!r}"
        else:
            what = f"holds {values[i, k]!r}"
        cols = [self.label(columns[c]) for c in np.flatnonzero(bad.any(axis=0))[:5]]
        return (
            f"row {self.row_number(i)}, {self.label(j)} {what}; {int(bad.sum())} missing or "
            f"non-finite value(s) in {', '.join(cols)}"
        )

    def write(
        self, path: Path, columns: Sequence[int], Z: NDArray[Any], tick: Tick = _no_tick
    ) -> None:
        """Write every column, ``columns`` replaced by ``Z``, the others as they were read.

        CSV numbers are written as the shortest text that reads back to the same float
        (``13.78``, not ``13.779999999999999``). The file appears whole or not at all: it is
        written to a temporary file in the same folder, then renamed over ``path``.
        """
        if path.suffix.lower() == ".npy":
            self._write_npy(path, columns, Z)
        else:
            self._write_csv(path, columns, Z, tick)

    def _write_npy(self, path: Path, columns: Sequence[int], Z: NDArray[Any]) -> None:
        if self.cells is not None:
            rest = [j for j in range(self.n_columns) if j not in set(columns)]
            try:
                full = np.empty((self.n_rows, self.n_columns), dtype=np.float64)
                if rest:
                    full[:, rest] = self.numeric(rest)
            except UsageProblem:
                raise UsageProblem(
                    f"--out {path.name}: the excluded columns of {self.name} hold text, which "
                    "a .npy file cannot keep; write a .csv file instead"
                ) from None
        else:
            full = np.array(self._arr, dtype=np.result_type(self._arr.dtype, Z.dtype))
        full[:, list(columns)] = Z
        _replace(path, lambda fh: np.save(fh, full, allow_pickle=False), binary=True)

    def _write_csv(self, path: Path, columns: Sequence[int], Z: NDArray[Any], tick: Tick) -> None:
        pos = {j: k for k, j in enumerate(columns)}
        if Z.dtype == np.float64:
            scaled: list[list[Any]] = [[repr(v) for v in row] for row in Z.tolist()]
        else:  # NumPy's str is the shortest round trip in the value's own precision
            scaled = [[str(v) for v in row] for row in Z]
        if self.cells is not None:
            source = self.cells
        else:
            source = [[str(v) for v in row] for row in self._arr]

        def emit(fh: Any) -> None:
            writer = csv.writer(fh, lineterminator="\n")
            if self.header is not None:
                writer.writerow(self.header)
            for i, (row, new) in enumerate(zip(source, scaled, strict=True)):
                writer.writerow([new[pos[j]] if j in pos else row[j] for j in range(len(row))])
                if i % _TICK_ROWS == 0:
                    tick(i, self.n_rows)
            tick(self.n_rows, self.n_rows)

        _replace(path, emit, binary=False)


def _replace(path: Path, emit: Callable[[Any], None], *, binary: bool) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with (
            os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")
        ) as fh:
            emit(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _separator_hint(text: str) -> str:
    sep = next((s for s in (";", "\t", "|") if s in text), None)
    if sep is None:
        return ""
    return f" (the file looks separated by {sep!r}; trainready reads comma-separated files)"


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        byte = raw[exc.start : exc.start + 1].hex()
        raise UsageProblem(
            f"{path.name} is not UTF-8 text (byte 0x{byte} on line {line}; Latin-1 or Windows "
            f"encoding?); convert it first, e.g. iconv -f latin1 -t utf-8 {path.name} > "
            f"{path.stem}.utf8.csv"
        ) from None


def _has_header(first: list[str], second: list[str] | None) -> bool:
    names = [j for j, c in enumerate(first) if c.strip() and not _is_number(c.strip())]
    if not names:
        return False
    if second is None:
        return True
    return any(j < len(second) and _is_number(second[j].strip()) for j in names)


def _read_csv(path: Path, tick: Tick) -> Table:
    text = _decode(path, path.read_bytes())
    total = max(text.count("\n"), 1)
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            if row:
                rows.append(row)
            if reader.line_num % _TICK_ROWS == 0:
                tick(reader.line_num, total)
    except csv.Error as exc:
        raise UsageProblem(
            f"{path.name}: line {reader.line_num} is not valid CSV ({exc}); check the quotes"
        ) from None
    tick(total, total)
    if not rows:
        raise UsageProblem(f"{path.name} is empty; expected rows of numbers")
    header: tuple[str, ...] | None = None
    if _has_header(rows[0], rows[1] if len(rows) > 1 else None):
        header = tuple(c.strip() or f"column {j + 1}" for j, c in enumerate(rows[0]))
        rows = rows[1:]
    if not rows:
        raise UsageProblem(f"{path.name} holds a header row and no data; expected rows of numbers")
    width = len(header) if header is not None else len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            n = i + (2 if header is not None else 1)
            like = "the header" if header is not None else "row 1"
            raise UsageProblem(
                f"{path.name}: row {n} has {len(row)} field(s), {like} has {width}"
                f"{_separator_hint(','.join(rows[0]))}; quote fields that contain commas "
                '("a, b")'
            )
    return Table(path.name, header, cells=rows)


def _read_npy(path: Path) -> Table:
    try:
        X = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise UsageProblem(
            f"cannot read {path.name} as a NumPy .npy file ({describe(exc)}); save it with "
            "numpy.save"
        ) from None
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise UsageProblem(
            f"{path.name} holds an array of shape {X.shape}; expected rows of samples, "
            "(n_samples, n_features)"
        )
    return Table(path.name, None, array=X)


def read_table(path_text: str, tick: Tick = _no_tick) -> Table:
    """Read a ``.npy`` array or a ``.csv`` file (see the module docstring).

    Args:
        path_text: the path as the user typed it.
        tick: ``tick(done, total)`` as the file is parsed (lines of a CSV file).

    Returns:
        A :class:`Table`; ``table.numeric(columns)`` gives the numbers of some columns.

    Raises:
        UsageProblem: a missing file, another extension, text that is not UTF-8, rows of
            different lengths, an empty file.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.csv"
        >>> _ = p.write_text('id,"size, cm"\\nA,"51.2"\\nB,49\\n')
        >>> t = read_table(str(p))
        >>> t.header, t.numeric([1]).ravel().tolist()
        (('id', 'size, cm'), [51.2, 49.0])
    """
    path = Path(path_text).expanduser()
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise UsageProblem(f"data file {path_text!r} {what}; pass a .npy or .csv file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _read_npy(path)
    if suffix == ".csv":
        return _read_csv(path, tick)
    raise UsageProblem(
        f"{path.name}: unsupported extension {suffix or '(none)'!r}; use .npy or .csv"
    )
