"""Initialize a PyTorch module's Linear and Conv layers for what follows them.

The standard deviations are :mod:`trainready.init`'s formulas, drawn by its initializers (NumPy
``rng``, never torch's global generator) and copied into the weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import init as _init
from ..init import RngLike, as_generator

__all__ = [
    "LAYER_TYPES",
    "InitRow",
    "InitTable",
    "activation_of",
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
SCHEMES = ("auto", "he", "lecun", "xavier", "glorot", "orthogonal")

# Rectifier-like activations: like ReLU they keep about half of the second moment, so "auto"
# gives them He's variance.
_RECTIFIERS = ("relu6", "gelu", "silu", "elu", "celu", "mish", "softplus", "hardswish")
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
_KNOWN = (*sorted(set(_ACTIVATION_MODULES.values())), "linear")


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


def _auto_gain(activation: str, slope: float | None) -> float:
    if activation == "leaky_relu":
        return _init.gain("leaky_relu", 0.01 if slope is None else float(slope))
    if activation == "relu" or activation in _RECTIFIERS:
        return math.sqrt(2.0)
    return 1.0


@dataclass(frozen=True)
class InitRow:
    """What :func:`init_` set on one layer.

    Attributes:
        name: the module path (``"features.0"``).
        type: the layer's class name (``"Conv2d"``).
        shape: the weight's shape, ``(n_out, n_in)`` or ``(out, in / groups, *kernel)``.
        activation: the nonlinearity the scheme was chosen for.
        scheme: ``"he"``, ``"lecun"``, ``"xavier"`` or ``"orthogonal"`` (what ``"auto"`` chose).
        std: the standard deviation of the distribution the weights were drawn from.
        fan_in, fan_out: as in :func:`trainready.init.fans`.
        bias: whether a bias was set to zero.
    """

    name: str
    type: str
    shape: tuple[int, ...]
    activation: str
    scheme: str
    std: float
    fan_in: int
    fan_out: int
    bias: bool


@dataclass(frozen=True)
class InitTable:
    """The rows :func:`init_` returns, one per layer, in module order."""

    rows: tuple[InitRow, ...]

    def __iter__(self) -> Iterator[InitRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> InitRow:
        return self.rows[i]

    def __str__(self) -> str:
        head = ("layer", "type", "shape", "activation", "scheme", "std", "fan_in")
        body = [
            (
                r.name,
                r.type,
                "×".join(map(str, r.shape)),
                r.activation,
                r.scheme,
                f"{r.std:.4g}",
                str(r.fan_in),
            )
            for r in self.rows
        ]
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in (head, *body)
        ]
        return "\n".join(lines)


def _activation_override(
    activation: str | Mapping[str, str] | None, name: str, found: tuple[str, float | None]
) -> tuple[str, float | None]:
    if activation is None:
        return found
    given = activation if isinstance(activation, str) else activation.get(name)
    if given is None:
        return found
    if given not in _KNOWN:
        raise ValueError(
            f"activation: unknown activation {given!r} for layer {name!r}; expected one of {_KNOWN}"
        )
    return given, (found[1] if given == found[0] else None)


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
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: unknown scheme {scheme!r}; expected one of {SCHEMES}")
    if activation is not None and not isinstance(activation, str | Mapping):
        raise TypeError(
            "activation: expected None, a name such as 'relu', or a dict layer name -> name; "
            f"got {type(activation).__name__}"
        )
    gen = as_generator(rng)
    layers = layers_with_activations(module)
    if isinstance(activation, Mapping):
        unknown = sorted(set(activation) - {n for n, *_ in layers})
        if unknown:
            raise ValueError(
                f"activation: no Linear/Conv layer named {unknown}; layers are "
                f"{[n for n, *_ in layers]}"
            )
    rows = []
    for name, layer, act_name, slope in layers:
        weight = weight_of(layer)
        if torch.nn.parameter.is_lazy(weight):
            raise ValueError(
                f"module: layer {name!r} is lazy and has no shape yet; run one forward pass "
                "first, then initialize"
            )
        act, slope = _activation_override(activation, name, (act_name, slope))
        shape = tuple(int(s) for s in weight.shape)
        fan_in, fan_out = _init.fans(shape)
        g = _auto_gain(act, slope)
        chosen = scheme
        if scheme == "auto":
            chosen = "he" if g > 1.0 else "lecun"
            std = g / math.sqrt(fan_in)
            W = _init.normal(shape, std, rng=gen)
        elif scheme == "he":
            std = math.sqrt(2.0 / fan_in)
            W = _init.he_normal(shape, rng=gen)
        elif scheme == "lecun":
            std = 1.0 / math.sqrt(fan_in)
            W = _init.lecun_normal(shape, rng=gen)
        elif scheme in ("xavier", "glorot"):
            std = math.sqrt(2.0 / (fan_in + fan_out))
            W = _init.xavier_normal(shape, rng=gen)
        else:  # orthogonal
            std = g / math.sqrt(max(shape[0], math.prod(shape[1:])))
            W = _init.orthogonal(shape, gain=g, rng=gen)
        with torch.no_grad():
            weight.copy_(torch.from_numpy(np.ascontiguousarray(W)))
            bias = bias_of(layer)
            has_bias = bias is not None
            if bias is not None:
                bias.zero_()
        rows.append(
            InitRow(name, type(layer).__name__, shape, act, chosen, std, fan_in, fan_out, has_bias)
        )
    if not rows:
        raise ValueError(
            f"module: {type(module).__name__} has no Linear or Conv layer to initialize"
        )
    return InitTable(tuple(rows))


def run_module(module: torch.nn.Module, batch: Any) -> Any:
    """``module(batch)``; a tuple is unpacked as positional and a dict as keyword inputs."""
    if isinstance(batch, tuple):
        return module(*batch)
    if isinstance(batch, dict):
        return module(**batch)
    return module(batch)
