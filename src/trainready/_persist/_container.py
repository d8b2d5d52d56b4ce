"""The versioned container every saved object goes through: its state, its rules, its errors.

An object enters a file as a :class:`State`: a format tag (``"trainready.scaler"``), an integer
version, a JSON-able ``meta`` mapping (configuration and scalars) and named NumPy arrays. A file
holds one header ``{"format": ..., "version": ..., "sha256": ..., **meta}`` and the arrays; the
checksum covers the header and every array's bytes, so a flipped bit is a :class:`FormatError`,
never a different number. Before any array is allocated, its declared dtype and shape are compared
with an :class:`ArraySpec` that the object derives from its own (validated) ``meta``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import FormatError

__all__ = [
    "RESERVED",
    "ArraySpec",
    "Header",
    "SpecFunction",
    "State",
    "bad_file",
    "check_version",
    "checksum",
    "parse_dtype",
]

RESERVED = frozenset({"format", "version", "sha256", "arrays"})
"""Top-level header keys owned by the container; everything else is the object's ``meta``."""

# A short whitelist: what trainready writes. Anything else (object, bytes "S1000000000",
# big-endian, structured) is refused before NumPy is asked to build it.
_NAMED: dict[str, np.dtype[Any]] = {
    "float64": np.dtype("<f8"),
    "float32": np.dtype("<f4"),
    "int64": np.dtype("<i8"),
}
_DTYPE_RE = re.compile(r"^[<|=]?(f8|f4|i8|U(\d{1,9}))$")
MAX_CHARS = 4096
"""Longest string a saved text array may hold (feature names)."""


@dataclass(frozen=True)
class State:
    """What an object saves: ``to_state()`` returns one, ``from_state(state)`` takes one.

    Attributes:
        kind: the format tag, e.g. ``"trainready.scaler"`` or ``"trainready.nn.MLP"``.
        version: the object's format version (an int >= 1).
        meta: JSON-able configuration (str, bool, int, finite float, None, lists, dicts); its
            keys must not be ``format``, ``version``, ``sha256`` or ``arrays``.
        arrays: name -> array (float64/float32/int64 or unicode, any shape).

    Example:
        >>> import numpy as np
        >>> s = State("demo", 1, {"n": 2}, {"w": np.zeros(2)})
        >>> s.kind, s.version, sorted(s.arrays)
        ('demo', 1, ['w'])
    """

    kind: str
    version: int
    meta: Mapping[str, Any]
    arrays: Mapping[str, NDArray[Any]] = field(default_factory=dict)

    def header(self) -> dict[str, Any]:
        """The header without the checksum: ``{"format", "version", **meta}``."""
        clash = RESERVED & set(self.meta)
        if clash:
            raise ValueError(f"state meta: keys {sorted(clash)} are reserved by the container.")
        return {"format": self.kind, "version": self.version, **self.meta}


@dataclass(frozen=True)
class ArraySpec:
    """What one saved array must be, derived from the object's own configuration.

    Attributes:
        shape: the exact shape.
        dtypes: accepted dtypes (little-endian), e.g. ``(np.dtype("<f8"),)``; a unicode dtype
            ``<U`` here accepts any length up to ``MAX_CHARS``.
        required: False for an optional array (e.g. feature names).
    """

    shape: tuple[int, ...]
    dtypes: tuple[np.dtype[Any], ...]
    required: bool = True

    def nbytes_limit(self) -> int:
        """The most bytes the array may take (unicode at its longest allowed length)."""
        n = 1
        for d in self.shape:
            n *= d
        widest = max(4 * MAX_CHARS if dt.kind == "U" else dt.itemsize for dt in self.dtypes)
        return n * widest

    def accepts(self, dtype: np.dtype[Any]) -> bool:
        """True when ``dtype`` is one of :attr:`dtypes` (unicode: any allowed length)."""
        for dt in self.dtypes:
            if dt.kind == "U" and dtype.kind == "U" and dtype.byteorder in "<|=":
                if 0 < dtype.itemsize // 4 <= MAX_CHARS:
                    return True
            elif dtype == dt and dtype.kind != "U":
                return True
        return False

    def describe(self) -> str:
        names = ", ".join("unicode text" if d.kind == "U" else d.name for d in self.dtypes)
        return f"{names} of shape {self.shape}"


@dataclass(frozen=True)
class Header:
    """A file's header, parsed: format tag, version and the object's meta (checksum apart)."""

    kind: str
    version: int
    meta: Mapping[str, Any]
    sha256: str | None = None


SpecFunction = Callable[[Header], Mapping[str, ArraySpec]]
"""Validates a header's meta (raising FormatError) and says which arrays the file must hold."""


def bad_file(path: Any, what: str, why: str, fix: str | None = None) -> FormatError:
    """A :class:`FormatError` naming the file, what it should be, what is wrong and the fix."""
    fix = fix or f"Re-create it with save() from this trainready version (a {what})."
    return FormatError(
        f"{str(path)!r} is not a trainready {what} file, or is damaged: {why}. {fix}"
    )


