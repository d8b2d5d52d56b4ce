"""Which loss starts the backward pass: given, named, or picked from the targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from .._arrays import to_numpy
from .._validation import describe, invalid
from ..signal._loss_rule import checked_loss
from ..signal._loss_rule import pick_loss as _pick_loss

__all__ = ["LOSSES", "LossLike", "pick_loss", "resolve_loss"]

LossFn = Callable[[Any, Any], torch.Tensor]
LossLike = LossFn | str | None


def _bce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(out, y.reshape(out.shape).to(out.dtype))


def _mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(out, y.reshape(out.shape).to(out.dtype))


def _cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out, y)


#: The losses a name selects (the model's output is taken as logits).
LOSSES: dict[str, LossFn] = {"cross_entropy": _cross_entropy, "mse": _mse, "bce": _bce}


def pick_loss(out: Any, y: Any) -> str:
    """The loss the targets call for: integer classes -> ``"cross_entropy"``, 0/1 floats with
    one output -> ``"bce"`` (with logits), other floats shaped like the output -> ``"mse"``.

    Example:
        >>> pick_loss(torch.zeros(4, 3), torch.tensor([0, 2, 1, 0]))
        'cross_entropy'
        >>> pick_loss(torch.zeros(4, 1), torch.tensor([0.0, 1.0, 1.0, 0.0]))
        'bce'
    """
    if not isinstance(y, torch.Tensor) or not isinstance(out, torch.Tensor):
        raise invalid(
            "y",
            "a tensor of targets (or pass loss=)",
            describe(y),
            "pass y as a torch tensor, or loss=your_loss_fn(output, y)",
            kind=TypeError,
        )
    return _pick_loss(tuple(out.shape), to_numpy(y))


def resolve_loss(loss: LossLike, out: Any, y: Any) -> LossFn:
    """The callable for ``loss`` (a callable, a name of :data:`LOSSES`, or None: picked)."""
    if loss is None:
        return LOSSES[pick_loss(out, y)]
    checked = checked_loss(loss, LOSSES, "torch.nn.CrossEntropyLoss()")
    return LOSSES[checked] if isinstance(checked, str) else checked
