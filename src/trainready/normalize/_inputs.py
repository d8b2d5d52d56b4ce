"""Input conversion for the scalers: NumPy, torch tensors, pandas DataFrames, chunk iterables.

Only NumPy is imported here; torch and pandas objects are recognised by their type's module, so
neither is ever imported just to check.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._arrays import is_torch_tensor, to_numpy

__all__ = [
    "InputInfo",
    "as_float_array",
    "check_axis",
    "check_flag",
    "chunk_data",
    "is_array_like",
    "is_dask_array",
    "is_torch_tensor",  # re-exported from trainready._arrays (the scalers import it from here)
    "warn_user",
]

_FLOATS = (np.float64, np.float32, np.float16)


@dataclass(frozen=True)
class InputInfo:
    """Where an input came from, to give results back in the same form."""

    kind: str  # "numpy", "torch", "pandas", "other"
    columns: tuple[str, ...] | None = None  # pandas string column names
    index: Any = None  # pandas index
    torch_dtype: Any = None
    torch_device: Any = None


def _module(obj: Any) -> str:
    return type(obj).__module__ or ""


def is_dask_array(X: Any) -> bool:
    """True for a ``dask.array.Array`` (without importing dask)."""
    return _module(X).startswith("dask.array") and hasattr(X, "chunks") and hasattr(X, "dask")


def _is_pandas(X: Any, cls: str) -> bool:
    return _module(X).startswith("pandas") and type(X).__name__ == cls


def _is_sparse(X: Any) -> bool:
    return _module(X).startswith("scipy.sparse") or (
        hasattr(X, "tocsr") and hasattr(X, "nnz") and not isinstance(X, np.ndarray)
    )


def is_array_like(X: Any) -> bool:
    """True when ``X`` is one array (not an iterable of chunks)."""
    return (
        isinstance(X, np.ndarray | list | tuple | int | float)
        or hasattr(X, "__array__")
        or hasattr(X, "__array_interface__")
        or is_torch_tensor(X)
        or is_dask_array(X)
        or _is_sparse(X)
        or _module(X).startswith("pandas")
    )


def warn_user(message: str, category: type[Warning]) -> None:
    """Warn with the stack level of the first caller outside trainready."""
    frame = sys._getframe(1)
    level = 2  # stacklevel 2 is our caller, the frame we start from
    while frame is not None and frame.f_globals.get("__name__", "").startswith("trainready"):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    warnings.warn(message, category, stacklevel=level)


def chunk_data(chunk: Any) -> Any:
    """The data part of one item of an iterable: a tensor/array, or the first of ``(x, y)``."""
    if isinstance(chunk, tuple | list) and chunk and is_array_like(chunk[0]):
        if not isinstance(chunk[0], int | float):
            return chunk[0]
    if isinstance(chunk, dict):
        for key in ("x", "X", "input", "inputs", "image", "pixel_values"):
            if key in chunk:
                return chunk[key]
        raise TypeError(
            f"a chunk is a dict with keys {sorted(chunk)}; expected an array, a tensor, an "
            "(x, y) tuple, or a dict with key 'x'. Map your loader to yield the inputs only."
        )
    return chunk


def check_flag(value: Any, name: str) -> bool:
    """``value`` as a bool; anything but True/False (``"no"``, ``0``, None) is refused.

    Example:
        >>> check_flag(False, "copy")
        False
    """
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise TypeError(
        f"{name}: expected True or False; got {value!r} ({type(value).__name__}). Pass a bool, "
        f"e.g. {name}=False (a string such as 'no' would count as True)."
    )


def check_axis(arr: NDArray[Any], axis: int | None, name: str) -> int:
    """The non-negative feature axis of ``arr`` (``None`` means 2-D data, features in columns)."""
    if axis is None:
        return 1
    if not isinstance(axis, int | np.integer) or isinstance(axis, bool):
        raise TypeError(
            f"axis must be an int (the feature or channel axis) or None; got {axis!r}. "
            "Use axis=1 for (N, C, H, W) images or axis=-1 for (N, H, W, C)."
        )
    ax = int(axis) + arr.ndim if axis < 0 else int(axis)
    if not 1 <= ax < arr.ndim:
        raise ValueError(
            f"axis={axis} is not a feature axis of {name} with shape {arr.shape}: expected one of "
            f"1..{arr.ndim - 1} (or -1..-{arr.ndim - 1}); axis 0 holds the samples. "
            "Use axis=1 for (N, C, H, W) images or axis=-1 for (N, H, W, C)."
        )
    return ax


def _to_numpy(X: Any, name: str) -> tuple[NDArray[Any], InputInfo]:
    if _is_sparse(X):
        raise TypeError(
            f"{name} is a sparse matrix ({type(X).__name__}); sparse input is not supported. "
            "Densify it with X.toarray(), or use sklearn.preprocessing.MaxAbsScaler for sparse "
            "data."
        )
    if is_torch_tensor(X):
        if X.is_complex():
            raise ValueError(f"Complex data not supported: {name} is a complex torch tensor.")
        arr = to_numpy(X)  # bfloat16 comes back as float32
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float64)
        return arr, InputInfo("torch", torch_dtype=X.dtype, torch_device=X.device)
    if _is_pandas(X, "DataFrame"):
        cols = list(X.columns)
        columns: tuple[str, ...] | None = None
        if cols and all(isinstance(c, str) for c in cols):
            columns = tuple(cols)
        elif any(isinstance(c, str) for c in cols):
            raise TypeError(
                f"{name} has column names of mixed types "
                f"({sorted({type(c).__name__ for c in cols})}); feature names are only "
                "supported when all are strings. Convert them with "
                "X.columns = X.columns.astype(str)."
            )
        dtypes = set(X.dtypes.astype(str))
        if dtypes <= {"float32"}:
            arr = X.to_numpy(dtype=np.float32)
        elif any(getattr(d, "kind", "O") == "c" for d in X.dtypes):
            raise ValueError(f"Complex data not supported: {name} has complex columns.")
        else:
            try:
                arr = X.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"{name} must hold numbers only; converting the DataFrame to float64 failed "
                    f"({exc}). Encode categorical columns first (e.g. one-hot)."
                ) from exc
        return arr, InputInfo("pandas", columns=columns, index=X.index)
    if _is_pandas(X, "Series"):
        arr = X.to_numpy()
        return arr, InputInfo("pandas", index=X.index)
    if is_dask_array(X):
        raise TypeError(f"{name} is a dask array; only fit() and partial_fit() accept one.")
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be array-like (NumPy array, torch tensor, pandas DataFrame or nested "
            f"lists of numbers); converting {type(X).__name__} failed: {exc}"
        ) from exc
    return arr, InputInfo("numpy" if isinstance(X, np.ndarray) else "other")


def as_float_array(
    X: Any,
    name: str,
    *,
    axis: int | None,
    allow_nd: bool,
    estimator: str = "the scaler",
) -> tuple[NDArray[Any], int, InputInfo]:
    """Validate ``X`` and return a float NumPy array (no copy when possible), its axis and origin.

    Integer, boolean and object data become float64; float16/32/64 are kept. Complex data, sparse
    matrices, empty arrays and arrays of the wrong number of dimensions are refused with a message
    naming the fix (with the phrases scikit-learn's ``check_estimator`` looks for).
    """
    arr, info = _to_numpy(X, name)
    if np.iscomplexobj(arr):
        raise ValueError(
            f"Complex data not supported: {name} has dtype {arr.dtype}. Split it into real and "
            "imaginary features (np.c_[X.real, X.imag]) before scaling."
        )
    if arr.dtype.type not in _FLOATS:
        if arr.dtype.kind in "biuf":
            arr = arr.astype(np.float64)
        else:
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError) as exc:
                # Keep the built-in type: TypeError for objects, ValueError for strings.
                raise type(exc)(
                    f"{name} must hold numbers; got dtype {arr.dtype} that cannot be converted to "
                    f"float64 ({exc}). Encode strings or categories as numbers first."
                ) from exc
    if arr.ndim == 0:
        raise ValueError(
            f"Expected 2D array, got scalar array instead:\n{name}={arr!r}.\n"
            "Reshape your data either using array.reshape(-1, 1) if your data has a single "
            "feature or array.reshape(1, -1) if it contains a single sample."
        )
    if arr.ndim == 1:
        raise ValueError(
            f"Expected 2D array, got 1D array instead:\n{name}={arr!r}.\n"
            "Reshape your data either using array.reshape(-1, 1) if your data has a single "
            "feature or array.reshape(1, -1) if it contains a single sample."
        )
    if arr.ndim > 2 and not allow_nd:
        raise ValueError(
            f"Found array with dim {arr.ndim} ({name}.shape={arr.shape}) while {estimator} "
            "expected <= 2 without an axis. Pass axis=1 for (N, C, H, W) images or axis=-1 for "
            "(N, H, W, C) to get per-channel statistics."
        )
    ax = check_axis(arr, axis, name)
    if arr.shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={arr.shape}) while a minimum of 1 is required "
            f"by {estimator}. Pass at least one row in {name}."
        )
    if arr.shape[ax] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required "
            f"by {estimator}. {name} needs at least one feature along axis {ax}."
        )
    return arr, ax, info
