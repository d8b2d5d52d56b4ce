"""The npz side of the container: write members; read only expected ones, checked before allocating.

A file is a zip archive of ``.npy`` members: ``__header__`` (a 0-d unicode array holding the JSON
header) and one member per array. Reading lists the archive first: unknown or duplicate members
are refused, each member's declared size (from the zip directory) and ``.npy`` header (dtype and
shape) are compared with what the object's configuration implies, and only then is the array
allocated and filled from the stream, at most its declared size. Version-1 networks split their
header over three members (``__format__``, ``__version__``, ``config``); they are read as well.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
from collections.abc import Mapping
from typing import IO, Any

import numpy as np
from numpy.lib import format as npformat
from numpy.typing import NDArray

from ._container import (
    ArraySpec,
    SpecFunction,
    State,
    bad_file,
    check_specs,
    checksum,
    split_header,
    verify,
)
from ._json import parse_json

__all__ = ["read_npz", "write_npz"]

HEADER = "__header__"
_LEGACY = ("__format__", "__version__", "config")
_HEADER_BYTES = 1 << 20  # a header member above 1 MiB is not ours
_NPY_SLACK = 1 << 16  # room for an .npy header in front of the data
_MAX_MEMBERS = 10_000
# What zipfile and numpy's .npy reader raise on damaged bytes (a damaged file is a FormatError).
_DAMAGED = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    OSError,
    EOFError,
    ValueError,
    TypeError,
    SyntaxError,
    OverflowError,
    IndexError,
    KeyError,
    RuntimeError,
    struct.error,
)
_MAX_RATIO = 50  # a deflated member expanding more than this is a bomb, not our data


def write_npz(fh: IO[bytes], state: State) -> None:
    """Write ``state`` as an uncompressed npz archive to the open binary file ``fh``."""
    arrays = {k: np.ascontiguousarray(v) for k, v in state.arrays.items()}
    header = state.header()
    header["sha256"] = checksum(header, arrays)
    text = json.dumps(header, allow_nan=False)
    zf = zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True)
    try:
        for name, arr in [(HEADER, np.asarray(text)), *arrays.items()]:
            with zf.open(name + ".npy", "w", force_zip64=arr.nbytes > (1 << 30)) as member:
                npformat.write_array(member, arr, allow_pickle=False)
    except BaseException:
        # Abandon the half-written archive (its temporary file is removed by the caller):
        # finalizing it would write again, and a failed member write leaves zipfile refusing to
        # close (then complaining from __del__) and hiding the original error. Plain attribute
        # stores, no calls: a pending Ctrl-C cannot fire between them.
        zf.fp = None
        zf._writing = False  # type: ignore[attr-defined]  # private flag, no public reset
        raise
    zf.close()


def _member_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    return name[:-4] if name.endswith(".npy") else name


def read_npz(
    fh: IO[bytes],
    size: int,
    path: Any,
    what: str,
    kind: str,
    current: int,
    specs: SpecFunction,
    unchecked: frozenset[int],
) -> State:
    """Read a container from the open npz file ``fh`` of ``size`` bytes (see the module doc)."""
    try:
        zf = zipfile.ZipFile(fh)
    except _DAMAGED as exc:
        raise bad_file(path, what, f"the npz archive cannot be read ({exc})") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > _MAX_MEMBERS:
            raise bad_file(path, what, f"the archive has {len(infos)} members")
        members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = _member_name(info)
            if name in members:
                raise bad_file(path, what, f"the archive holds {name!r} twice")
            if info.compress_size > size:
                raise bad_file(path, what, f"member {name!r} claims more bytes than the file has")
            if (
                info.compress_type != zipfile.ZIP_STORED
                and info.file_size > _MAX_RATIO * max(info.compress_size, 1) + _NPY_SLACK
            ):
                raise bad_file(
                    path,
                    what,
                    f"member {name!r} decompresses {info.compress_size} bytes into "
                    f"{info.file_size} (a decompression bomb?)",
                    "trainready writes uncompressed archives; save the object again.",
                )
            members[name] = info
        if HEADER in members:
            doc = _parse_header(zf, members[HEADER], path, what)
            own = {HEADER}
        elif "__format__" in members:
            doc = _legacy_header(zf, members, path, what)
            own = set(_LEGACY)
        else:
            raise bad_file(
                path,
                what,
                "the npz archive has no '__header__' entry (a foreign file, not saved by "
                "trainready)",
            )
        header = split_header(path, what, doc, kind, current)
        expected = specs(header)
        names = set(members) - own
        check_specs(path, what, expected, names)
        arrays = {
            name: _read_member(zf, members[name], expected[name], path, what) for name in names
        }
    verify(path, what, header, arrays, unchecked)
    return State(header.kind, header.version, header.meta, arrays)


def _parse_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Any, what: str) -> Any:
    text = _read_scalar(zf, info, path, what, "U")
    return parse_json(str(text), path, what)


def _legacy_header(
    zf: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo], path: Any, what: str
) -> dict[str, Any]:
    """Version-1 networks: format, version and config in three members."""
    missing = [k for k in _LEGACY if k not in members]
    if missing:
        raise bad_file(path, what, f"the archive lacks {missing}")
    fmt = _read_scalar(zf, members["__format__"], path, what, "U")
    version = _read_scalar(zf, members["__version__"], path, what, "i")
    config = parse_json(str(_read_scalar(zf, members["config"], path, what, "U")), path, what)
    return {"format": str(fmt), "version": int(version), "config": config}


def _read_scalar(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Any, what: str, kind: str
) -> Any:
    name = _member_name(info)
    if info.file_size > _HEADER_BYTES:
        raise bad_file(path, what, f"its {name!r} entry is {info.file_size} bytes, not a header")
    with _open(zf, info, path, what) as fh:
        dtype, shape, fortran = _npy_header(fh, name, path, what)
        if shape != () or dtype.kind != kind or dtype.byteorder == ">":
            label = "a text array" if kind == "U" else "an integer"
            raise bad_file(
                path, what, f"its {name!r} entry is not {label} (dtype {dtype}, shape {shape})"
            )
        arr = _fill(fh, dtype, shape, fortran, info.file_size, name, path, what)
    return arr[()]


def _open(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Any, what: str) -> IO[bytes]:
    try:
        return zf.open(info)
    except _DAMAGED as exc:
        raise bad_file(path, what, f"member {info.filename!r} cannot be opened ({exc})") from exc


def _npy_header(
    fh: IO[bytes], name: str, path: Any, what: str
) -> tuple[np.dtype[Any], tuple[int, ...], bool]:
    try:
        major, _ = npformat.read_magic(fh)
        if major == 1:
            shape, fortran, dtype = npformat.read_array_header_1_0(fh)
        elif major in (2, 3):
            shape, fortran, dtype = npformat.read_array_header_2_0(fh)
        else:
            raise ValueError(f"npy version {major}")
    except _DAMAGED as exc:
        raise bad_file(path, what, f"entry {name!r} is not a readable .npy array ({exc})") from exc
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise bad_file(path, what, f"entry {name!r} has dtype {dtype} (objects are never loaded)")
    return dtype, tuple(int(d) for d in shape), bool(fortran)


def _read_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, spec: ArraySpec, path: Any, what: str
) -> NDArray[Any]:
    name = _member_name(info)
    if info.file_size > spec.nbytes_limit() + _NPY_SLACK:
        raise bad_file(
            path,
            what,
            f"entry {name!r} declares {info.file_size} bytes; its configuration allows "
            f"{spec.describe()} (at most {spec.nbytes_limit()} bytes)",
        )
    with _open(zf, info, path, what) as fh:
        dtype, shape, fortran = _npy_header(fh, name, path, what)
        if not spec.accepts(dtype):
            raise bad_file(
                path, what, f"entry {name!r} has dtype {dtype}; expected {spec.describe()}"
            )
        if shape != spec.shape:
            raise bad_file(path, what, f"entry {name!r} has shape {shape}; expected {spec.shape}")
        return _fill(fh, dtype, shape, fortran, info.file_size, name, path, what)


def _fill(
    fh: IO[bytes],
    dtype: np.dtype[Any],
    shape: tuple[int, ...],
    fortran: bool,
    declared: int,
    name: str,
    path: Any,
    what: str,
) -> NDArray[Any]:
    """Allocate the (already checked) array and read exactly its bytes; then expect the end.

    ``declared`` is the member's size in the zip directory, itself bounded by the file's size
    (or a compression ratio): an ``.npy`` header claiming more data than that is refused here,
    before anything is allocated.
    """
    nbytes = dtype.itemsize * math.prod(shape)
    if nbytes > declared:
        raise bad_file(
            path,
            what,
            f"entry {name!r} claims {nbytes} bytes of data (dtype {dtype}, shape {shape}) in a "
            f"member of {declared} bytes",
        )
    arr = np.empty(shape[::-1] if fortran else shape, dtype=dtype)
    view = arr.reshape(-1).view(np.uint8).data if arr.size else memoryview(b"")
    try:
        got = 0
        while got < len(view):
            n = fh.readinto(view[got:])  # type: ignore[attr-defined]
            if not n:
                break
            got += n
        extra = fh.read(1)  # reaching the end also checks the member's CRC
    except _DAMAGED as exc:
        raise bad_file(path, what, f"entry {name!r} is damaged ({exc})") from exc
    if got != len(view) or extra:
        raise bad_file(
            path, what, f"entry {name!r} does not hold the {len(view)} bytes its header declares"
        )
    out = arr.T.copy() if fortran else arr
    if out.dtype.byteorder not in "=|":
        out = out.astype(out.dtype.newbyteorder("="))
    return out
