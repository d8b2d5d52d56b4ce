"""Which activation follows each Linear/Conv of an NNX model: read from a Sequential, or traced.

Two sources, tried in this order for each layer (an explicit ``activation=`` wins over both):

1. **Structure.** In an ``nnx.Sequential`` the first known activation function after a layer and
   before the next layer is its activation (``jax.nn.relu``, ``nnx.relu``, ``jnp.tanh``,
   ``nnx.gelu``, ``functools.partial(jax.nn.leaky_relu, negative_slope=0.2)``, ...); modules
   without layers (BatchNorm, Dropout, LayerNorm) are skipped, the next layer or the end of the
   model means none (``"linear"``). Another callable (a ``lambda``) leaves the layer undecided.
2. **Tracing** (any ``__call__``): the model runs under ``jax.make_jaxpr`` in eval mode with
   each layer's output tagged (a named identity ``jit``, placed by
   :func:`trainready.jax._layers.intercept`); the first operation that consumes the tagged value
   -- looking through elementwise affine steps (BatchNorm, a residual add, reshapes, pooling) and
   into calls -- names the activation: ``jit[name=leaky_relu]`` and the other ``jax.nn`` names,
   ``max(z, 0)`` -> relu, ``tanh``, ``logistic`` -> sigmoid, ``erf``/``z**3`` -> gelu, ``exp`` ->
   softmax. A value that only reaches the next layer or the output means ``"linear"``; an
   operation not in this list leaves the layer undecided (``init_`` then assumes ``"linear"`` and
   warns). Tracing needs an example input: the ``X`` given, else a guess from the first layer's
   input width (2 rows of zeros), which a model that is not a plain MLP may refuse.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.extend.core as jcore
import jax.numpy as jnp
from flax import nnx

from ._layers import Layer, eval_mode, find_layers, intercept

__all__ = ["Found", "activation_of", "from_sequential", "from_trace", "guess_input"]

#: ``(activation name, negative slope or None)``.
Found = tuple[str, float | None]

#: ``jax.nn`` function name -> trainready's activation name (the gain table's names).
JAX_NAMES: dict[str, str] = {
    "relu": "relu",
    "relu6": "relu6",
    "leaky_relu": "leaky_relu",
    "tanh": "tanh",
    "hard_tanh": "tanh",
    "soft_sign": "tanh",
    "sigmoid": "sigmoid",
    "hard_sigmoid": "sigmoid",
    "log_sigmoid": "sigmoid",
    "gelu": "gelu",
    "silu": "silu",
    "swish": "silu",
    "elu": "elu",
    "celu": "celu",
    "mish": "mish",
    "softplus": "softplus",
    "hard_silu": "hardswish",
    "hard_swish": "hardswish",
    "selu": "selu",
    "softmax": "softmax",
    "log_softmax": "softmax",
}
_BY_ID: dict[int, str] = {
    id(fn): name
    for jax_name, name in JAX_NAMES.items()
    if (fn := getattr(jax.nn, jax_name, None)) is not None
} | {id(jnp.tanh): "tanh"}

#: Primitives that pass the pre-activation on elementwise (or by pooling/reshaping) unchanged in
#: kind: BatchNorm's affine steps, a residual add, dropout in eval mode, flatten, pooling.
_TRANSPARENT = frozenset(
    "add add_any sub mul div neg convert_element_type reshape squeeze expand_dims "
    "broadcast_in_dim transpose copy copy_p rev slice concatenate pad reduce_window_max "
    "reduce_window_sum reduce_window reduce_precision".split()
)
#: Primitives that end the search without naming an activation: the next layer, statistics.
_STRUCTURAL = frozenset(
    "dot_general conv_general_dilated reduce_sum reduce_max reduce_min reduce_prod argmax "
    "argmin stop_gradient rsqrt sqrt square".split()
)
_PRIMITIVES = {
    "tanh": "tanh",
    "logistic": "sigmoid",
    "erf": "gelu",
    "erfc": "gelu",
    "exp": "softmax",
}
_TAG = "_trainready_layer_output_"


def activation_of(fn: Any) -> Found | None:
    """``(name, negative slope or None)`` for a known activation function, else None.

    Example:
        >>> import functools, jax
        >>> activation_of(functools.partial(jax.nn.leaky_relu, negative_slope=0.2))
        ('leaky_relu', 0.2)
        >>> activation_of(jax.nn.relu), activation_of(print)
        (('relu', None), None)
    """
    base, args, kwargs = fn, (), {}
    if isinstance(fn, functools.partial):
        base, args, kwargs = fn.func, fn.args, dict(fn.keywords)
    name = _BY_ID.get(id(base))
    if name is None:
        return None
    if name != "leaky_relu":
        return name, None
    slope = kwargs.get("negative_slope", args[0] if args else None)
    return name, None if slope is None else float(slope)


def from_sequential(model: nnx.Module, layers: Sequence[Layer]) -> dict[str, Found]:
    """The activations a ``nnx.Sequential`` (the model or one inside it) decides by its order."""
    by_id = {id(layer.module): layer.name for layer in layers}
    found: dict[str, Found] = {}
    for path, node in nnx.iter_graph(model):
        if not isinstance(node, nnx.Sequential):
            continue
        items = list(node.layers)
        for i, item in enumerate(items):
            name = by_id.get(id(item))
            if name is None:
                continue
            decided: Found | None = ("linear", None) if not path else None  # end of the model
            for nxt in items[i + 1 :]:
                if isinstance(nxt, nnx.Module):
                    if find_layers(nxt):
                        decided = ("linear", None)  # the next layer comes first
                        break
                    continue  # BatchNorm, Dropout, LayerNorm...
                decided = activation_of(nxt)
                break
            if decided is not None:
                found[name] = decided
    return found


def guess_input(layers: Sequence[Layer]) -> jax.ShapeDtypeStruct | None:
    """An input for the first layer when it is a Linear (2 rows), else None."""
    first = layers[0]
    if first.kind != "linear":
        return None
    kernel = first.kernel
    return jax.ShapeDtypeStruct(  # type: ignore[no-untyped-call]
        (2, int(kernel.shape[0])), kernel.dtype
    )


def from_trace(model: nnx.Module, example: Any) -> tuple[dict[str, Found], dict[str, str]]:
    """Trace ``model(example)`` in eval mode: ``(decided, undecided)``, where ``undecided``
    maps a layer to the primitive that consumed its output first and is not known here.

    Raises whatever the model raises on ``example`` (the caller decides what to do).
    """
    with eval_mode(model):
        graphdef, state = nnx.split(model)

    tags: dict[str, str] = {}

    def forward(state: Any, x: Any) -> Any:
        inner = nnx.merge(graphdef, state)
        tags.clear()

        def hook(name: str, x: Any, y: Any) -> Any:
            if name in tags:
                return y
            tags[name] = f"{_TAG}{len(tags)}"

            def tag(v: Any) -> Any:
                return v + 0

            tag.__name__ = tags[name]
            return jax.jit(tag)(y)

        with intercept(find_layers(inner), hook):
            return inner(*x) if isinstance(x, tuple) else inner(x)

    closed = jax.make_jaxpr(forward)(state, example)
    names = {tag: name for name, tag in tags.items()}
    decided: dict[str, Found] = {}
    undecided: dict[str, str] = {}
    _scan(closed.jaxpr, names, decided, undecided)
    return decided, undecided


def _subjaxprs(eqn: Any) -> list[jcore.Jaxpr]:
    out: list[jcore.Jaxpr] = []
    for value in eqn.params.values():
        for v in value if isinstance(value, tuple | list) else (value,):
            if isinstance(v, jcore.ClosedJaxpr):
                out.append(v.jaxpr)
            elif isinstance(v, jcore.Jaxpr):
                out.append(v)
    return out


def _scan(
    jaxpr: jcore.Jaxpr, names: dict[str, str], decided: dict[str, Found], undecided: dict[str, str]
) -> None:
    for k, eqn in enumerate(jaxpr.eqns):
        layer = names.get(str(eqn.params.get("name", "")))
        if layer is not None:
            result = _follow(jaxpr.eqns[k + 1 :], {eqn.outvars[0]})
            if isinstance(result, str):
                undecided[layer] = result
            else:
                decided[layer] = result
            continue
        for sub in _subjaxprs(eqn):
            _scan(sub, names, decided, undecided)


def _is_var(v: Any) -> bool:
    return not isinstance(v, jcore.Literal)


def _classify(eqn: Any) -> Found | None:
    name = str(eqn.params.get("name", ""))
    if name in JAX_NAMES:
        if JAX_NAMES[name] != "leaky_relu":
            return JAX_NAMES[name], None
        slope = next((v.val for v in eqn.invars if isinstance(v, jcore.Literal)), None)
        return "leaky_relu", None if slope is None else float(slope)
    prim = eqn.primitive.name
    if prim in _PRIMITIVES:
        return _PRIMITIVES[prim], None
    if prim == "integer_pow" and eqn.params.get("y") == 3:
        return "gelu", None  # the tanh approximation's z + 0.044715 z**3
    if prim == "max" and any(
        isinstance(v, jcore.Literal) and math.isclose(float(v.val), 0.0) for v in eqn.invars
    ):
        return "relu", None
    return None


def _follow(eqns: Sequence[Any], live: set[Any]) -> Found | str:
    """The activation the values in ``live`` reach first, ``("linear", None)`` for none, or the
    name of the first unknown primitive that consumed them."""
    unknown = ""
    for eqn in eqns:
        used = [i for i, v in enumerate(eqn.invars) if _is_var(v) and v in live]
        if not used:
            continue
        found = _classify(eqn)
        if found is not None:
            return found
        prim = eqn.primitive.name
        subs = _subjaxprs(eqn)
        if prim in _TRANSPARENT:
            live.update(eqn.outvars)
        elif subs:
            sub = subs[0]
            offset = len(sub.invars) - len(eqn.invars)  # custom_jvp: consts first
            inner = {sub.invars[i + offset] for i in used if 0 <= i + offset < len(sub.invars)}
            result = _follow(sub.eqns, inner)
            if result != ("linear", None):
                return result
        elif prim not in _STRUCTURAL:
            unknown = unknown or prim
    return unknown or ("linear", None)
