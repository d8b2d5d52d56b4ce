"""Initialize a PyTorch module's Linear and Conv layers for what follows them.

The standard deviations are :mod:`trainready.init`'s formulas, drawn by its initializers (NumPy
``rng``, never torch's global generator) and copied into the weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from .._rng import RngLike, as_generator
from .._validation import describe, invalid
from ..init import (
    ACTIVATION_GAINS,
    LAYER_SCHEMES,
    InitRow,
    InitTable,
    check_layer_init,
    chosen_activation,
    draw_layer_row,
)

__all__ = [
    "LAYER_TYPES",
    "InitRow",
    "InitTable",
    "activation_of",
    "as_batch",
    "bias_of",
    "init_",
    "layers_with_activations",
    "run_module",
    "weight_of",
]

#: The layers :func:`init_`, :func:`lsuv_` and :func:`trainready.torch.diagnose` act on.
LAYER_TYPES: tuple[type[torch.nn.Module], ...] = (
    torch.nn.Linear,
    torch.nn.Conv1d,
    torch.nn.Conv2d,
    torch.nn.Conv3d,
)
#: Schemes accepted by :func:`init_`.
SCHEMES = LAYER_SCHEMES

_ACTIVATION_MODULES: dict[str, str] = {
    "ReLU": "relu",
    "ReLU6": "relu6",
    "LeakyReLU": "leaky_relu",
    "PReLU": "leaky_relu",
    "RReLU": "leaky_relu",
    "Tanh": "tanh",
    "Hardtanh": "tanh",
    "Softsign": "tanh",
    "Tanhshrink": "tanh",
    "Sigmoid": "sigmoid",
    "Hardsigmoid": "sigmoid",
    "LogSigmoid": "sigmoid",
    "GELU": "gelu",
    "SiLU": "silu",
    "ELU": "elu",
    "CELU": "celu",
    "Mish": "mish",
    "Softplus": "softplus",
    "Hardswish": "hardswish",
    "SELU": "selu",
    "Softmax": "softmax",
    "LogSoftmax": "softmax",
}
_KNOWN = tuple(sorted(set(_ACTIVATION_MODULES.values()) | set(ACTIVATION_GAINS)))


def weight_of(layer: torch.nn.Module) -> torch.Tensor:
    """A Linear/Conv layer's weight (typed)."""
    w = layer.weight
    assert isinstance(w, torch.Tensor)  # a LAYER_TYPES module always has one
    return w


def bias_of(layer: torch.nn.Module) -> torch.Tensor | None:
    """A Linear/Conv layer's bias, or None."""
    b = getattr(layer, "bias", None)
    return b if isinstance(b, torch.Tensor) else None


def activation_of(module: torch.nn.Module) -> tuple[str, float | None] | None:
    """``(name, negative slope or None)`` when ``module`` is an activation, else None.

    Example:
        >>> activation_of(torch.nn.LeakyReLU(0.2))
        ('leaky_relu', 0.2)
    """
    name = _ACTIVATION_MODULES.get(type(module).__name__)
    if name is None:
        return None
    if isinstance(module, torch.nn.LeakyReLU):
        return name, float(module.negative_slope)
    if isinstance(module, torch.nn.PReLU):
        return name, float(module.weight.detach().float().mean())
    if isinstance(module, torch.nn.RReLU):
        return name, (module.lower + module.upper) / 2
    return name, None


def layers_with_activations(
    module: torch.nn.Module,
) -> list[tuple[str, torch.nn.Module, str, float | None]]:
    """Every Linear/Conv layer in registration order, with the activation that follows it.

    The activation is the first activation module registered after the layer and before the
    next layer (``"linear"`` when there is none, e.g. before a functional ``F.relu``).
    """
    flat = [(n, m) for n, m in module.named_modules() if n or m is module]
    out = []
    for i, (name, m) in enumerate(flat):
        if not isinstance(m, LAYER_TYPES):
            continue
        act: tuple[str, float | None] = ("linear", None)
        for _, nxt in flat[i + 1 :]:
            if isinstance(nxt, LAYER_TYPES):
                break
            found = activation_of(nxt)
            if found is not None:
                act = found
                break
        out.append((name or "(the model)", m, act[0], act[1]))
    return out


