"""LSUV for Flax NNX models: :func:`trainready.init.run_lsuv` over an NNX model's layers.

The algorithm is written once, in :mod:`trainready.init`; :class:`NnxLayers` is the
:class:`trainready.init.LayerwiseModel` view of an NNX model on one batch (the layer outputs are
read by :func:`trainready.jax._layers.intercept`, the weights exchanged in PyTorch's layout).
"""

from __future__ import annotations

from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from numpy.typing import NDArray

from .._rng import RngLike
from .._stats import robust_std
from .._validation import describe, invalid
from ..init import LsuvRow, LsuvTable, run_lsuv
from ._init import torch_shape
from ._layers import Layer, eval_mode, flax_layout, intercept, model_layers

__all__ = ["LsuvRow", "LsuvTable", "NnxLayers", "as_batch", "lsuv_", "run_model"]


class _Stop(Exception):
    """Raised by the hook to end a forward pass once the layer of interest has run."""


def as_batch(X: Any, dtype: Any, *, min_rows: int = 2) -> Any:
    """``X`` as JAX arrays (a NumPy array in ``dtype``, a JAX array as it is); a tuple stays a
    tuple of positional inputs. Refuses too few rows and NaN/inf (ValueError naming ``X``).
    The caller's arrays are not changed (JAX arrays are immutable; NumPy ones are copied)."""
    if isinstance(X, tuple):
        return tuple(as_batch(x, dtype, min_rows=min_rows) for x in X)
    if isinstance(X, np.ndarray):
        X = jnp.array(X, dtype=dtype if np.issubdtype(X.dtype, np.floating) else X.dtype)
    if not isinstance(X, jax.Array):
        raise invalid(
            "X",
            "a batch as a JAX or NumPy array (or a tuple of them)",
            describe(X),
            "pass e.g. jnp.asarray(X)",
            kind=TypeError,
        )
    if jnp.issubdtype(X.dtype, jnp.floating):
        if X.ndim < 1 or X.shape[0] < min_rows:
            raise invalid(
                "X",
                f"a batch of {min_rows} rows or more (rows are examples)",
                f"shape {tuple(X.shape)}",
                "pass a representative batch of many rows",
            )
        if not bool(jnp.isfinite(X).all()):
            raise invalid(
                "X",
                "finite values",
                "NaN or inf in the batch",
                "remove or impute them (see trainready.normalize.audit)",
            )
    return X


def run_model(model: nnx.Module, batch: Any, first: Layer) -> Any:
    """``model(batch)`` (a tuple is unpacked), eagerly (``jax.disable_jit``: the hooks see
    values). A shape error of the forward pass becomes a ValueError naming ``X``."""
    try:
        with jax.disable_jit():
            return model(*batch) if isinstance(batch, tuple) else model(batch)
    except (TypeError, ValueError) as exc:
        width = int(first.kernel.shape[-2])
        unit = "features" if first.kind == "linear" else "channels (last axis)"
        raise invalid(
            "X",
            f"a batch that the model accepts (its first layer {first.name} takes {width} {unit})",
            describe(batch),
            f"pass a batch of that shape (JAX said: {str(exc).splitlines()[0][:200]})",
        ) from exc


