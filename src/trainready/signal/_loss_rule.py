"""Which loss a backward pass starts from, read from the targets and the output's shape.

One rule for every adapter (PyTorch, JAX) and the CLI's ``doctor``: integer classes (or
integral floats) with one row per example and K >= 2 outputs -> cross-entropy; 0/1 values
with one output -> binary cross-entropy; other floats shaped like the output -> mean squared
error; anything else -> None (the caller asks for ``loss=`` / ``--loss``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import describe, invalid

__all__ = ["LOSS_NAMES", "LossChoice", "checked_loss", "guess_loss", "pick_loss"]

#: The losses a doctor can pick or be told to use by name.
LOSS_NAMES = ("cross_entropy", "mse", "bce")


@dataclass(frozen=True)
class LossChoice:
    """The loss the backward pass starts from.

    Attributes:
        name: ``"cross_entropy"``, ``"mse"``, ``"bce"`` or ``"yours"``.
        fn: ``fn(output, target) -> scalar`` in the model's framework.
        target: the target, converted for ``fn``.
        why: one line for the output, e.g. ``"cross-entropy: y holds integer classes 0..2"``.
    """

    name: str
    fn: Callable[[Any, Any], Any]
    target: Any
    why: str


def _binary(y: np.ndarray) -> bool:
    return bool(y.size) and bool(np.isin(y.astype(np.float64), (0.0, 1.0)).all())


def guess_loss(y: np.ndarray, out_shape: tuple[int, ...]) -> str | None:
    """The loss name for targets ``y`` and an output of shape ``out_shape``, or None.

    Example:
        >>> guess_loss(np.array([0, 2, 1, 0]), (4, 3))
        'cross_entropy'
        >>> guess_loss(np.array([[0.0], [1.0]]), (2, 1)), guess_loss(np.ones((2, 3)) / 3, (2, 3))
        ('bce', 'mse')
    """
    k = out_shape[1] if len(out_shape) == 2 else 1
    n_out = math.prod(out_shape)
    rows = out_shape[0] if out_shape else 1
    if y.dtype.kind in "iub":
        if y.ndim == 1 and len(y) == rows and k >= 2:
            return "cross_entropy"
        if k == 1 and y.size == n_out and _binary(y):
            return "bce"
        return None
    if y.size == n_out:
        return "bce" if k == 1 and _binary(y) else "mse"
    integral = bool(np.all(y == np.round(y))) if y.size else False
    if y.ndim == 1 and len(y) == rows and k >= 2 and integral:
        return "cross_entropy"
    return None


def pick_loss(out_shape: tuple[int, ...], y: np.ndarray) -> str:
    """:func:`guess_loss`, or a ValueError naming ``y`` when the targets call for no loss.

    Example:
        >>> pick_loss((4, 1), np.array([0.0, 1.0, 1.0, 0.0]))
        'bce'
    """
    picked = guess_loss(y, out_shape)
    if picked is not None:
        return picked
    raise invalid(
        "y",
        f"integer classes for an output of shape (n, classes), or floats of the output's "
        f"shape {out_shape}",
        f"{y.dtype} of shape {y.shape}",
        "pass loss= (a callable loss(output, y), or 'cross_entropy', 'mse', 'bce')",
    )


def checked_loss(loss: Any, names: Iterable[str], example: str) -> Any:
    """``loss`` as given -- one of ``names`` or a callable -- else the error naming ``loss``
    (``example``: a callable of the adapter's framework, for the message)."""
    names = tuple(names)
    if isinstance(loss, str):
        if loss not in names:
            raise invalid(
                "loss",
                f"one of {', '.join(map(repr, names))} or a callable",
                repr(loss),
                "pass e.g. loss='cross_entropy'",
            )
        return loss
    if not callable(loss):
        raise invalid(
            "loss",
            "a callable loss(output, y) -> scalar",
            describe(loss),
            f"pass e.g. loss={example}",
            kind=TypeError,
        )
    return loss
