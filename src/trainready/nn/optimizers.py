"""Optimizers: gradient descent, momentum and Adam, updating a params dict in place.

Each optimizer keeps its own state (velocities, moments, step count) in the instance, keyed by
parameter name; nothing is global. ``step(params, grads, lr)`` updates ``params[name]`` in place
for every name in ``params`` (a gradient may be keyed ``name`` or ``"d" + name``).

Update rules (``g`` the gradient, ``t`` the step count from 1):

* ``GD``: ``w -= lr g``.
* ``Momentum`` (Polyak 1964, in the exponentially-weighted form of the deep-learning course):
  ``v = beta v + (1 - beta) g``; ``w -= lr v``. PyTorch's ``SGD(momentum=beta)`` uses
  ``v = beta v + g``, which is the same with ``lr`` scaled by ``1 / (1 - beta)``.
* ``Adam`` (Kingma & Ba 2015): ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g**2``;
  ``w -= lr (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)`` (as ``torch.optim.Adam``).

Example:
    >>> import numpy as np
    >>> p = {"W1": np.ones(2)}
    >>> opt = GD(); opt.step(p, {"W1": np.ones(2)}, lr=0.5); p["W1"]
    array([0.5, 0.5])
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["GD", "OPTIMIZERS", "Adam", "Momentum", "Optimizer", "get_optimizer"]

Array = NDArray[Any]


def _grad(grads: Mapping[str, Array], name: str) -> Array:
    if name in grads:
        return grads[name]
    if "d" + name in grads:
        return grads["d" + name]
    raise KeyError(f"grads has no gradient for parameter {name!r} (nor 'd{name}')")


def _check_lr(lr: float) -> float:
    if not isinstance(lr, (int, float, np.floating)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number; got {lr!r}. Try lr=0.01.")
    return float(lr)


class Optimizer:
    """Base class. Subclasses implement :meth:`step`; :meth:`reset` forgets the state.

    Attributes:
        name: ``"gd"``, ``"momentum"`` or ``"adam"``.
    """

    name = "base"

    def step(
        self,
        params: Mapping[str, Array],
        grads: Mapping[str, Array],
        lr: float,
        *,
        overwrite_grads: bool = False,
    ) -> None:
        """Update every array of ``params`` in place.

        Args:
            params: name -> parameter (modified in place).
            grads: name (or ``"d" + name``) -> gradient of the same shape.
            lr: the learning rate.
            overwrite_grads: allow the gradient arrays to be used as scratch (saves a temporary
                per parameter; :meth:`trainready.nn.MLP.fit` passes True for its own buffers).
        """
        raise NotImplementedError

    def reset(self) -> None:
        """Forget the accumulated state (start a new training run)."""

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({fields})"


class GD(Optimizer):
    """Plain (mini-batch) gradient descent ``w -= lr g``."""

    name = "gd"

    def step(
        self,
        params: Mapping[str, Array],
        grads: Mapping[str, Array],
        lr: float,
        *,
        overwrite_grads: bool = False,
    ) -> None:
        lr = _check_lr(lr)
        for name, w in params.items():
            g = _grad(grads, name)
            if overwrite_grads:
                g *= lr
                w -= g
            else:
                w -= lr * g


class Momentum(Optimizer):
    """Gradient descent with momentum: ``v = beta v + (1 - beta) g``; ``w -= lr v``.

    Args:
        beta: the decay of the velocity, in [0, 1); 0 is plain gradient descent.
    """

    name = "momentum"

    def __init__(self, beta: float = 0.9) -> None:
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"beta must be in [0, 1); got {beta!r}. The usual value is 0.9.")
        self.beta = float(beta)
        self._v: dict[str, Array] = {}

    def reset(self) -> None:
        self._v.clear()

    def step(
        self,
        params: Mapping[str, Array],
        grads: Mapping[str, Array],
        lr: float,
        *,
        overwrite_grads: bool = False,
    ) -> None:
        lr = _check_lr(lr)
        for name, w in params.items():
            g = _grad(grads, name)
            v = self._v.get(name)
            if v is None or v.shape != w.shape or v.dtype != w.dtype:
                v = self._v[name] = np.zeros_like(w)
            v *= self.beta
            if overwrite_grads:
                g *= 1 - self.beta
                v += g
                np.multiply(v, lr, out=g)
                w -= g
            else:
                v += (1 - self.beta) * g
                w -= lr * v


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction, as ``torch.optim.Adam`` (no weight decay).

    Args:
        beta1: decay of the first moment, in [0, 1).
        beta2: decay of the second moment, in [0, 1).
        eps: added to the square root of the second moment.
    """

    name = "adam"

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        for label, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{label} must be in [0, 1); got {b!r}. Defaults: 0.9, 0.999.")
        if not eps > 0:
            raise ValueError(f"eps must be positive; got {eps!r}. The usual value is 1e-8.")
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.eps = float(eps)
        self._m: dict[str, Array] = {}
        self._v: dict[str, Array] = {}
        self._t = 0

    def reset(self) -> None:
        self._m.clear()
        self._v.clear()
        self._t = 0

    def step(
        self,
        params: Mapping[str, Array],
        grads: Mapping[str, Array],
        lr: float,
        *,
        overwrite_grads: bool = False,
    ) -> None:
        lr = _check_lr(lr)
        self._t += 1
        t = self._t
        c1 = 1 - self.beta1**t
        c2 = 1 - self.beta2**t
        for name, w in params.items():
            g = _grad(grads, name)
            m = self._m.get(name)
            if m is None or m.shape != w.shape or m.dtype != w.dtype:
                m = self._m[name] = np.zeros_like(w)
                self._v[name] = np.zeros_like(w)
            v = self._v[name]
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * (g * g)
            denom = np.sqrt(v)
            denom *= 1 / math.sqrt(c2)
            denom += self.eps
            upd = np.divide(m, denom, out=denom)
            upd *= lr / c1
            w -= upd


OPTIMIZERS: dict[str, type[Optimizer]] = {"gd": GD, "momentum": Momentum, "adam": Adam}
"""Optimizer classes by name (``"sgd"`` is accepted as an alias of ``"gd"``)."""


def get_optimizer(optimizer: str | Optimizer) -> Optimizer:
    """A fresh optimizer from its name, or the given instance.

    Raises:
        ValueError: for an unknown name.

    Example:
        >>> get_optimizer("adam").name
        'adam'
    """
    if isinstance(optimizer, Optimizer):
        return optimizer
    key = optimizer.strip().lower() if isinstance(optimizer, str) else None
    if key == "sgd":
        key = "gd"
    if key not in OPTIMIZERS:
        raise ValueError(
            f"optimizer must be one of {sorted(OPTIMIZERS)} or an Optimizer instance; got "
            f"{optimizer!r}."
        )
    return OPTIMIZERS[key]()
