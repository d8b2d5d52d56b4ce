"""Per-layer signal records of a Flax NNX model: one trace, one forward, one backward.

Recording is the only JAX-specific part of the doctor. The model runs on a float64 copy of its
state (``nnx.split``, cast, ``nnx.merge``, inside ``jax.enable_x64(True)``) with every
Linear/Conv call routed through :func:`~trainready.jax._layers.intercept`, whose hook adds a
zero *probe* array to the layer's output ``z``: the gradient of the loss with respect to the
probes is ``dLoss/dz`` for every layer call at once. The forward is traced once
(``jax.make_jaxpr``); the activation applied after each layer is read from that trace (the
first activation after the layer's call and before the next one's, as PyTorch's recorder
sees it), and the trace is then evaluated with those intermediate values as extra outputs.
Every statistic is :class:`trainready.signal.LayerStats`'s (the NumPy reference's routine), so
records agree field by field with :func:`trainready.signal.record` and
:func:`trainready.torch.record`. Flax is channels-last: a layer's units (output features or
channels) are the last axis of ``z``, as the kernel's last axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.extend.core as jcore
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .._rng import RngLike, as_generator
from .._stats import moments
from .._validation import describe, invalid
from ..signal import LayerStats, SignalRecord, probe_gradient
from ._layers import Layer, find_layers, intercept, torch_layout
from ._loss_choice import LossLike, resolve_loss
from ._tree import is_floating_leaf, leaf_name

__all__ = ["Traced", "as_batch", "as_targets", "checked_model", "record", "trace"]

# jax.nn's names (jit names, or the function a traced op comes from) -> the doctor's names
_ACTIVATIONS = {
    **{n: n for n in ("relu", "relu6", "leaky_relu", "tanh", "sigmoid", "gelu", "silu", "elu")},
    **{n: n for n in ("selu", "celu", "mish", "softplus", "softmax")},
    "hard_tanh": "tanh",
    "soft_sign": "tanh",
    "log_sigmoid": "sigmoid",
    "hard_sigmoid": "sigmoid",
    "swish": "silu",
    "hard_silu": "hardswish",
    "hard_swish": "hardswish",
    "log_softmax": "softmax",
}
_PRIMITIVES = {"tanh": "tanh", "logistic": "sigmoid"}
_NN_FILE = "nn/functions.py"


def checked_model(model: Any) -> list[Layer]:
    """The model's layers; TypeError for a non-NNX model or complex weights, ValueError for
    none."""
    layers = find_layers(model)
    if not layers:
        raise ValueError(
            f"model: {type(model).__name__} has no flax.nnx.Linear or nnx.Conv layer to record; "
            "pass the network that holds them"
        )
    for path, value in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        arr = value.get_value() if isinstance(value, nnx.Variable) else value
        if jnp.iscomplexobj(arr):
            raise invalid(
                f"model parameter {'/'.join(map(str, path))!r}",
                "a real floating array",
                f"dtype {arr.dtype}",
                "the signal statistics need real weights",
                kind=TypeError,
            )
    return layers


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


def _nn_frame(eqn: Any) -> tuple[str, tuple[Any, ...]] | None:
    """The jax.nn function an op was traced inside (gelu and softmax are inlined), and its
    call site (which tells two calls apart)."""
    tb = eqn.source_info.traceback
    frames = list(tb.frames) if tb is not None else []
    for i, fr in enumerate(frames):
        if fr.file_name.replace("\\", "/").endswith(_NN_FILE) and fr.function_name in _ACTIVATIONS:
            site = tuple((f.file_name, f.line_num) for f in frames[i:])
            return _ACTIVATIONS[fr.function_name], site
    return None


def _activation(eqn: Any) -> tuple[str, Any] | None:
    """``(activation, group key)`` when ``eqn`` is (the start of) an activation call."""
    found = _nn_frame(eqn)
    if found is not None:
        return found
    prim = eqn.primitive.name
    if prim == "custom_jvp_call":
        inner = eqn.params["call_jaxpr"].jaxpr.eqns
        name = inner[0].params.get("name") if len(inner) == 1 else None
        return (_ACTIVATIONS[name], None) if name in _ACTIVATIONS else None
    if prim in ("jit", "pjit"):
        name = eqn.params.get("name")
        return (_ACTIVATIONS[name], None) if name in _ACTIVATIONS else None
    return (_PRIMITIVES[prim], None) if prim in _PRIMITIVES else None


def _first_activation(eqns: Sequence[Any], start: int, stop: int) -> tuple[str, Any, Any] | None:
    """``(name, input var, output var)`` of the first activation in ``eqns[start:stop]``."""
    for i in range(start, stop):
        act = _activation(eqns[i])
        if act is None:
            continue
        j = i
        if act[1] is not None:
            while j + 1 < stop and _nn_frame(eqns[j + 1]) == act:
                j += 1
        out = eqns[j].outvars[0]
        ins = [v for v in eqns[i].invars if isinstance(v, jcore.Var)]
        same = [v for v in ins if v.aval.shape == out.aval.shape]
        return act[0], (same or ins)[0], out
    return None


@dataclass
class Traced:
    """A model's forward on one batch, traced once, with its layer calls and activations.

    ``run(param_leaves, probes)`` returns ``(output, z per call, (act in, act out) per
    call with an activation)``; ``calls`` are the layer names in call order,
    ``activations`` the activation after each call (None: none seen).
    """

    run: Callable[[list[Any], list[Any]], tuple[Any, list[Any], list[Any]]]
    leaves: list[Any]
    names: list[str]
    calls: list[str]
    shapes: list[tuple[int, ...]]
    activations: list[str | None]
    out_shape: tuple[int, ...]


def _float64(tree: Any) -> Any:
    return jax.tree.map(lambda a: jnp.array(a, jnp.float64) if is_floating_leaf(a) else a, tree)


def trace(model: nnx.Module, x: np.ndarray) -> Traced:
    """Trace ``model`` on ``x`` in float64 (call inside ``jax.enable_x64(True)``)."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    flat, treedef = jax.tree_util.tree_flatten_with_path(_float64(params))
    leaves = [leaf for _, leaf in flat]
    names = [leaf_name(path).removesuffix("/value") for path, _ in flat]
    rest64 = _float64(rest)
    calls: list[str] = []
    shapes: list[tuple[int, ...]] = []

    def forward(leaves: list[Any], xin: Any, probes: list[Any] | None) -> Any:
        m = nnx.merge(graphdef, jax.tree_util.tree_unflatten(treedef, leaves), rest64)
        for _, node in nnx.iter_graph(m):
            dtype = getattr(node, "dtype", None) if isinstance(node, nnx.Module) else None
            if isinstance(dtype, type | np.dtype) and jnp.issubdtype(dtype, jnp.floating):
                node.dtype = jnp.float64  # a layer set to compute in float32 computes in float64
        count = [0]

        def hook(name: str, _: Any, z: Any) -> Any:
            i, count[0] = count[0], count[0] + 1
            if probes is None:
                calls.append(name)
                shapes.append(tuple(z.shape))
                return z
            return z + probes[i]

        with intercept(find_layers(m), hook):
            return m(xin)

    xin = jnp.asarray(x, jnp.float64) if x.dtype.kind == "f" else jnp.asarray(x)
    jax.eval_shape(lambda lv: forward(lv, xin, None), leaves)
    if not calls:
        raise ValueError("model: the forward pass called none of its Linear/Conv layers")
    zeros = [jnp.zeros(s, jnp.float64) for s in shapes]
    closed, out_shape = jax.make_jaxpr(lambda lv, pr: forward(lv, xin, pr), return_shape=True)(
        leaves, zeros
    )
    jaxpr = closed.jaxpr
    eqns = jaxpr.eqns
    probe_vars = jaxpr.invars[len(leaves) :]
    marks: list[int] = []
    for p in probe_vars:
        at = [i for i, e in enumerate(eqns) if any(v is p for v in e.invars)]
        if not at:
            raise ValueError(
                "model: its Linear/Conv layers are called inside a jax transformation of its "
                "own __call__ (nnx.jit, nnx.scan, ...); diagnose a module whose __call__ calls "
                "its layers directly"
            )
        marks.append(at[0])
    zs = [eqns[i].outvars[0] for i in marks]
    acts = [
        _first_activation(eqns, m + 1, marks[k + 1] if k + 1 < len(marks) else len(eqns))
        for k, m in enumerate(marks)
    ]
    extra = [v for a in acts if a is not None for v in a[1:]]
    n_out = len(jaxpr.outvars)
    outvars = [*jaxpr.outvars, *zs, *extra]
    dbg = jaxpr.debug_info.with_unknown_names()._replace(result_paths=None)
    ext = jaxpr.replace(outvars=outvars, debug_info=dbg.with_unknown_names())
    fun = jcore.jaxpr_as_fun(jcore.ClosedJaxpr(ext, closed.consts))
    out_tree = jax.tree_util.tree_structure(out_shape)

    def run(leaves: list[Any], probes: list[Any]) -> tuple[Any, list[Any], list[Any]]:
        outs = fun(*leaves, *probes)
        out = jax.tree_util.tree_unflatten(out_tree, outs[:n_out])
        return out, list(outs[n_out : n_out + len(zs)]), list(outs[n_out + len(zs) :])

    if not isinstance(out_shape, jax.ShapeDtypeStruct):
        raise TypeError(
            f"model: expected it to return one array, got {describe(out_shape)}; diagnose a "
            "module that returns the network's output"
        )
    activations = [None if a is None else a[0] for a in acts]
    return Traced(run, leaves, names, calls, shapes, activations, tuple(out_shape.shape))


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
    layers = checked_model(model)
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
