"""The layers of the reference network, each backward written beside its forward.

Layers hold no parameters and no state: parameters come in as arguments (from the network's
``params`` dict), every forward returns an explicit cache, and every backward takes that cache.
Optional ``out=`` buffers let :class:`trainready.nn.MLP` reuse memory between steps; arrays keep
their dtype.

Shapes: ``x`` is ``(m, n_in)`` (rows are examples), a dense ``W`` is ``(n_out, n_in)`` and ``b``
``(n_out,)``; the dense layer computes ``x @ W.T + b`` (as ``torch.nn.Linear``).

Example:
    >>> import numpy as np
    >>> x = np.ones((4, 3)); W = np.ones((2, 3)); b = np.zeros(2)
    >>> z, cache = Dense.forward(x, W, b)
    >>> dx, dW, db = Dense.backward(np.ones((4, 2)), cache, W)
    >>> z.shape, dx.shape, dW.shape, db.shape
    ((4, 2), (4, 3), (2, 3), (2,))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["BatchNorm", "BatchNormCache", "Dense", "Dropout"]

Array = NDArray[Any]


class Dense:
    """A fully connected layer ``z = x @ W.T + b``; the cache is the input ``x``."""

    @staticmethod
    def forward(x: Array, W: Array, b: Array, *, out: Array | None = None) -> tuple[Array, Array]:
        """Return ``(z, cache)``: ``z = x @ W.T + b`` of shape ``(m, n_out)``; cache is ``x``."""
        z = np.matmul(x, W.T, out=out)
        z += b
        return z, x

    @staticmethod
    def backward(
        dz: Array,
        cache: Array,
        W: Array,
        *,
        need_dx: bool = True,
        dx_out: Array | None = None,
        dW_out: Array | None = None,
        db_out: Array | None = None,
        need_dW: bool = True,
    ) -> tuple[Array | None, Array, Array]:
        """Return ``(dx, dW, db)`` given ``dz`` (m, n_out) and the forward's cache.

        ``dW = dz.T @ x`` (n_out, n_in), ``db = dz.sum(0)`` (n_out,), ``dx = dz @ W`` (m, n_in);
        ``dx`` is None when ``need_dx`` is False (the first layer needs no input gradient);
        without ``need_dW``, ``dW`` is an empty ``(0, n_in)`` array (a watcher that needs only
        dLoss/dz skips a third of the backward pass).
        """
        dW = np.matmul(dz.T, cache, out=dW_out) if need_dW else np.empty((0, W.shape[1]), W.dtype)
        db = np.add.reduce(dz, axis=0, out=db_out)
        dx = np.matmul(dz, W, out=dx_out) if need_dx else None
        return dx, dW, db


class Dropout:
    """Inverted dropout (Srivastava et al. 2014): keep each unit with probability ``keep_prob``
    and divide the kept ones by ``keep_prob``, so nothing changes at test time.

    The cache is the scaled mask ``(u < keep_prob) / keep_prob`` (the dtype of ``a``).
    """

    @staticmethod
    def forward(
        a: Array, keep_prob: float, rng: np.random.Generator, *, out: Array | None = None
    ) -> tuple[Array, Array]:
        """Return ``(a * mask, mask)``; ``out`` may not be ``a`` if ``a`` is needed later."""
        dtype = a.dtype if a.dtype in (np.float32, np.float64) else np.float64
        u = rng.random(a.shape, dtype=dtype)
        mask = np.less(u, keep_prob, out=np.empty(a.shape, dtype=bool)).astype(a.dtype)
        mask *= 1 / keep_prob
        return np.multiply(a, mask, out=out), mask

    @staticmethod
    def backward(da: Array, cache: Array, *, out: Array | None = None) -> Array:
        """Return ``da * mask`` (``out`` may be ``da``)."""
        return np.multiply(da, cache, out=out)


@dataclass(frozen=True)
class BatchNormCache:
    """What batch norm's backward needs: the normalized input, 1/std, and the mode."""

    xhat: Array
    inv_std: Array
    train: bool


class BatchNorm:
    """Batch normalization (Ioffe & Szegedy 2015) over the rows of ``x`` (m, n).

    Train mode normalizes with the batch mean and (biased) variance and returns them so that the
    caller can update its running statistics; eval mode uses the running statistics. The
    backward is the compact form (with ``dxh = dy * gamma``, N rows)::

        dbeta = sum dy,  dgamma = sum dy * xh,
        dx = (N dxh - sum dxh - xh * sum(dxh * xh)) / (N sqrt(var + eps))

    Running statistics follow PyTorch: ``running = (1 - momentum) running + momentum batch`` with
    the *unbiased* batch variance, momentum 0.1, eps 1e-5.
    """

    @staticmethod
    def forward(
        x: Array,
        gamma: Array,
        beta: Array,
        *,
        train: bool,
        running_mean: Array | None = None,
        running_var: Array | None = None,
        eps: float = 1e-5,
        out: Array | None = None,
    ) -> tuple[Array, BatchNormCache, tuple[Array, Array] | None]:
        """Return ``(y, cache, batch_stats)``; ``batch_stats`` is ``(mean, var)`` in train mode.

        Raises:
            ValueError: train mode with fewer than 2 rows (the variance is undefined), or eval
                mode without running statistics.
        """
        if train:
            if x.shape[0] < 2:
                raise ValueError(
                    f"batch norm in train mode needs at least 2 examples per batch; got "
                    f"{x.shape[0]}. Use a larger batch_size."
                )
            mean = x.mean(axis=0)
            xhat = np.subtract(x, mean, out=np.empty_like(x))
            var = np.einsum("ij,ij->j", xhat, xhat) / x.shape[0]
            stats: tuple[Array, Array] | None = (mean, var)
        else:
            if running_mean is None or running_var is None:
                raise ValueError("batch norm in eval mode needs running_mean and running_var.")
            xhat = np.subtract(x, running_mean, out=np.empty_like(x))
            var = running_var
            stats = None
        inv_std = 1 / np.sqrt(var + eps)
        inv_std = inv_std.astype(x.dtype, copy=False)
        xhat *= inv_std
        y = np.multiply(xhat, gamma, out=out)
        y += beta
        return y, BatchNormCache(xhat, inv_std, train), stats

    @staticmethod
    def backward(
        dy: Array, cache: BatchNormCache, gamma: Array, *, out: Array | None = None
    ) -> tuple[Array, Array, Array]:
        """Return ``(dx, dgamma, dbeta)``; ``out`` (may be ``dy``) receives ``dx``."""
        xh = cache.xhat
        dbeta = dy.sum(axis=0)
        dgamma = np.einsum("ij,ij->j", dy, xh)
        if not cache.train:
            return np.multiply(dy, gamma * cache.inv_std, out=out), dgamma, dbeta
        n = dy.shape[0]
        # dxh = dy * gamma; sum dxh = gamma dbeta; sum dxh * xh = gamma dgamma
        dx = np.multiply(xh, gamma * dgamma, out=out if out is not dy else None)
        np.subtract(dy * (n * gamma), dx, out=dx)
        dx -= gamma * dbeta
        dx *= cache.inv_std / n
        if out is dy:
            np.copyto(dy, dx)
            dx = dy
        return dx, dgamma, dbeta

    @staticmethod
    def update_running(
        running_mean: Array,
        running_var: Array,
        stats: tuple[Array, Array],
        n: int,
        momentum: float = 0.1,
    ) -> None:
        """Update running statistics in place from a train-mode batch of ``n`` rows."""
        mean, var = stats
        unbiased = var * (n / (n - 1))
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += momentum * unbiased
