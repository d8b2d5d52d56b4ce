"""Experiments on the signal: the deep linear network, and one network under several schemes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import init as _init
from .._rng import RngLike, as_generator
from ._mlp import Network, record
from ._record import FloatArray, SignalRecord

__all__ = ["DeepLinear", "compare", "deep_linear"]


@dataclass(frozen=True)
class DeepLinear:
    """The deep linear experiment: every ``W = scale * I``, no bias, no nonlinearity.

    Attributes:
        depth, scale, width: the network.
        activation_ratio: ``(depth,)`` rms of layer l's output over the input's: ``scale^l``.
        gradient_ratio: ``(depth,)`` ``||dLoss/dz||`` at layer l over the last layer's:
            ``scale^(depth - l)``.
        expected_activation, expected_gradient: the exact powers.
        record: the full per-layer record.
    """

    depth: int
    scale: float
    width: int
    activation_ratio: FloatArray
    gradient_ratio: FloatArray
    expected_activation: FloatArray
    expected_gradient: FloatArray
    record: SignalRecord


def deep_linear(
    depth: int, scale: float, width: int = 4, *, n_samples: int = 16, rng: RngLike = 0
) -> DeepLinear:
    """Push a random batch through ``depth`` layers ``W = scale * I`` and back.

    The signal is multiplied by ``scale`` per layer: the activations of layer ``l`` are
    ``scale^l`` times the input and the gradient reaching layer ``l`` is ``scale^(depth - l)``
    times the output's -- 1.5 explodes (1.5^50 = 6e8), 0.5 vanishes (0.5^50 = 9e-16). The
    measured ratios equal the powers to rounding.

    Example:
        >>> r = deep_linear(10, 1.5)
        >>> bool(abs(r.activation_ratio[-1] / 1.5**10 - 1) < 1e-12)
        True
    """
    for name, val in (("depth", depth), ("width", width), ("n_samples", n_samples)):
        if (
            isinstance(val, bool)
            or not isinstance(val, int)
            or val < (2 if name == "n_samples" else 1)
        ):
            raise ValueError(f"{name}: expected a positive int, got {val!r}")
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not math.isfinite(scale):
        raise ValueError(f"scale: expected a finite number such as 1.5 or 0.5, got {scale!r}")
    eye = np.eye(width) * float(scale)
    params = {}
    for l in range(1, depth + 1):
        params[f"W{l}"] = eye.copy()
        params[f"b{l}"] = np.zeros(width)
    net = Network(params, ("linear",) * (depth - 1), "linear")
    X = as_generator(rng).standard_normal((n_samples, width))
    rec = record(net, X, None, rng=rng)
    ls = np.arange(1, depth + 1)
    return DeepLinear(
        depth,
        float(scale),
        width,
        rec.column("a_rms") / rec.input_rms,
        rec.column("delta_norm") / rec.layers[-1].delta_norm,
        float(scale) ** ls.astype(float),
        float(scale) ** (depth - ls).astype(float),
        rec,
    )


def compare(
    layer_dims: Sequence[int],
    X: Any,
    schemes: Sequence[str] = ("he", "lecun", "xavier", "random"),
    *,
    activation: str = "relu",
    output: str = "linear",
    scale: float = 1.0,
    y: Any = None,
    rng: RngLike = 0,
) -> dict[str, SignalRecord]:
    """Record the same network under several initialization schemes (for a figure).

    Args:
        layer_dims: ``[n0, n1, ..., nL]``.
        X: a batch ``(n_samples, n0)``.
        schemes: names for :func:`trainready.init.initialize`.
        activation: the hidden activation.
        output: the output activation.
        scale: the std of ``"random"`` (default 1: N(0, 1), the exploding counter-example).
        y: targets or None.
        rng: seed.

    Returns:
        scheme name -> :class:`SignalRecord`.

    Example:
        >>> import numpy as np
        >>> recs = compare([16] + [64] * 10 + [1], np.ones((32, 16)), ["he", "lecun"])
        >>> sorted(recs)
        ['he', 'lecun']
    """
    out = {}
    dims = list(layer_dims)
    acts = tuple([activation] * (len(dims) - 2))
    for name in schemes:
        params = _init.initialize(
            dims, name, rng=rng, scale=scale, activation=list(acts) or activation
        )
        net = Network({k: np.asarray(v, dtype=np.float64) for k, v in params.items()}, acts, output)
        out[name] = record(net, X, y, rng=rng)
    return out