class NnxLayers:
    """The Linear/Conv layers of an NNX model on a batch: a :class:`trainready.init.LayerwiseModel`.

    Weights are exchanged in PyTorch's layout (``(out, in, *window)``; the orthonormal start
    is orthonormal in that orientation, as ``trainready.torch.lsuv_``'s). The forward passes run
    in eval mode (``model.eval()``: no dropout, BatchNorm on its running statistics);
    ``commit()`` puts the mode flags back and every other variable (batch statistics, RNG
    counts) as it was, and on failure the kernels and biases too, bit for bit.
    """

    def __init__(self, model: nnx.Module, batch: Any) -> None:
        layers = model_layers(model)
        self.model, self.batch = model, batch
        self.layers = {layer.name: layer for layer in layers}
        self._first = layers[0]
        self._saved = [
            (node, node.get_value())
            for _, node in nnx.iter_graph(model)
            if isinstance(node, nnx.Variable)
        ]
        self._mode = eval_mode(model)
        self._mode.__enter__()

    def _module(self, name: str) -> Any:
        return cast(Any, self.layers[name].module)

    def layer_names(self) -> list[str]:
        return list(self.layers)

    def call_order(self) -> list[str]:
        order: list[str] = []

        def hook(name: str, x: Any, y: Any) -> Any:
            if name not in order:
                order.append(name)
            return y

        with intercept(list(self.layers.values()), hook):
            run_model(self.model, self.batch, self._first)
        if not order:
            raise invalid(
                "model",
                "a forward pass that calls its Linear/Conv layers",
                f"{type(self.model).__name__}(X) calling none of {list(self.layers)}",
                "call the layers in __call__ (a __call__ wrapped in nnx.jit hides them: "
                "remove the decorator for LSUV)",
            )
        return order

    def weight_shape(self, name: str) -> tuple[int, ...]:
        return torch_shape(self.layers[name])

    def set_weight(self, name: str, W: NDArray[np.float64]) -> None:
        kernel = self._module(name).kernel
        kernel[...] = flax_layout(W, kernel[...].dtype)

    def zero_bias(self, name: str) -> None:
        if self.layers[name].has_bias:
            bias = self._module(name).bias
            bias[...] = jnp.zeros_like(bias[...])

    def scale_weight(self, name: str, factor: float) -> None:
        kernel = self._module(name).kernel
        kernel[...] = kernel[...] * jnp.asarray(factor, dtype=kernel[...].dtype)

    def output_std(self, name: str) -> float:
        seen: list[float] = []

        def hook(layer: str, x: Any, y: Any) -> Any:
            if layer == name:
                seen.append(robust_std(np.asarray(y, dtype=np.float64)))
                raise _Stop
            return y

        try:
            with intercept([self.layers[name]], hook):
                run_model(self.model, self.batch, self._first)
        except _Stop:
            pass
        return seen[0]

    def commit(self, ok: bool) -> None:
        try:
            params = {
                id(getattr(layer.module, attr))
                for layer in self.layers.values()
                for attr in ("kernel", "bias")
                if getattr(layer.module, attr, None) is not None
            }
            for var, value in self._saved:
                if not ok or id(var) not in params:
                    var.set_value(value)
        finally:
            self._mode.__exit__(None, None, None)


def lsuv_(
    model: nnx.Module,
    X: Any,
    *,
    tol: float = 0.1,
    max_iter: int = 10,
    rng: RngLike = None,
    orthonormal: bool = True,
) -> LsuvTable:
    """Layer-sequential unit-variance initialization (Mishkin & Matas 2016) in place.

    ``trainready.torch.lsuv_`` for Flax NNX (the same algorithm, :func:`trainready.init.run_lsuv`,
    and the same arguments): orthonormal Linear/Conv kernels (drawn in PyTorch's layout
    ``(out, in * prod(window))`` with a NumPy ``rng``, then transposed to Flax's) and zero
    biases, then, layer by layer in the order the forward pass calls them, the kernel divided by
    the std of the layer's output on ``X`` until ``|Var - 1| < tol``. The passes run eagerly in
    eval mode (no dropout; BatchNorm on its running statistics); mode flags and every other
    variable are restored, so only the kernels and biases change (nothing on an error).

    Args:
        model: a ``flax.nnx.Module`` whose ``__call__`` calls its layers (not wrapped in
            ``nnx.jit``).
        X: the batch, ``(n_samples, ...)`` as ``model(X)`` takes it (Conv: channels last,
            ``(N, H, W, C)``), at least 2 rows, finite; a NumPy array is converted to the first
            kernel's dtype (enable ``jax.enable_x64`` for a float64 model); a tuple is passed as
            positional inputs. Never modified.
        tol: stop when ``|Var - 1| < tol``.
        max_iter: at most this many rescalings per layer.
        rng: NumPy Generator, int seed or None, for the orthonormal matrices.
        orthonormal: start from orthonormal weights (else rescale the current ones).

    Returns:
        An :class:`trainready.init.LsuvTable` (one row per layer the forward pass called).

    Example:
        >>> import numpy as np, trainready as tr
        >>> from flax import nnx
        >>> r = nnx.Rngs(0)
        >>> model = nnx.Sequential(nnx.Linear(16, 64, rngs=r), nnx.relu, nnx.Linear(64, 1, rngs=r))
        >>> X = np.random.default_rng(0).standard_normal((256, 16))
        >>> table = tr.jax.lsuv_(model, X, rng=0)
        >>> table.ok and all(abs(r.variance_after - 1) < 0.1 for r in table)
        True
    """
    layers = model_layers(model)
    view = NnxLayers(model, as_batch(X, layers[0].kernel.dtype))
    return run_lsuv(view, tol=tol, max_iter=max_iter, rng=rng, orthonormal=orthonormal)
