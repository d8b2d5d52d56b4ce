"""Statistics of a ``dask.array`` with dask's own scheduler.

Each block computes its exact moments (or min/max) where it lives; the per-block results are
merged pairwise in a tree with Chan's formula (``dask.delayed``), and one ``dask.compute`` call runs
the graph on whatever scheduler is active: threads by default, the cluster when a
``dask.distributed.Client`` exists. Only per-feature vectors travel, never the data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._optional import require
from ._moments import RunningMoments, chunk_moments

__all__ = ["check_dask_input", "dask_minmax", "dask_moments"]

Moments = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]


def check_dask_input(X: Any, axis: int | None, estimator: str) -> int:
    """Validate a dask array's dtype and shape; return the feature axis."""
    if np.issubdtype(X.dtype, np.complexfloating):
        raise ValueError(f"Complex data not supported: the dask array has dtype {X.dtype}.")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ValueError(f"the dask array must hold numbers; got dtype {X.dtype}.")
    if X.ndim < 2:
        raise ValueError(
            f"Expected 2D array, got {X.ndim}D dask array instead. Reshape your data either using "
            "array.reshape(-1, 1) if your data has a single feature or array.reshape(1, -1) if it "
            "contains a single sample."
        )
    if X.shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required by "
            f"{estimator}. X: expected a dask array with at least one row; pass the training data."
        )
    if axis is None:
        if X.ndim != 2:
            raise ValueError(
                f"Found array with dim {X.ndim} while {estimator} expected <= 2 without an axis. "
                "Pass axis=1 for (N, C, H, W) or axis=-1 for (N, H, W, C)."
            )
        return 1
    ax = axis + X.ndim if axis < 0 else axis
    if not 1 <= ax < X.ndim:
        raise ValueError(
            f"axis={axis} is not a feature axis of a dask array of shape {X.shape}; axis 0 holds "
            "the samples."
        )
    if X.shape[ax] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required by "
            f"{estimator}."
        )
    return ax


def _as_float(block: NDArray[Any]) -> NDArray[Any]:
    if block.dtype.type in (np.float64, np.float32, np.float16):
        return block
    return block.astype(np.float64)


def _block_moments(block: NDArray[Any], axis: int, omit: bool) -> tuple[Moments, NDArray[Any]]:
    """Exact moments of one block and its non-finite counts per feature."""
    x = _as_float(block)
    n_feat = x.shape[axis]
    if x.size == 0:
        z = np.zeros(n_feat)
        return (z, z.copy(), z.copy(), z.copy()), np.zeros(n_feat, np.int64)
    mom = chunk_moments(x, axis, None, omit=False)
    if mom is not None:
        return mom, np.zeros(n_feat, np.int64)
    mom = chunk_moments(x, axis, None, omit=True)
    assert mom is not None  # omit=True always returns moments
    bad = (x.size // n_feat - mom[0]).astype(np.int64)
    return mom, bad


def _merge_moments(
    a: tuple[Moments, NDArray[Any]], b: tuple[Moments, NDArray[Any]]
) -> tuple[Moments, NDArray[Any]]:
    rm = RunningMoments(*(v.copy() for v in a[0]))
    rm.merge(*b[0])
    return (rm.n, rm.shift, rm.mean_rel, rm.m2), a[1] + b[1]


def _block_minmax(block: NDArray[Any], axis: int) -> tuple[Any, ...]:
    x = _as_float(block)
    others = tuple(i for i in range(x.ndim) if i != axis)
    n_feat = x.shape[axis]
    if x.size == 0:
        inf = np.full(n_feat, np.inf)
        return inf, -inf, np.zeros(n_feat, np.int64), 0
    fin = np.isfinite(x)
    mn = np.where(fin, x, np.inf).min(axis=others).astype(np.float64)
    mx = np.where(fin, x, -np.inf).max(axis=others).astype(np.float64)
    bad = np.add.reduce(~fin, axis=others).astype(np.int64)
    return mn, mx, bad, x.size // n_feat


def _merge_minmax(a: tuple[Any, ...], b: tuple[Any, ...]) -> tuple[Any, ...]:
    return np.minimum(a[0], b[0]), np.maximum(a[1], b[1]), a[2] + b[2], a[3] + b[3]


def _tree(items: list[Any], merge: Any) -> Any:
    dask = require("dask", "fitting a scaler on a dask array")
    merge_d = dask.delayed(merge, pure=True)
    while len(items) > 1:
        nxt = [merge_d(items[i], items[i + 1]) for i in range(0, len(items) - 1, 2)]
        if len(items) % 2:
            nxt.append(items[-1])
        items = nxt
    return items[0]


def _per_feature_block(X: Any, axis: int, fn: Any, merge: Any, *args: Any) -> list[Any]:
    dask = require("dask", "fitting a scaler on a dask array")
    blocks = X.to_delayed()
    fn_d = dask.delayed(fn, pure=True)
    graphs = []
    for j in range(blocks.shape[axis]):
        sel = np.take(blocks, j, axis=axis).ravel().tolist()
        graphs.append(_tree([fn_d(b, axis, *args) for b in sel], merge))
    return list(dask.compute(*graphs))


def _nonfinite(bad: NDArray[Any], what: str) -> ValueError:
    idx = np.flatnonzero(bad)
    detail = ", ".join(f"{int(i)} ({int(bad[i])} values)" for i in idx[:8])
    return ValueError(
        f"Input X (a dask array) contains NaN or inf in {what}: feature(s) {detail}. Clean them, "
        "or pass nan_policy='omit' to fit around them."
    )


def dask_moments(X: Any, axis: int, *, omit: bool) -> RunningMoments | ValueError:
    """Exact per-feature moments of a dask array, computed by dask's scheduler.

    Returns a :class:`RunningMoments`, or (not raises) a ValueError when the data holds NaN/inf
    and ``omit`` is False.
    """
    parts = _per_feature_block(X, axis, _block_moments, _merge_moments, omit)
    n, shift, mean, m2 = (np.concatenate([p[0][k] for p in parts]) for k in range(4))
    bad = np.concatenate([p[1] for p in parts])
    if not omit and bad.any():
        return _nonfinite(bad, "fit")
    return RunningMoments(n, shift, mean, m2)


def dask_minmax(
    X: Any, axis: int, *, omit: bool
) -> tuple[NDArray[np.float64], NDArray[np.float64], int] | ValueError:
    """Per-feature minimum, maximum (finite values) and values per feature of a dask array."""
    parts = _per_feature_block(X, axis, _block_minmax, _merge_minmax)
    mn = np.concatenate([p[0] for p in parts])
    mx = np.concatenate([p[1] for p in parts])
    bad = np.concatenate([p[2] for p in parts])
    n = int(parts[0][3])
    if not omit and bad.any():
        return _nonfinite(bad, "fit")
    empty = ~np.isfinite(mn) & (mn > 0)
    mn[empty] = np.nan
    mx[empty] = np.nan
    return mn, mx, n