def init_(
    module: torch.nn.Module,
    scheme: str = "auto",
    *,
    activation: str | Mapping[str, str] | None = None,
    rng: RngLike = None,
) -> InitTable:
    """Initialize every Linear and Conv layer of ``module`` in place, biases zero.

    Each layer's weights are drawn for the nonlinearity that follows it, read from the module
    order (the first activation module registered after the layer, before the next layer) or
    given by ``activation``. ``scheme="auto"``: He (``std = gain / sqrt(fan_in)``, gain
    ``sqrt(2)`` for ReLU and rectifier-like GELU/SiLU/ELU/..., ``sqrt(2 / (1 + a^2))`` for leaky
    ReLU with the module's slope ``a``; He et al. 2015) before rectifiers, LeCun
    (``1 / sqrt(fan_in)``, LeCun et al. 1998) before tanh, sigmoid, SELU, softmax and nothing.
    Other schemes apply one formula everywhere: ``"he"`` (``sqrt(2 / fan_in)``), ``"lecun"``,
    ``"xavier"``/``"glorot"`` (``sqrt(2 / (fan_in + fan_out))``, Glorot & Bengio 2010),
    ``"orthogonal"`` (Saxe et al. 2013, with the gain ``"auto"`` would use). Fans of a kernel
    ``(out, in / groups, *k)`` count the receptive field (:func:`trainready.init.fans`).

    Args:
        module: any ``nn.Module``; only its Linear/Conv1d/2d/3d layers are changed (a
            MultiheadAttention's packed in-projection, embeddings and norms are not).
        scheme: one of ``"auto"``, ``"he"``, ``"lecun"``, ``"xavier"``, ``"glorot"``,
            ``"orthogonal"``.
        activation: None (from the module order), one name for every layer, or a mapping
            layer name -> name (others from the order). Names: relu, leaky_relu, tanh,
            sigmoid, gelu, silu, selu, softmax, linear, ...
        rng: NumPy Generator, int seed or None.

    Returns:
        An :class:`InitTable` with one :class:`InitRow` per layer (name, type, shape,
        activation, scheme, std, fans).

    Example:
        >>> import torch, trainready as tr
        >>> nn = torch.nn
        >>> model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(),
        ...                       nn.Linear(32, 1))
        >>> table = tr.torch.init_(model, rng=0)
        >>> [(r.name, r.activation, r.scheme, round(r.std, 4)) for r in table][:2]
        [('0', 'relu', 'he', 0.1768), ('2', 'tanh', 'lecun', 0.1768)]
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    layers = layers_with_activations(module)
    check_layer_init(scheme, activation, [n for n, *_ in layers])
    gen = as_generator(rng)
    rows = []
    for name, layer, act_name, slope in layers:
        weight = weight_of(layer)
        if torch.nn.parameter.is_lazy(weight):
            raise ValueError(
                f"module: layer {name!r} is lazy and has no shape yet; run one forward pass "
                "first, then initialize"
            )
        shape = tuple(int(s) for s in weight.shape)
        bias = bias_of(layer)
        W, row = draw_layer_row(
            name,
            type(layer).__name__,
            shape,
            scheme,
            chosen_activation(activation, name, (act_name, slope), _KNOWN),
            bias=bias is not None,
            rng=gen,
        )
        with torch.no_grad():
            weight.copy_(torch.from_numpy(np.ascontiguousarray(W)))
            if bias is not None:
                bias.zero_()
        rows.append(row)
    if not rows:
        raise ValueError(
            f"module: {type(module).__name__} has no Linear or Conv layer to initialize"
        )
    return InitTable(tuple(rows))


def run_module(module: torch.nn.Module, batch: Any) -> Any:
    """``module(batch)``; a tuple is unpacked as positional and a dict as keyword inputs.

    A RuntimeError from the forward pass (a batch of the wrong width, most often) becomes a
    ValueError that names ``X``, the batch's shape and the first layer's expected input.
    """
    try:
        if isinstance(batch, tuple):
            return module(*batch)
        if isinstance(batch, dict):
            return module(**batch)
        return module(batch)
    except RuntimeError as exc:
        first = next((m for m in module.modules() if isinstance(m, LAYER_TYPES)), None)
        wants = ""
        if isinstance(first, torch.nn.Linear):
            wants = f" (its first Linear layer takes {first.in_features} features)"
        elif first is not None:
            wants = f" (its first {type(first).__name__} takes {first.in_channels} channels)"
        raise invalid(
            "X",
            f"a batch that the model accepts{wants}",
            describe(batch),
            f"pass a batch of that shape (torch said: {str(exc).splitlines()[0][:200]})",
        ) from exc


def as_batch(batch: Any, module: torch.nn.Module, *, min_rows: int = 1) -> Any:
    """The batch as tensors: NumPy arrays become tensors of the module's dtype; NaN/inf and too
    few rows are refused (ValueError naming ``X``)."""
    if isinstance(batch, tuple):
        return tuple(as_batch(b, module, min_rows=min_rows) for b in batch)
    if isinstance(batch, dict):
        return {k: as_batch(v, module, min_rows=min_rows) for k, v in batch.items()}
    if isinstance(batch, np.ndarray):
        p = next(iter(module.parameters()), None)
        dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
        t = torch.from_numpy(np.ascontiguousarray(batch))
        batch = t.to(dtype) if t.is_floating_point() or dtype.is_floating_point else t
    if isinstance(batch, torch.Tensor) and batch.is_floating_point():
        if batch.ndim and batch.shape[0] < min_rows:
            raise invalid(
                "X",
                f"a batch of {min_rows} rows or more (rows are examples)",
                f"shape {tuple(batch.shape)}",
                "pass a representative batch of many rows",
            )
        if not bool(torch.isfinite(batch).all()):
            raise invalid(
                "X",
                "finite values",
                "NaN or inf in the batch",
                "remove or impute them (see trainready.normalize.audit)",
            )
    return batch
