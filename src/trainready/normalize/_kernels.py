"""Elementwise kernels of transform / inverse_transform (float64 and float32)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["affine", "bshape", "split_hi_lo"]

_BLOCK_ELEMENTS = 1 << 17


def bshape(ndim: int, axis: int) -> tuple[int, ...]:
    shape = [1] * ndim
    shape[axis] = -1
    return tuple(shape)


def affine(
    X: NDArray[Any],
    axis: int,
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    mode: str,
    out: NDArray[Any] | None,
    f32: tuple[NDArray[np.float64], ...] | None = None,
) -> NDArray[Any]:
    """``(X - a) / b`` (mode "sub_div") or ``X * b + a`` (mode "mul_add") in float64.

    float64 input is computed in one vectorized pass per operation; float32/16 input is computed
    in float64 by cache-sized blocks of rows and rounded once into an array of the input's dtype.
    ``out`` may be ``X`` itself (in place).
    """
    ab = a.reshape(bshape(X.ndim, axis))
    bb = b.reshape(bshape(X.ndim, axis))
    if out is None:
        out = np.empty(X.shape, dtype=X.dtype)
    if f32 is not None and X.dtype == np.float32:
        return _affine32(X, axis, f32, out)
    if X.dtype == np.float64:
        if mode == "sub_div":
            np.subtract(X, ab, out=out)
            np.divide(out, bb, out=out)
        else:
            np.multiply(X, bb, out=out)
            np.add(out, ab, out=out)
        return out
    row = max(1, int(np.prod(X.shape[1:], dtype=np.int64)))
    bs = max(1, _BLOCK_ELEMENTS // row)
    buf = np.empty((min(bs, X.shape[0]), *X.shape[1:]))
    for s in range(0, X.shape[0], bs):
        blk = X[s : s + bs]
        y = buf[: blk.shape[0]]
        if mode == "sub_div":
            np.subtract(blk, ab, out=y)
            np.divide(y, bb, out=y)
        else:
            np.multiply(blk, bb, out=y)
            np.add(y, ab, out=y)
        out[s : s + bs] = y
    return out


def split_hi_lo(a: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``a = hi + lo`` exactly, with ``hi`` representable in float32."""
    with np.errstate(over="ignore", invalid="ignore"):
        hi = a.astype(np.float32).astype(np.float64)
        lo = np.where(np.isfinite(hi), a - hi, 0.0)
    return hi, lo


def _affine32(
    X: NDArray[np.float32],
    axis: int,
    params: tuple[NDArray[np.float64], ...],
    out: NDArray[Any],
) -> NDArray[Any]:
    """float32 kernel ``out = ((x - p) * q + r) + h`` by cache-sized blocks, in place in ``out``.

    The caller splits large offsets into a float32 head (``p`` or ``h``) and a small tail folded
    into ``r``, so ``x - p`` is exact for data near its offset and the result stays within a few
    float32 ulps of the exactly rounded value (no bias from rounding the mean to float32).
    """
    bs_shape = bshape(X.ndim, axis)
    p, q, r, h = (np.asarray(v, dtype=np.float32).reshape(bs_shape) for v in params)
    use_p, use_h = bool(np.any(p != 0)), bool(np.any(h != 0))
    row = max(1, int(np.prod(X.shape[1:], dtype=np.int64)))
    bs = max(1, _BLOCK_ELEMENTS // row)
    with np.errstate(over="ignore", invalid="ignore"):
        for s in range(0, X.shape[0], bs):
            blk = X[s : s + bs]
            o = out[s : s + bs]
            if use_p:
                np.subtract(blk, p, out=o)
                np.multiply(o, q, out=o)
            else:
                np.multiply(blk, q, out=o)
            np.add(o, r, out=o)
            if use_h:
                np.add(o, h, out=o)
    return out
