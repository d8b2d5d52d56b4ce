"""Exact streaming moments: a shifted float64 pass per chunk, Chan's merge across chunks.

Per feature we keep ``(n, shift, mean, m2)``: the count, a shift ``K`` close to the data, the mean
of ``x - K`` and the sum of squared deviations from the mean. Inside a chunk the sums
``S1 = sum(x - K)`` and ``S2 = sum((x - K)**2)`` are taken in float64 in cache-sized blocks, and
``m2 = S2 - S1**2 / n`` (the corrected two-pass formula of Chan, Golub & LeVeque 1983). Its relative
error is about ``eps * S2 / m2``; when that ratio exceeds 2 for any feature (the chunk mean drifted
away from ``K``) the chunk is computed again around its own mean, so the result keeps full
precision whatever the offset. Chunks are merged with Chan et al. (1979)::

    n = na + nb,  d = mb - ma,  mean = ma + d * nb / n,  m2 = m2a + m2b + d**2 * na * nb / n

Raw sums of squares are never kept (at a mean offset of 1e9 they lose every digit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["RunningMoments", "chunk_moments", "feature_view"]

F64 = NDArray[np.float64]

# About 1 MiB of float64 per block: large enough for fast ufunc loops, small enough for L2.
_BLOCK_ELEMENTS = 1 << 16
# Recompute a chunk around its own mean when S2 / m2 exceeds this (at most 1 bit lost).
_CANCELLATION_LIMIT = 2.0


def feature_view(X: NDArray[Any], axis: int) -> tuple[NDArray[Any], tuple[int, ...]]:
    """Return ``X`` and the axes to reduce over so that statistics are per index of ``axis``.

    Args:
        X: array of shape ``(n, ...)``; ``axis`` (non-negative) is the feature or channel axis.
        axis: the feature axis (1 for ``(N, C, H, W)``, ``ndim - 1`` for ``(N, H, W, C)``).

    Returns:
        ``X`` unchanged and the tuple of axes that are reduced.
    """
    return X, tuple(i for i in range(X.ndim) if i != axis)


def _bshape(ndim: int, axis: int) -> tuple[int, ...]:
    shape = [1] * ndim
    shape[axis] = -1
    return tuple(shape)


def _block_sums(X: NDArray[Any], axis: int, shift: F64, omit: bool) -> tuple[F64, F64, F64, bool]:
    """Sums of ``x - shift`` and their squares per feature, in float64, by blocks of rows.

    Returns ``(count, S1, S2, finite)``. With ``omit`` non-finite entries are skipped and counted
    out; without it ``finite`` is False as soon as any sum is not finite (NaN/inf present or
    overflow), and the sums are then meaningless.
    """
    n_rows = X.shape[0]
    n_feat = X.shape[axis]
    row_elems = max(1, int(np.prod(X.shape[1:], dtype=np.int64)))
    bs = max(1, min(n_rows, _BLOCK_ELEMENTS // row_elems))
    others = tuple(i for i in range(X.ndim) if i != axis)
    K = shift.reshape(_bshape(X.ndim, axis))
    s1 = np.zeros(n_feat)
    s2 = np.zeros(n_feat)
    count = np.zeros(n_feat)
    buf = np.empty((bs, *X.shape[1:]), dtype=np.float64)
    two_d = X.ndim == 2 and axis == 1
    ones = np.ones(bs)
    subs = list(range(X.ndim))
    for start in range(0, n_rows, bs):
        blk = X[start : start + bs]
        y = buf[: blk.shape[0]]
        np.subtract(blk, K, out=y)
        if omit:
            mask = np.isfinite(y)
            y[~mask] = 0.0
            count += np.add.reduce(mask, axis=others, dtype=np.float64)
        if two_d:
            # two BLAS matrix-vector products on the cache-resident block
            o = ones[: y.shape[0]]
            s1 += o @ y
            np.square(y, out=y)
            s2 += o @ y
        else:
            s1 += np.add.reduce(y, axis=others)
            s2 += np.einsum(y, subs, y, subs, [axis])
    if not omit:
        count[:] = n_rows * (row_elems // max(1, n_feat))
    finite = bool(np.isfinite(s1).all() and np.isfinite(s2).all())
    return count, s1, s2, finite


def chunk_moments(
    X: NDArray[Any], axis: int, shift: F64 | None = None, *, omit: bool = False
) -> tuple[F64, F64, F64, F64] | None:
    """Moments of one chunk: ``(count, shift, mean of x - shift, m2)`` per feature, all float64.

    Args:
        X: float array of shape ``(n, ...)`` with the features along ``axis``; any strides.
        axis: the (non-negative) feature axis, ``>= 1``.
        shift: per-feature shift close to the data (e.g. the running mean); None picks the mean of
            the first rows.
        omit: skip NaN/inf entries (per feature counts); otherwise return None when the chunk holds
            a non-finite value (the caller reports it).

    Returns:
        The four arrays of shape ``(n_features,)``, or None when ``omit`` is False and the chunk is
        not finite.

    Example:
        >>> import numpy as np
        >>> n, K, m, m2 = chunk_moments(np.array([[1.0], [2.0], [3.0]]), 1)
        >>> float((K + m)[0]), float(m2[0])
        (2.0, 2.0)
    """
    n_feat = X.shape[axis]
    if shift is None:
        head = X[: max(1, min(X.shape[0], 64))]
        others = tuple(i for i in range(X.ndim) if i != axis)
        with np.errstate(invalid="ignore", over="ignore"):
            h = np.asarray(head, dtype=np.float64)
            if omit:
                h = np.where(np.isfinite(h), h, np.nan)
                with np.errstate(all="ignore"):
                    cnt = np.add.reduce(~np.isnan(h), axis=others)
                    tot = np.add.reduce(np.where(np.isnan(h), 0.0, h), axis=others)
                    shift = np.where(cnt > 0, tot / np.maximum(cnt, 1), 0.0)
            else:
                shift = np.add.reduce(h, axis=others) / (h.size // n_feat)
        shift = np.where(np.isfinite(shift), shift, 0.0)
    shift = np.asarray(shift, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        count, s1, s2, finite = _block_sums(X, axis, shift, omit)
    if not finite:
        if not omit and not np.isfinite(X).all():
            return None
        # Finite entries overflowed when squared: compute again, scaled (rare).
        if not omit:
            count = np.full(n_feat, float(X.size // n_feat))
        return _scaled_moments(X, axis, count)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, s1 / np.maximum(count, 1.0), 0.0)
        m2 = s2 - s1 * mean
    bad = s2 > _CANCELLATION_LIMIT * np.maximum(m2, 0.0)
    bad &= s2 > 0
    if bad.any():
        # The chunk's mean is far from the shift: one more pass around the chunk's own mean.
        new_shift = shift + mean
        with np.errstate(over="ignore", invalid="ignore"):
            count, s1, s2, finite = _block_sums(X, axis, new_shift, omit)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean2 = np.where(count > 0, s1 / np.maximum(count, 1.0), 0.0)
            m2 = s2 - s1 * mean2
        mean = (new_shift - shift) + mean2
    m2 = np.maximum(m2, 0.0)
    return count, shift, mean, m2


def _scaled_moments(X: NDArray[Any], axis: int, count: F64) -> tuple[F64, F64, F64, F64]:
    """Moments of data whose squares overflow float64: per-feature scaling (two passes)."""
    others = tuple(i for i in range(X.ndim) if i != axis)
    x = np.asarray(X, dtype=np.float64)
    fin = np.isfinite(x)
    xz = np.where(fin, x, 0.0)
    scale = np.maximum.reduce(np.abs(xz), axis=others)
    scale = np.where(scale > 0, scale, 1.0)
    bs = _bshape(X.ndim, axis)
    z = xz / scale.reshape(bs)
    with np.errstate(invalid="ignore", divide="ignore"):
        mz = np.add.reduce(z, axis=others) / np.maximum(count, 1.0)
        dz = np.where(fin, z - mz.reshape(bs), 0.0)
        m2z = np.add.reduce(dz * dz, axis=others)
    mean = mz * scale
    with np.errstate(over="ignore"):
        m2 = m2z * scale * scale
    return count, np.zeros_like(mean), mean, m2


@dataclass
class RunningMoments:
    """Per-feature running ``(n, shift, mean, m2)``, merged with Chan et al. (1979).

    Attributes:
        n: ``(n_features,)`` float64 counts.
        shift: ``(n_features,)`` float64 shift ``K``; the mean is ``shift + mean_rel``.
        mean_rel: ``(n_features,)`` mean of ``x - shift``.
        m2: ``(n_features,)`` sum of squared deviations from the mean.

    Example:
        >>> import numpy as np
        >>> rm = RunningMoments.empty(1)
        >>> rm.update(np.array([[1.0], [2.0]]), axis=1)
        True
        >>> rm.update(np.array([[3.0]]), axis=1)
        True
        >>> float(rm.mean[0]), float(rm.var[0])
        (2.0, 0.6666666666666666)
    """

    n: F64
    shift: F64
    mean_rel: F64
    m2: F64

    @classmethod
    def empty(cls, n_features: int) -> RunningMoments:
        """Moments of no data for ``n_features`` features."""
        z = np.zeros(n_features)
        return cls(z.copy(), z.copy(), z.copy(), z.copy())

    @property
    def mean(self) -> F64:
        """Mean per feature (NaN where no value was seen)."""
        with np.errstate(invalid="ignore"):
            return np.where(self.n > 0, self.shift + self.mean_rel, np.nan)

    @property
    def var(self) -> F64:
        """Population variance (ddof = 0) per feature (NaN where no value was seen)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n > 0, self.m2 / np.where(self.n > 0, self.n, 1.0), np.nan)

    def update(self, X: NDArray[Any], axis: int, *, omit: bool = False) -> bool:
        """Add a chunk (features along ``axis``); False (state unchanged) if it is not finite."""
        seen = self.n > 0
        shift = np.where(seen, self.shift, np.nan) if seen.any() else None
        if shift is not None and not seen.all():
            # Features never seen yet (all NaN so far) pick their shift from this chunk.
            fresh = chunk_moments(X, axis, None, omit=omit)
            if fresh is None:
                return False
            shift = np.where(seen, self.shift, fresh[1] + fresh[2])
            shift = np.where(np.isfinite(shift), shift, 0.0)
        mom = chunk_moments(X, axis, shift, omit=omit)
        if mom is None:
            return False
        self.merge(*mom)
        return True

    def merge(self, n_b: F64, shift_b: F64, mean_b: F64, m2_b: F64) -> None:
        """Merge the moments of another part of the data (Chan et al. 1979), in place."""
        n_a = self.n
        n = n_a + n_b
        first = (n_a == 0) & (n_b > 0)
        # over: a first merge (n_a = 0) squares a d as large as the data; that value is unused,
        # and a real overflow of m2 is refused by the scaler with the feature named
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            d = (shift_b - self.shift) + (mean_b - self.mean_rel)
            safe_n = np.where(n > 0, n, 1.0)
            mean = self.mean_rel + d * (n_b / safe_n)
            m2 = self.m2 + m2_b + d * d * (n_a * n_b / safe_n)
        keep = n_b == 0
        self.mean_rel = np.where(keep, self.mean_rel, np.where(first, mean_b, mean))
        self.m2 = np.where(keep, self.m2, np.where(first, m2_b, m2))
        self.shift = np.where(first, shift_b, self.shift)
        self.n = n
        self._rebase()

    def merge_moments(self, other: RunningMoments) -> None:
        """Merge another :class:`RunningMoments` into this one, in place."""
        self.merge(other.n, other.shift, other.mean_rel, other.m2)

    def _rebase(self) -> None:
        # Keep the shift near the mean so later chunks need one pass and keep every digit.
        with np.errstate(invalid="ignore", divide="ignore"):
            std = np.sqrt(self.m2 / np.where(self.n > 0, self.n, 1.0))
            far = (np.abs(self.mean_rel) > std) & np.isfinite(self.mean_rel)
        if far.any():
            new_shift = np.where(far, self.shift + self.mean_rel, self.shift)
            self.mean_rel = np.where(far, self.mean_rel - (new_shift - self.shift), self.mean_rel)
            self.shift = new_shift

    def copy(self) -> RunningMoments:
        """An independent copy."""
        return RunningMoments(
            self.n.copy(), self.shift.copy(), self.mean_rel.copy(), self.m2.copy()
        )
