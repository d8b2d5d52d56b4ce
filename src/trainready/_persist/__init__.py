"""One versioned persistence container for every object trainready saves (npz or JSON, no pickle).

Objects enter through ``to_state()`` (a :class:`State`: format tag, version, JSON-able meta and
named arrays) and come back through ``from_state(state)``. This package owns everything in
between, for both formats and every object:

- the file name rule: ``.npz`` or ``.json`` by suffix; no suffix means ``.npz`` appended on save,
  and on load ``path`` is tried first, then ``path + ".npz"`` — so one path round-trips;
- atomic saves (temporary file beside the destination, fsync, ``os.replace``): a failed save
  leaves the old file and no debris;
- one version rule (an int in ``1..current``; a newer one says "upgrade") and a SHA-256 checksum
  of header and arrays;
- loading that trusts nothing: only expected members, dtypes from a short whitelist, shapes and
  sizes compared with the object's own configuration before allocating, strict JSON. Every
  malformed file is a :class:`~trainready.errors.FormatError`, never a MemoryError, KeyError,
  RecursionError or a silently different number.

Example:
    >>> import numpy as np, tempfile, os
    >>> from trainready._persist import ArraySpec, State, load, save
    >>> folder = tempfile.mkdtemp()
    >>> written = save(State("demo", 1, {"n": 3}, {"w": np.arange(3.0)}), os.path.join(folder, "d"))
    >>> written.name
    'd.npz'
    >>> spec = lambda header: {"w": ArraySpec((header.meta["n"],), (np.dtype("<f8"),))}
    >>> load(os.path.join(folder, "d"), kind="demo", what="demo", current=1, specs=spec).arrays
    {'w': array([0., 1., 2.])}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from ..errors import FormatError
from ._atomic import write_atomic
from ._container import (
    MAX_CHARS,
    ArraySpec,
    Header,
    SpecFunction,
    State,
    bad_file,
    check_array,
    check_version,
    checksum,
)
from ._json import MAX_JSON_BYTES, encode_json, read_json
from ._npz import read_npz, write_npz

__all__ = [
    "MAX_CHARS",
    "MAX_JSON_BYTES",
    "ArraySpec",
    "FormatError",
    "Header",
    "SpecFunction",
    "State",
    "bad_file",
    "check_array",
    "check_version",
    "checksum",
    "load",
    "load_path",
    "save",
    "save_path",
]

_FORMATS = {".npz": "npz", ".json": "json"}


def save_path(path: str | os.PathLike[str], format: str | None = None) -> tuple[Path, str]:
    """The file a save writes and its format: by suffix, ``.npz`` appended when there is none.

    Raises:
        ValueError: ``format`` is not "npz"/"json", contradicts the suffix, or the suffix is
            neither (and no ``format`` says which).
        FileNotFoundError: the folder does not exist. IsADirectoryError: ``path`` is a folder.

    Example:
        >>> save_path("model")
        (PosixPath('model.npz'), 'npz')
        >>> save_path("scaler.JSON")
        (PosixPath('scaler.JSON'), 'json')
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path: expected a file name (str or Path); got {type(path).__name__}.")
    if format is not None and format not in ("npz", "json"):
        raise ValueError(f"format: expected 'npz' or 'json'; got {format!r}.")
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"path: {str(p)!r} is a folder; give a file name inside it.")
    suffix = p.suffix.lower()
    if suffix in _FORMATS:
        kind = _FORMATS[suffix]
        if format is not None and format != kind:
            raise ValueError(
                f"format: {format!r} contradicts the suffix of {str(p)!r}; drop format= or name "
                f"the file .{format}."
            )
    elif suffix == "":
        kind = format or "npz"
        p = p.with_name(p.name + "." + kind)
    elif format is not None:
        kind = format
    else:
        raise ValueError(
            f"path: cannot tell the format of {str(p)!r} from its suffix {suffix!r}; expected a "
            ".npz or .json file name (or none: .npz is added), or pass format='npz' / 'json'."
        )
    if p.is_dir():
        raise IsADirectoryError(f"path: {str(p)!r} is a folder; give a file name inside it.")
    if not p.parent.is_dir():
        raise FileNotFoundError(
            f"path: the folder {str(p.parent)!r} of {str(p)!r} does not exist; create it first."
        )
    return p, kind


def load_path(path: str | os.PathLike[str]) -> Path:
    """The file a load reads: ``path`` itself, else ``path + ".npz"`` when it has no suffix.

    Raises:
        FileNotFoundError: neither exists (the message names both).
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path: expected a file name (str or Path); got {type(path).__name__}.")
    p = Path(path)
    if p.is_file():
        return p
    if p.is_dir():
        raise IsADirectoryError(f"path: {str(p)!r} is a folder, not a saved file.")
    if p.suffix == "":
        npz = p.with_name(p.name + ".npz")
        if npz.is_file():
            return npz
        raise FileNotFoundError(f"no file {str(p)!r} (nor {str(npz)!r}); check the path.")
    raise FileNotFoundError(f"no file {str(p)!r}; check the path.")


def _write_bytes(fh: IO[bytes], data: bytes) -> None:
    fh.write(data)


def save(state: State, path: str | os.PathLike[str], *, format: str | None = None) -> Path:
    """Write ``state`` atomically to ``path`` (npz or JSON, see :func:`save_path`).

    Returns:
        The path written (with ``.npz`` appended when ``path`` had no suffix).

    Raises:
        ValueError: a JSON file would exceed ``MAX_JSON_BYTES`` (save as .npz), or see
            :func:`save_path`. OSError: the write failed; the old file is unchanged.
    """
    p, kind = save_path(path, format)
    if kind == "json":
        data = encode_json(state)
        if len(data) > MAX_JSON_BYTES:
            raise ValueError(
                f"path: the JSON of this object would take {len(data) / 2**20:.0f} MiB, more than "
                f"the {MAX_JSON_BYTES >> 20} MiB a JSON file may hold; save it as .npz instead."
            )
        write_atomic(p, lambda fh: _write_bytes(fh, data))
    else:
        write_atomic(p, lambda fh: write_npz(fh, state))
    return p


def load(
    path: str | os.PathLike[str],
    *,
    kind: str,
    what: str,
    current: int,
    specs: SpecFunction,
    unchecked: frozenset[int] = frozenset({1}),
) -> State:
    """Read a container (npz or JSON, told apart by content) and check it completely.

    Args:
        path: the file (see :func:`load_path`).
        kind: the expected format tag.
        what: the object in words for messages ("scaler", "network").
        current: the newest version this code reads.
        specs: validates the header's meta and returns the arrays the file must hold.
        unchecked: versions written before the checksum existed.

    Raises:
        FileNotFoundError: no such file. FormatError: anything wrong with its content.
    """
    p = load_path(path)
    try:
        fh = open(p, "rb")
    except OSError as exc:
        raise OSError(exc.errno, f"cannot read {str(p)!r}: {exc.strerror}") from exc
    with fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(4)
        fh.seek(0)
        if head[:2] == b"PK":
            return read_npz(fh, size, p, what, kind, current, specs, unchecked)
        if size > MAX_JSON_BYTES:
            raise bad_file(
                p,
                what,
                f"it is {size} bytes, neither an npz archive nor a JSON file of at most "
                f"{MAX_JSON_BYTES} bytes",
            )
        raw = fh.read(MAX_JSON_BYTES + 1)
    return read_json(raw, p, what, kind, current, specs, unchecked)
