"""One trace of an NNX model's forward: its Linear/Conv calls, probes, and activations.

:func:`trace` runs the model on a float64 copy of its state (``nnx.split``, cast,
``nnx.merge``; call it inside ``jax.enable_x64(True)``) with every Linear/Conv call routed
through :func:`~trainready.jax._layers.intercept`, whose hook adds a zero *probe* array to the
layer's output ``z`` (the gradient with respect to the probes is ``dLoss/dz``). The forward
is traced once with ``jax.make_jaxpr``; the activation after each layer call is read from the
trace, as PyTorch's recorder sees it: the first activation after the call and before the next
layer call (``jax.nn``'s jit-ed and custom-jvp activations by name, ``tanh``/``logistic``
primitives, and ops traced inside ``jax.nn.gelu``/``softmax``, which are inlined, by their
source frame). The traced program is then evaluated with those intermediate values (``z``,
activation input and output) as extra outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.extend.core as jcore
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .._validation import describe
from ._activations import JAX_NAMES
from ._layers import find_layers, intercept
from ._tree import is_floating_leaf, leaf_name

__all__ = ["Traced", "trace"]

# jax.nn's names (jit names, or the function a traced op comes from) -> the doctor's names
_ACTIVATIONS = JAX_NAMES
_PRIMITIVES = {"tanh": "tanh", "logistic": "sigmoid"}
_NN_FILE = "nn/functions.py"


def _nn_frame(eqn: Any) -> tuple[str, Any] | None:
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
        out: Any = eqns[j].outvars[0]
        ins: list[Any] = [v for v in eqns[i].invars if isinstance(v, jcore.Var)]
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
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)  # type: ignore[misc]
    flat, treedef = jax.tree_util.tree_flatten_with_path(_float64(params))
    leaves = [leaf for _, leaf in flat]
    names = [leaf_name(path).removesuffix("/value") for path, _ in flat]
    # the other state (batch statistics, RNG counts) enters the trace as inputs too, so a
    # BatchNorm in training mode may update its statistics there (on the copy, discarded)
    rest_leaves, rest_def = jax.tree_util.tree_flatten(_float64(rest))
    calls: list[str] = []
    shapes: list[tuple[int, ...]] = []

    def forward(leaves: list[Any], state: list[Any], xin: Any, probes: list[Any] | None) -> Any:
        m = nnx.merge(
            graphdef,
            jax.tree_util.tree_unflatten(treedef, leaves),
            jax.tree_util.tree_unflatten(rest_def, state),
        )
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
    jax.eval_shape(lambda lv, st: forward(lv, st, xin, None), leaves, rest_leaves)
    if not calls:
        raise ValueError("model: the forward pass called none of its Linear/Conv layers")
    zeros = [jnp.zeros(s, jnp.float64) for s in shapes]
    closed, out_shape = jax.make_jaxpr(
        lambda lv, st, pr: forward(lv, st, xin, pr), return_shape=True
    )(leaves, rest_leaves, zeros)
    jaxpr = closed.jaxpr
    eqns = jaxpr.eqns
    probe_vars = jaxpr.invars[len(leaves) + len(rest_leaves) :]
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
        outs = fun(*leaves, *rest_leaves, *probes)
        out = jax.tree_util.tree_unflatten(out_tree, outs[:n_out])
        return out, list(outs[n_out : n_out + len(zs)]), list(outs[n_out + len(zs) :])

    if not isinstance(out_shape, jax.ShapeDtypeStruct):
        raise TypeError(
            f"model: expected it to return one array, got {describe(out_shape)}; diagnose a "
            "module that returns the network's output"
        )
    activations = [None if a is None else a[0] for a in acts]
    return Traced(run, leaves, names, calls, shapes, activations, tuple(out_shape.shape))
