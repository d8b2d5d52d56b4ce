"""Initialize a Flax NNX model's ``Linear`` and ``Conv`` layers for what follows them, in place.

The numbers are :mod:`trainready.init`'s: each layer's weights are drawn by
:func:`trainready.init.draw_layer` with a NumPy ``rng`` (never a JAX key of yours), in
PyTorch's layout ``(out, in, *window)`` -- so the fans, the orthogonal orientation and the very
values are those ``trainready.torch.init_`` gives the equivalent torch layer -- then converted to
Flax's layout (``Linear.kernel`` ``(in, out)``, ``Conv.kernel`` ``(*window, in, out)``) by
:func:`trainready.jax._layers.flax_layout` and cast to the kernel's dtype.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import jax.numpy as jnp
from flax import nnx

from .._rng import RngLike, as_generator
from .._validation import describe, invalid, warn
from ..errors import TrainreadyWarning
from ..init import (
    ACTIVATION_GAINS,
    LAYER_SCHEMES,
    InitTable,
    check_layer_init,
    chosen_activation,
    draw_layer_row,
    given_activation,
)
from ._activations import JAX_NAMES, Found, from_sequential, from_trace, guess_input
from ._layers import Layer, flax_layout, model_layers

__all__ = ["SCHEMES", "init_", "layers_with_activations", "torch_shape"]

#: Schemes accepted by :func:`init_` (those of ``trainready.torch.init_``).
SCHEMES = LAYER_SCHEMES
_KNOWN = tuple(sorted(set(JAX_NAMES.values()) | set(ACTIVATION_GAINS)))


def torch_shape(layer: Layer) -> tuple[int, ...]:
    """The kernel's shape in PyTorch's layout: ``(out, in)`` or ``(out, in, *window)``."""
    shape = tuple(int(s) for s in layer.kernel.shape)
    return (shape[-1], shape[-2], *shape[:-2])


def layers_with_activations(
    model: nnx.Module, layers: list[Layer], X: Any = None, *, trace: bool = True
) -> tuple[dict[str, Found], dict[str, str]]:
    """Each layer's activation (``_activations``: structure first, then a trace): ``(decided,
    undecided)``, ``undecided`` mapping a layer to why (the unknown operation, or no trace)."""
    decided = from_sequential(model, layers)
    rest = [layer.name for layer in layers if layer.name not in decided]
    if not rest or not trace:
        return decided, {name: "not traced" for name in rest}
    example = X if X is not None else guess_input(layers)
    if example is None:
        return decided, {name: "no example input X to trace" for name in rest}
    try:
        traced, unknown = from_trace(model, example)
    except Exception as exc:
        if X is not None:
            raise invalid(
                "X",
                "an example batch that the model accepts (only its shape and dtype are used)",
                describe(X),
                f"pass a batch of the model's input shape ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:200] if str(exc) else ''})",
            ) from exc
        return decided, {name: "tracing without X failed; pass X" for name in rest}
    for name in rest:
        if name in traced:
            decided[name] = traced[name]
    why = {n: f"its output first meets {unknown[n]!r}" for n in rest if n in unknown}
    why |= {
        n: "never called on the traced input" for n in rest if n not in decided and n not in why
    }
    return decided, why


def init_(
    model: nnx.Module,
    scheme: str = "auto",
    *,
    activation: str | Mapping[str, str] | None = None,
    rng: RngLike = None,
    X: Any = None,
) -> InitTable:
    """Initialize every ``nnx.Linear`` and ``nnx.Conv`` of ``model`` in place, biases zero.

    ``trainready.torch.init_`` for Flax NNX, with the same schemes and table. ``"auto"``: He
    (``std = gain / sqrt(fan_in)``, gain ``sqrt(2)`` before ReLU and rectifier-like GELU/SiLU/ELU,
    ``sqrt(2 / (1 + a^2))`` before leaky ReLU of slope ``a``; He et al. 2015), LeCun
    (``1 / sqrt(fan_in)``, LeCun et al. 1998) before tanh, sigmoid, SELU, softmax and nothing;
    ``"he"``, ``"lecun"``, ``"xavier"``/``"glorot"`` (``sqrt(2 / (fan_in + fan_out))``, Glorot &
    Bengio 2010) apply one formula everywhere; ``"orthogonal"`` (Saxe et al. 2013) has the gain
    ``"auto"`` would use, orthonormal rows of the ``(out, in * prod(window))`` matrix when
    ``out <= in``, else columns (Flax's kernel is its transpose).

    **Layout and fans.** A Flax kernel is ``(in, out)`` (``Conv``: ``(*window, in / groups,
    out)``), PyTorch's weight ``(out, in)``. The weights are drawn in PyTorch's layout and
    transposed, so ``fan_in = in * prod(window)`` and ``fan_out = out * prod(window)`` as
    PyTorch and ``jax.nn.initializers`` count them, and the table's ``shape`` is PyTorch's.

    **Distribution.** trainready draws a plain normal whose variance is the scheme's. That is
    the variance of ``jax.nn.initializers.variance_scaling(scale, mode, distribution)`` --
    ``he_normal``/``he_uniform`` (2, fan_in), ``lecun_normal`` (1, fan_in),
    ``glorot_normal``/``glorot_uniform`` (1, fan_avg) -- for the same kernel; JAX's ``*_normal``
    draw a normal cut at ±2 std and divide the std by 0.87962566103423978, which gives the same
    variance with lighter tails.

    **Activations** come from ``activation`` (one name, or a dict layer name -> name), else
    from the model: the next function in an ``nnx.Sequential``, else a trace of the forward pass
    on ``X`` (or, without ``X``, on a guessed input of the first Linear's width) that finds what
    consumes each layer's output (``trainready.jax._activations``). A layer neither can decide
    is initialized as followed by nothing (LeCun) and named in a ``TrainreadyWarning``.

    Args:
        model: a ``flax.nnx.Module``; its Linear and Conv layers are changed (not
            ``LinearGeneral``, embeddings or norms). Layer names are graph paths
            (``"layers/0"``, ``"encoder/fc"``), in definition order.
        scheme: ``"auto"``, ``"he"``, ``"lecun"``, ``"xavier"``, ``"glorot"``, ``"orthogonal"``.
        activation: None, a name (relu, leaky_relu, tanh, sigmoid, gelu, silu, selu, softmax,
            linear, ...) for every layer, or a mapping layer name -> name.
        rng: NumPy Generator, int seed or None (the same draws as ``trainready.torch.init_``).
        X: an example input (array, or a tuple of positional inputs) for the trace; only its
            shapes and dtypes are used, it is not changed.

    Returns:
        An :class:`trainready.init.InitTable`, one row per layer (name, type ``"Linear"`` or
        ``"Conv"``, PyTorch-layout shape, activation, scheme, std, fans, bias).

    Example:
        >>> import jax, trainready as tr
        >>> from flax import nnx
        >>> r = nnx.Rngs(0)
        >>> model = nnx.Sequential(nnx.Linear(64, 32, rngs=r), nnx.relu, nnx.Linear(32, 32, rngs=r),
        ...                        jax.nn.tanh, nnx.Linear(32, 1, rngs=r))
        >>> table = tr.jax.init_(model, rng=0)
        >>> [(r.name, r.activation, r.scheme, round(r.std, 4)) for r in table][:2]
        [('layers/0', 'relu', 'he', 0.1768), ('layers/2', 'tanh', 'lecun', 0.1768)]
    """
    layers = model_layers(model)
    check_layer_init(scheme, activation, [layer.name for layer in layers])
    given = {layer.name: given_activation(activation, layer.name, _KNOWN) for layer in layers}
    needed = any(g is None for g in given.values())
    found, undecided = layers_with_activations(model, layers, X, trace=needed)
    gen = as_generator(rng)
    rows = []
    for layer in layers:
        found_act = found.get(layer.name, ("linear", None))
        W, row = draw_layer_row(
            layer.name,
            "Conv" if layer.kind == "conv" else "Linear",
            torch_shape(layer),
            scheme,
            chosen_activation(activation, layer.name, found_act, _KNOWN),
            bias=layer.has_bias,
            rng=gen,
        )
        module = cast(Any, layer.module)
        module.kernel[...] = flax_layout(W, layer.kernel.dtype)
        if layer.has_bias:
            module.bias[...] = jnp.zeros_like(module.bias[...])
        rows.append(row)
    assumed = {n: why for n, why in undecided.items() if given.get(n) is None}
    if assumed:
        reasons: dict[str, list[str]] = {}
        for n, why in assumed.items():
            reasons.setdefault(why, []).append(n)
        text = "; ".join(f"{', '.join(names)}: {why}" for why, names in reasons.items())
        warn(
            f"init_: assumed no activation (LeCun) after layers {', '.join(assumed)} ({text}); "
            "pass activation={'<layer>': 'relu', ...} or an example batch X=",
            TrainreadyWarning,
        )
    return InitTable(tuple(rows))