def check_version(path: Any, what: str, version: Any, current: int) -> int:
    """The one version rule of every format: an int in ``1..current``; newer is "upgrade"."""
    if isinstance(version, bool) or not isinstance(version, int):
        raise bad_file(path, what, f"its format version is {version!r}, not an integer")
    if version > current:
        raise FormatError(
            f"{str(path)!r} has {what} format version {version}, newer than this trainready "
            f"understands (1..{current}); upgrade trainready to read it."
        )
    if version < 1:
        raise bad_file(path, what, f"its format version is {version}, expected 1..{current}")
    return version


def parse_dtype(text: Any) -> np.dtype[Any] | None:
    """A whitelisted dtype from its saved name (``"float64"``, ``"<f8"``, ``"<U12"``), else None.

    Example:
        >>> parse_dtype("float64"), parse_dtype("S1000000000")
        (dtype('float64'), None)
    """
    if not isinstance(text, str) or len(text) > 16:
        return None
    if text in _NAMED:
        named: np.dtype[Any] = _NAMED[text]
        return named
    m = _DTYPE_RE.match(text)
    if m is None:
        return None
    if m.group(2) is not None:
        chars = int(m.group(2))
        return np.dtype(f"<U{chars}") if 0 < chars <= MAX_CHARS else None
    return np.dtype("<" + m.group(1))


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def checksum(header: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> str:
    """SHA-256 of the header (canonical JSON, without ``sha256``) and every array's bytes.

    Example:
        >>> import numpy as np
        >>> a = checksum({"format": "x", "version": 1}, {"w": np.zeros(2)})
        >>> a == checksum({"version": 1, "format": "x"}, {"w": np.zeros(2)}), len(a)
        (True, 64)
    """
    h = hashlib.sha256()
    h.update(_canonical({k: v for k, v in header.items() if k != "sha256"}))
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        le = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
        h.update(_canonical([name, le.str, list(arr.shape)]))
        h.update(arr.astype(le, copy=False).tobytes())
    return h.hexdigest()


def split_header(path: Any, what: str, doc: Any, kind: str, current: int) -> Header:
    """Check the container keys of a parsed header; the rest is the object's meta."""
    if not isinstance(doc, dict):
        raise bad_file(path, what, f"its header is a {type(doc).__name__}, not a JSON object")
    if "format" not in doc:
        raise bad_file(path, what, "its header has no 'format' tag")
    if doc["format"] != kind:
        raise bad_file(path, what, f"its format tag is {doc['format']!r}, not {kind!r}")
    if "version" not in doc:
        raise bad_file(path, what, "its header has no 'version'")
    version = check_version(path, what, doc["version"], current)
    sha = doc.get("sha256")
    if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise bad_file(path, what, "its 'sha256' is not a 64-digit hex checksum")
    meta = {k: v for k, v in doc.items() if k not in RESERVED}
    return Header(kind, version, meta, sha)


def verify(
    path: Any,
    what: str,
    header: Header,
    arrays: Mapping[str, NDArray[Any]],
    unchecked: frozenset[int],
) -> None:
    """Compare the checksum; only the versions in ``unchecked`` (written before it) may lack it."""
    if header.sha256 is None:
        if header.version in unchecked:
            return
        raise bad_file(
            path, what, f"its header has no 'sha256' (required in version {header.version})"
        )
    doc = {"format": header.kind, "version": header.version, **header.meta}
    if checksum(doc, arrays) != header.sha256:
        raise bad_file(
            path,
            what,
            "its checksum does not match its content (the file was changed or damaged after "
            "it was written)",
            "Restore it from a backup or save it again.",
        )


def check_specs(path: Any, what: str, specs: Mapping[str, ArraySpec], names: set[str]) -> None:
    """Refuse unknown arrays and missing required ones (before any is read)."""
    unknown = sorted(names - set(specs))
    if unknown:
        raise bad_file(
            path,
            what,
            f"it holds unexpected entries {unknown[:5]} (expected only {sorted(specs)})",
        )
    missing = sorted(k for k, s in specs.items() if s.required and k not in names)
    if missing:
        raise bad_file(path, what, f"it lacks the entries {missing}")


def check_array(path: Any, what: str, name: str, spec: ArraySpec, arr: NDArray[Any]) -> None:
    """One array against its spec (for states built in memory and handed to from_state)."""
    if not isinstance(arr, np.ndarray) or not spec.accepts(arr.dtype):
        got = type(arr).__name__ if not isinstance(arr, np.ndarray) else str(arr.dtype)
        raise bad_file(path, what, f"{name!r} has dtype {got}; expected {spec.describe()}")
    if arr.shape != spec.shape:
        raise bad_file(path, what, f"{name!r} has shape {arr.shape}; expected {spec.shape}")
