"""Per-layer signal records of a Flax NNX model: one trace, one forward, one backward.

Recording is the only JAX-specific part of the doctor. The model is traced once on a float64 copy of
its state (:func:`~trainready.jax._trace.trace`: a zero *probe* added to every Linear/Conv
output ``z``, the activation after each layer read from the trace); one
``jax.value_and_grad`` of the loss with respect to the probes and the parameters then gives
``dLoss/dz`` for every layer call and the weight gradients in one backward pass. Every
statistic is :class:`trainready.signal.LayerStats`'s (the NumPy reference's routine), so
records agree field by field with :func:`trainready.signal.record` and
:func:`trainready.torch.record`. Flax is channels-last: a layer's units (output features or
channels) are the last axis of ``z``, as the kernel's last axis.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .._rng import RngLike, as_generator
from .._stats import moments
from .._validation import describe, invalid
from ..signal import LayerStats, SignalRecord, probe_gradient
from ._layers import Layer, model_layers, torch_layout
from ._loss_choice import LossLike, resolve_loss
from ._trace import Traced, trace

__all__ = ["as_batch", "as_targets", "record", "trace"]


def as_batch(X: Any) -> np.ndarray:
    """``X`` as a NumPy array of >= 2 rows with finite values (floats as float64 copies)."""
    arr = np.asarray(X)
    if arr.dtype.kind not in "fiub":
        raise invalid("X", "an array of real numbers", describe(X), kind=TypeError)
    if arr.ndim == 0 or arr.shape[0] < 2:
        raise invalid(
            "X",
            "a batch of 2 rows or more (rows are examples)",
            f"shape {arr.shape}",
            "pass a representative batch of many rows",
        )
    if arr.dtype.kind == "f":
        arr = np.array(arr, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise invalid(
                "X",
                "finite values",
                "NaN or inf in the batch",
                "remove or impute them (see trainready.normalize.audit)",
            )
    return arr


def as_targets(y: Any, n_rows: int) -> np.ndarray | None:
    """``y`` as a NumPy array with one row per row of ``X`` (None stays None)."""
    if y is None:
        return None
    t = np.asarray(y)
    if t.dtype.kind not in "fiub":
        raise invalid("y", "an array of real numbers", describe(y), kind=TypeError)
    if t.ndim == 0 or t.shape[0] != n_rows:
        raise invalid(
            "y",
            f"one target per row of X ({n_rows} rows)",
            f"shape {t.shape}",
            "pass y[i] for X[i]",
        )
    return t


def _norm(g: Any) -> float:
    return float(np.linalg.norm(np.asarray(g, dtype=np.float64)))


def record(
    model: nnx.Module, X: Any, y: Any = None, *, loss: LossLike = None, rng: RngLike = 0
) -> SignalRecord:
    """Per-layer statistics of an NNX ``model`` on the batch ``X``, forward and backward, in
    float64.

    Every Linear/Conv call is one :class:`trainready.signal.LayerRecord` (in call order, named
    by its path in the model, ``"layers/0"``; a second call of the same layer gets ``"#2"``).
    The model runs on a float64 copy of its state; the model itself is never changed.

    Args:
        model: a ``flax.nnx.Module`` (``nnx.Sequential``, or your module with a ``__call__``).
        X: the input batch, ``(n_samples, ...)`` (NHWC images for ``nnx.Conv``), >= 2 rows.
        y: targets: the backward pass starts from ``loss(model(X), y)``; None: from a seeded
            standard normal probe gradient ``G`` at the output (``mean over rows of <G_i,
            out_i>``), the rule of :func:`trainready.signal.record`.
        loss: ``loss(output, y) -> scalar`` (JAX), ``"cross_entropy"``, ``"mse"``, ``"bce"``,
            or None: picked from ``y`` (:func:`~trainready.jax._loss_choice.pick_loss`).
        rng: seed of the probe gradient.

    Returns:
        A :class:`trainready.signal.SignalRecord`.

    Example:
        >>> import jax, numpy as np, trainready as tr
        >>> from flax import nnx
        >>> model = nnx.Sequential(nnx.Linear(4, 8, rngs=nnx.Rngs(0)), jax.nn.relu,
        ...                        nnx.Linear(8, 1, rngs=nnx.Rngs(1)))
        >>> rec = tr.jax.record(model, np.ones((16, 4)))
        >>> [(r.name, r.activation, r.fan_out) for r in rec.layers]
        [('layers/0', 'relu', 8), ('layers/2', 'linear', 1)]
    """
    layers = model_layers(model)
    x = as_batch(X)
    t = as_targets(y, x.shape[0])
    return _record(model, layers, x, t, loss, rng, weight_grads=True)


def _record(
    model: nnx.Module,
    layers: list[Layer],
    x: np.ndarray,
    t: np.ndarray | None,
    loss: LossLike,
    rng: RngLike,
    *,
    weight_grads: bool,
) -> SignalRecord:
    gen = as_generator(rng)
    with jax.enable_x64(True):
        tr = trace(model, x)
        out_shape = tr.out_shape
        if t is not None:
            fn = resolve_loss(loss, out_shape, t)
            target = jnp.asarray(t, jnp.float64) if t.dtype.kind == "f" else jnp.asarray(t)
            source = "loss"
        else:
            G = jnp.asarray(probe_gradient(out_shape, gen))
            source = "probe"

        def value(leaves: list[Any], probes: list[Any]) -> tuple[Any, Any]:
            out, zs, acts = tr.run(leaves, probes)
            v = fn(out, target) if t is not None else jnp.sum(G * out)
            return v, (zs, acts)

        argnums = (0, 1) if weight_grads else (1,)
        (_, (zs, acts)), grads = jax.value_and_grad(value, argnums=argnums, has_aux=True)(
            tr.leaves, _z(tr)
        )
        deltas = grads[-1]
        gmap = dict(zip(tr.names, grads[0], strict=True)) if weight_grads else {}
        params = dict(zip(tr.names, tr.leaves, strict=True))
        records, seen, k_act = [], dict[str, int](), 0
        for i, name in enumerate(tr.calls):
            seen[name] = seen.get(name, 0) + 1
            bias = params.get(f"{name}/bias")
            st = LayerStats(
                index=i + 1,
                name=name if seen[name] == 1 else f"{name}#{seen[name]}",
                W=torch_layout(params[f"{name}/kernel"]),
                b=None if bias is None else np.asarray(bias),
                hidden=i + 1 < len(tr.calls),
                unit_axis=len(tr.shapes[i]) - 1,  # channels last, Linear and Conv alike
            )
            st.dense(np.asarray(zs[i]))
            act = tr.activations[i]
            if act is not None:
                st.activation_input(np.asarray(acts[k_act]), act)
                st.activation_output(np.asarray(acts[k_act + 1]), act)
                k_act += 2
            st.delta(np.asarray(deltas[i]))
            gW, gb = gmap.get(f"{name}/kernel"), gmap.get(f"{name}/bias")
            records.append(
                st.finish(
                    weight_grad_norm=_norm(gW) if weight_grads else None,
                    bias_grad_norm=0.0 if bias is None else _norm(gb) if weight_grads else None,
                )
            )
    _, x_std, x_rms = moments(x) if x.dtype.kind == "f" else (0.0, math.nan, math.nan)
    return SignalRecord(
        layers=tuple(records),
        n_samples=int(out_shape[0]) if out_shape else 1,
        input_std=x_std,
        input_rms=x_rms,
        gradient_source=source,
    )


def _z(tr: Traced) -> list[Any]:
    return [jnp.zeros(s, jnp.float64) for s in tr.shapes]
