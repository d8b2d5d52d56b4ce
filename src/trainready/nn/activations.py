"""Hidden-layer activations: each forward written beside its backward.

Every activation is a small frozen object with a ``name``, ``forward(z)`` and
``backward(z, a, da)`` (returning ``dz``, the gradient with respect to the pre-activation).
The five built-ins compute ``dz`` from the *output* ``a`` alone (ReLU and leaky ReLU from its sign,
tanh from ``1 - a**2``, sigmoid from ``a (1 - a)``), so ``z`` may be passed as ``None`` and a
network may overwrite ``z`` with ``a`` in place. Both methods take an optional ``out=`` buffer;
``out`` may be the input itself (in-place), which is how :class:`trainready.nn.MLP` avoids
temporaries. Arrays keep their dtype (float32 stays float32).

The derivative at the kink of ReLU and leaky ReLU (``z == 0``) is taken from the right-hand side
convention of PyTorch: ReLU'(0) = 0, leaky ReLU'(0) = negative slope.

Example:
    >>> import numpy as np
    >>> from trainready.nn.activations import get_activation
    >>> relu = get_activation("relu")
    >>> z = np.array([-1.0, 0.5]); a = relu.forward(z)
    >>> a, relu.backward(z, a, np.ones(2))
    (array([0. , 0.5]), array([0., 1.]))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "LeakyReLU",
    "Linear",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "get_activation",
]

Array = NDArray[Any]


def _out(z: Array, out: Array | None) -> Array:
    return np.empty_like(z) if out is None else out


@dataclass(frozen=True)
class Activation:
    """Base class: an elementwise nonlinearity ``a = g(z)`` and its backward ``dz = g'(z) * da``.

    Attributes:
        name: the registry name (``"relu"``, ``"tanh"``, ...), also the name
            :func:`trainready.init.gain` understands.
    """

    name: str = "base"

    def forward(self, z: Array, *, out: Array | None = None) -> Array:
        """Return ``a = g(z)``, shape of ``z``; ``out`` (may be ``z``) receives the result."""
        raise NotImplementedError

    def backward(self, z: Array | None, a: Array, da: Array, *, out: Array | None = None) -> Array:
        """Return ``dz = g'(z) * da`` (shape of ``a``); ``out`` (may be ``da``) receives it.

        Args:
            z: the pre-activation of the forward pass, or None (the built-ins use ``a`` only).
            a: the forward output ``g(z)``.
            da: the gradient of the loss with respect to ``a``.
            out: optional output buffer; may be ``da`` itself.
        """
        raise NotImplementedError


@dataclass(frozen=True)
class ReLU(Activation):
    """``max(z, 0)`` (Nair & Hinton 2010); derivative 1 where z > 0, else 0."""

    name: str = "relu"

    def forward(self, z: Array, *, out: Array | None = None) -> Array:
        return np.maximum(z, 0, out=_out(z, out))

    def backward(self, z: Array | None, a: Array, da: Array, *, out: Array | None = None) -> Array:
        return np.multiply(da, a > 0, out=_out(da, out))


@dataclass(frozen=True)
class LeakyReLU(Activation):
    """``z`` where z > 0, ``negative_slope * z`` elsewhere (Maas et al. 2013).

    Attributes:
        negative_slope: the slope for z <= 0, in [0, 1) (PyTorch's default 0.01).
    """

    name: str = "leaky_relu"
    negative_slope: float = 0.01

    def __post_init__(self) -> None:
        if not 0.0 <= self.negative_slope < 1.0:
            raise ValueError(
                f"negative_slope must be in [0, 1); got {self.negative_slope!r}. "
                "Use a small positive slope such as 0.01."
            )

    def forward(self, z: Array, *, out: Array | None = None) -> Array:
        # max(z, s z) equals leaky ReLU for 0 <= s < 1.
        res = _out(z, out)
        if res is z:
            tmp = z * self.negative_slope
            return np.maximum(z, tmp, out=res)
        np.multiply(z, self.negative_slope, out=res)
        return np.maximum(z, res, out=res)

    def backward(self, z: Array | None, a: Array, da: Array, *, out: Array | None = None) -> Array:
        slope = np.where(a > 0, 1.0, self.negative_slope).astype(da.dtype, copy=False)
        res: Array = np.multiply(da, slope, out=_out(da, out))
        return res


@dataclass(frozen=True)
class Tanh(Activation):
    """Hyperbolic tangent; derivative ``1 - a**2``."""

    name: str = "tanh"

    def forward(self, z: Array, *, out: Array | None = None) -> Array:
        return np.tanh(z, out=_out(z, out))

    def backward(self, z: Array | None, a: Array, da: Array, *, out: Array | None = None) -> Array:
        # da * (1 - a^2) = da - da * a * a, without a second full temporary.
        res = _out(da, out)
        t = a * a
        np.subtract(1, t, out=t)
        np.multiply(da, t, out=res)
        return res


@dataclass(frozen=True)
class Sigmoid(Activation):
    """Logistic ``1 / (1 + exp(-z))``, evaluated without overflow; derivative ``a (1 - a)``."""

    name: str = "sigmoid"

    def forward(self, z: Array, *, out: Array | None = None) -> Array:
        res = _out(z, out)
        e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
        pos = z >= 0
        np.add(e, 1, out=res)
        np.divide(np.where(pos, 1, e), res, out=res)
        return res

    def backward(self, z: Array | None, a: Array, da: Array, *, out: Array | None = None) -> Array:
        res = _out(da, out)
        t = 1 - a
        t *= a
        np.multiply(da, t, out=res)
        return res


@dataclass(frozen=True)
class Linear(Activation):
    """The identity (a deep linear network); derivative 1."""

    name: str = "linear"

    def forward(self, z: Array, *, out: Array | None = None) -> Array:
        if out is None:
            return z.copy()
        if out is not z:
            np.copyto(out, z)
        return out

    def backward(self, z: Array | None, a: Array, da: Array, *, out: Array | None = None) -> Array:
        if out is None:
            return da.copy()
        if out is not da:
            np.copyto(out, da)
        return out


ACTIVATIONS: dict[str, Activation] = {
    "relu": ReLU(),
    "leaky_relu": LeakyReLU(),
    "tanh": Tanh(),
    "sigmoid": Sigmoid(),
    "linear": Linear(),
}
"""The built-in hidden activations by name."""


def get_activation(name: str | Activation) -> Activation:
    """Look up an activation by name (an :class:`Activation` instance is returned as is).

    Args:
        name: one of ``"relu"``, ``"leaky_relu"``, ``"tanh"``, ``"sigmoid"``, ``"linear"``.

    Raises:
        ValueError: for an unknown name, listing the known ones.
        TypeError: for something that is neither a string nor an Activation.

    Example:
        >>> get_activation("tanh").name
        'tanh'
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(
            f"activation must be a name (str) or an Activation; got {type(name).__name__}. "
            f"Use one of {sorted(ACTIVATIONS)}."
        )
    key = name.strip().lower().replace("-", "_")
    if key == "identity":
        key = "linear"
    try:
        return ACTIVATIONS[key]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}. "
            "Check the spelling, or pass an Activation instance."
        ) from None
