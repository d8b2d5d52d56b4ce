"""The one module that knows foreign array types (torch, pandas, dask): to NumPy and back.

No other core module imports torch or sniffs its tensors; they call :func:`to_numpy` (or ask
:func:`is_torch_tensor`) and get a NumPy array. Nothing here imports torch, pandas or dask: a
value can only be one of theirs if its library is already imported, so the checks read the
value's type and ``sys.modules``.

Example:
    >>> import numpy as np
    >>> to_numpy([1.0, 2.0])
    array([1., 2.])
    >>> is_torch_tensor(np.zeros(2))
    False
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "all_finite",
    "from_numpy",
    "is_dask_array",
    "is_low_precision",
    "is_pandas",
    "is_torch_tensor",
    "kind_of",
    "native_affine",
    "to_numpy",
]


def _has_base(value: Any, module: str, name: str) -> bool:
    return any(c.__name__ == name and c.__module__ == module for c in type(value).__mro__)


def is_torch_tensor(value: Any) -> bool:
    """True for a ``torch.Tensor`` (``nn.Parameter`` included), without importing torch.

    Example:
        >>> is_torch_tensor([1, 2])
        False
    """
    return "torch" in sys.modules and _has_base(value, "torch", "Tensor")


def is_pandas(value: Any) -> bool:
    """True for a pandas DataFrame or Series."""
    module = type(value).__module__
    return "pandas" in sys.modules and (module == "pandas" or module.startswith("pandas."))


def is_dask_array(value: Any) -> bool:
    """True for a ``dask.array.Array``."""
    return "dask" in sys.modules and type(value).__module__.startswith("dask.array")


def kind_of(value: Any) -> str:
    """``"torch"``, ``"pandas"``, ``"dask"`` or ``"numpy"`` (anything else NumPy can read)."""
    if is_torch_tensor(value):
        return "torch"
    if is_pandas(value):
        return "pandas"
    if is_dask_array(value):
        return "dask"
    return "numpy"


def is_low_precision(value: Any) -> bool:
    """True for a floating array or tensor of fewer than 64 bits (float32, float16, bfloat16).

    Example:
        >>> is_low_precision(np.float32(1.0)), is_low_precision(1.0)
        (True, False)
    """
    if is_torch_tensor(value):
        return bool(value.is_floating_point()) and int(value.element_size()) < 8
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return False
    dt: np.dtype[Any] = np.dtype(dtype)
    return bool(dt.kind == "f" and dt.itemsize < 8)


def to_numpy(value: Any) -> NDArray[Any]:
    """``value`` as a NumPy array (a view where the library allows, never modified).

    Torch tensors are detached and moved to the CPU (bfloat16, which NumPy lacks, becomes
    float32; a conjugate view is resolved); pandas objects give ``to_numpy()``; dask arrays are
    computed. Anything else goes through ``numpy.asarray``.

    Example:
        >>> to_numpy((1, 2)).dtype.kind
        'i'
    """
    if is_torch_tensor(value):
        t = value.detach()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()
        if t.is_conj():
            t = t.resolve_conj()
        return np.asarray(t.cpu().numpy())
    if is_pandas(value):
        return np.asarray(value.to_numpy())
    if is_dask_array(value):
        return np.asarray(value.compute())
    return np.asarray(value)


def from_numpy(array: NDArray[Any], like: Any) -> Any:
    """``array`` in the kind of ``like``: a torch tensor on ``like``'s device and dtype, a
    pandas object with ``like``'s index and columns, a dask array, or the NumPy array itself.

    Example:
        >>> from_numpy(np.ones(2), [0, 0])
        array([1., 1.])
    """
    kind = kind_of(like)
    if kind == "torch":
        torch = sys.modules["torch"]
        return torch.from_numpy(np.ascontiguousarray(array)).to(like.device, like.dtype)
    if kind == "pandas":
        if getattr(like, "ndim", 1) == 1:
            return type(like)(array, index=like.index, name=like.name)
        return type(like)(array, index=like.index, columns=like.columns)
    if kind == "dask":
        return sys.modules["dask.array"].from_array(array)
    return array


def all_finite(value: Any) -> bool:
    """True when every element of a torch tensor or NumPy array is finite (on its device)."""
    if is_torch_tensor(value):
        return bool(sys.modules["torch"].isfinite(value).all())
    return bool(np.isfinite(np.asarray(value)).all())


def native_affine(
    X: Any,
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    *,
    axis: int,
    subtract_divide: bool,
    clip: tuple[float, float] | None = None,
) -> Any:
    """``(X - a) / b`` (or ``X * b + a``) along ``axis`` of a torch tensor, computed on its
    device in float64 (float32 on Apple's MPS, which lacks float64), returned in ``X``'s floating
    dtype (the default dtype for integer input); ``clip`` clamps the result.

    Example:
        >>> native_affine(np.ones((2, 2)), np.zeros(2), np.full(2, 2.0), axis=1,
        ...               subtract_divide=True)
        array([[0.5, 0.5],
               [0.5, 0.5]])
    """
    shape = [1] * np.ndim(X)
    shape[axis] = -1
    if not is_torch_tensor(X):
        x = np.asarray(X, dtype=np.float64)
        y = (x - a.reshape(shape)) / b.reshape(shape) if subtract_divide else x * b.reshape(
            shape
        ) + a.reshape(shape)
        return np.clip(y, *clip) if clip is not None else y
    torch = sys.modules["torch"]
    out_dtype = X.dtype if X.is_floating_point() else torch.get_default_dtype()
    work = torch.float32 if X.device.type == "mps" else torch.float64
    at = torch.as_tensor(a, dtype=work, device=X.device).reshape(shape)
    bt = torch.as_tensor(b, dtype=work, device=X.device).reshape(shape)
    x = X.to(work)
    y = (x - at) / bt if subtract_divide else x * bt + at
    y = y.to(out_dtype)
    return y.clamp(float(clip[0]), float(clip[1])) if clip is not None else y
