"""The JSON side of the container: bit-exact numbers, strict parsing, nothing trusted.

Floats are written with ``repr`` (the shortest text that reads back to the same bits) and NaN/inf
as the strings ``"nan"``, ``"inf"``, ``"-inf"``; arrays are ``{"dtype", "shape", "data"}`` with the
data flattened in C order. Reading refuses duplicate keys, bare ``NaN``/``Infinity``, nesting that
exhausts the parser, numbers too large for their dtype and any dtype outside the whitelist, with a
:class:`~trainready.errors.FormatError`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._container import (
    ArraySpec,
    SpecFunction,
    State,
    bad_file,
    check_specs,
    checksum,
    parse_dtype,
    split_header,
    verify,
)

__all__ = ["MAX_JSON_BYTES", "encode_json", "parse_json", "read_json"]

MAX_JSON_BYTES = 64 << 20
"""Largest JSON file trainready writes or reads (larger objects go to npz)."""

_FLOAT_WORDS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_I64 = (-(2**63), 2**63 - 1)


def _encode_array(arr: NDArray[Any]) -> dict[str, Any]:
    flat = np.ascontiguousarray(arr).reshape(-1)
    entry: dict[str, Any] = {"dtype": str(arr.dtype), "shape": list(arr.shape)}
    if arr.dtype.kind == "f":
        entry["data"] = [v if math.isfinite(v) else repr(v) for v in flat.tolist()]
    elif arr.dtype.kind in "iu":
        entry["data"] = [int(v) for v in flat.tolist()]
    elif arr.dtype.kind == "U":
        entry["data"] = [str(v) for v in flat.tolist()]
    else:
        raise ValueError(f"cannot save an array of dtype {arr.dtype} as JSON.")
    return entry


def encode_json(state: State) -> bytes:
    """The JSON document of ``state`` (UTF-8 bytes, one key per line at the top level)."""
    header = state.header()
    header["sha256"] = checksum(header, state.arrays)
    header["arrays"] = {k: _encode_array(np.asarray(v)) for k, v in state.arrays.items()}
    text = json.dumps(header, indent=1, allow_nan=False) + "\n"
    return text.encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _no_constant(word: str) -> Any:
    raise ValueError(f"bare {word} is not JSON (trainready writes NaN/inf as strings)")


def parse_json(text: str, path: Any, what: str, label: str = "its JSON cannot be parsed") -> Any:
    """Parse ``text`` strictly; every failure (depth, size, syntax) is a FormatError."""
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecursionError as exc:
        raise bad_file(path, what, "its JSON is nested too deeply") from exc
    except (ValueError, TypeError, OverflowError) as exc:  # JSONDecodeError is a ValueError
        raise bad_file(path, what, f"{label} ({type(exc).__name__}: {exc})") from exc


def _element(v: Any, kind: str) -> Any:
    if kind == "f":
        if isinstance(v, str) and v in _FLOAT_WORDS:
            return _FLOAT_WORDS[v]
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"{v!r} is not a number")
        x = float(v)  # an int beyond float64 raises OverflowError
        if not math.isfinite(x):
            raise ValueError(f"{v!r} overflows float64")
        return x
    if kind == "i":
        if isinstance(v, bool) or not isinstance(v, int) or not _I64[0] <= v <= _I64[1]:
            raise ValueError(f"{v!r} is not a 64-bit integer")
        return v
    if not isinstance(v, str):
        raise ValueError(f"{v!r} is not a string")
    return v


def _decode_array(name: str, entry: Any, spec: ArraySpec, path: Any, what: str) -> NDArray[Any]:
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data"}:
        raise bad_file(path, what, f"array {name!r} is not {{'dtype', 'shape', 'data'}}")
    dtype = parse_dtype(entry["dtype"])
    if dtype is None or not spec.accepts(dtype):
        raise bad_file(
            path, what, f"array {name!r} has dtype {entry['dtype']!r}; expected {spec.describe()}"
        )
    shape = entry["shape"]
    if (
        not isinstance(shape, list)
        or not all(type(d) is int for d in shape)
        or shape != list(spec.shape)
    ):
        raise bad_file(path, what, f"array {name!r} has shape {shape!r}; expected {spec.shape}")
    data = entry["data"]
    n = math.prod(spec.shape)
    if not isinstance(data, list) or len(data) != n:
        got = len(data) if isinstance(data, list) else type(data).__name__
        raise bad_file(path, what, f"array {name!r} has {got} values; its shape needs {n}")
    try:
        values = [_element(v, dtype.kind) for v in data]
        if dtype.kind == "U":
            width = max((len(v) for v in values), default=1)
            if width > dtype.itemsize // 4:
                raise ValueError(f"a string is longer than its dtype {dtype}")
        return np.array(values, dtype=dtype).reshape(spec.shape)
    except (ValueError, TypeError, OverflowError) as exc:
        raise bad_file(path, what, f"array {name!r} holds a malformed value ({exc})") from exc


def read_json(
    raw: bytes,
    path: Any,
    what: str,
    kind: str,
    current: int,
    specs: SpecFunction,
    unchecked: frozenset[int],
) -> State:
    """Read a container from the bytes of a JSON file (see the module docstring)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_file(path, what, f"neither an npz archive nor JSON (not UTF-8: {exc})") from exc
    if not text.lstrip().startswith("{"):
        raise bad_file(path, what, "neither an npz archive nor JSON (no '{' at the start)")
    doc = parse_json(text, path, what, "neither an npz archive nor JSON")
    header = split_header(path, what, doc, kind, current)
    expected = specs(header)
    entries = doc.get("arrays", {})
    if not isinstance(entries, dict):
        raise bad_file(path, what, "its 'arrays' is not an object")
    check_specs(path, what, expected, set(entries))
    arrays = {k: _decode_array(k, v, expected[k], path, what) for k, v in entries.items()}
    verify(path, what, header, arrays, unchecked)
    return State(header.kind, header.version, header.meta, arrays)
