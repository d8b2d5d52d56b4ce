"""Small float64 reductions shared by the recorders and LSUV: moments, norms, a safe std.

Example:
    >>> import numpy as np
    >>> moments(np.array([[1.0, 3.0]]))
    (2.0, 1.0, 2.23606797749979)
    >>> robust_std(np.array([1e300, -1e300]))
    1e+300
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["fro", "moments", "robust_std"]


def fro(x: NDArray[Any]) -> float:
    """Frobenius norm, in float64 (einsum: no BLAS thread start-up for a reduction)."""
    flat = np.asarray(x, dtype=np.float64).reshape(-1)
    return math.sqrt(float(np.einsum("i,i->", flat, flat)))


def moments(x: NDArray[Any]) -> tuple[float, float, float]:
    """``(mean, std, rms)`` over every entry, in float64 (NaN for an empty array)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    flat = x.reshape(-1)
    mean = float(flat.mean())
    ms = float(np.einsum("i,i->", flat, flat)) / flat.size
    return mean, math.sqrt(max(ms - mean * mean, 0.0)), math.sqrt(ms)


def robust_std(x: NDArray[Any]) -> float:
    """Population std over every entry without overflow: values near 1e300 give 1e300, not inf.

    NaN when ``x`` holds NaN or inf (or is empty).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return math.nan
    with np.errstate(invalid="ignore", over="ignore"):
        s = float(np.max(np.abs(x)))
    if not math.isfinite(s):
        return math.nan
    if s == 0.0:
        return 0.0
    return s * float(np.std(x / s))
