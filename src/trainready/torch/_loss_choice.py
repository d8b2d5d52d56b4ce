"""Which loss a backward pass starts from, read from a target ``y`` and the model's output.

Read from the target and the model's output on the batch: integer classes with K >= 2 outputs
-> cross-entropy; 0/1 values with one output -> binary cross-entropy (on logits, or on
probabilities when the model ends in ``nn.Sigmoid``); other floats shaped like the output ->
mean squared error. A name (``"cross_entropy"``, ``"mse"``, ``"bce"``) chooses; the CLI's
``doctor --loss`` and :func:`diagnose`'s ``loss=`` both come here.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from .._arrays import to_numpy
from ..signal._loss_rule import LossChoice
from ..signal._loss_rule import guess_loss as _guess

__all__ = ["LossChoice", "choose_loss", "guess_loss"]


def _ends_in_sigmoid(model: Any) -> bool:
    children = list(model.modules())
    return bool(children) and isinstance(children[-1], torch.nn.Sigmoid)


def _is_binary(t: Any) -> bool:
    return bool(t.numel()) and bool(torch.isin(t.double(), torch.tensor([0.0, 1.0])).all())


def guess_loss(t: Any, out: Any) -> str | None:
    """:func:`trainready.signal.guess_loss` for a target tensor and an output tensor."""
    return _guess(to_numpy(t), tuple(out.shape))


def _build(loss: str, t: Any, out: Any, model: Any) -> LossChoice:
    shape = tuple(out.shape)
    if loss == "cross_entropy":
        if t.is_floating_point() and t.shape == out.shape:
            return LossChoice(
                loss,
                F.cross_entropy,
                t,
                f"cross-entropy: y holds class probabilities for {shape[-1]} outputs",
            )
        if t.ndim != 1 or len(t) != shape[0] or len(shape) != 2:
            raise ValueError(
                f"--loss cross_entropy needs y of integer classes, shape ({shape[0]},), for an "
                f"output of shape {shape}; got y of shape {tuple(t.shape)}"
            )
        classes = t.long()
        lo, hi = int(classes.min()), int(classes.max())
        if lo < 0 or hi >= shape[1]:
            raise ValueError(
                f"y holds classes {lo}..{hi} but the model has {shape[1]} outputs; cross-entropy "
                f"needs classes 0..{shape[1] - 1}"
            )
        return LossChoice(
            loss,
            F.cross_entropy,
            classes,
            f"cross-entropy: y holds integer classes {lo}..{hi} for {shape[1]} outputs",
        )
    if t.numel() != out.numel():
        raise ValueError(
            f"--loss {loss} needs y with one value per output: the output has shape "
            f"{shape}, y has shape {tuple(t.shape)}"
        )
    target = t.to(torch.get_default_dtype() if not t.is_floating_point() else t.dtype)
    target = target.reshape(shape)  # never (N, 1) - (N,): that broadcasts to N x N
    if loss == "mse":
        return LossChoice(
            loss,
            F.mse_loss,
            target,
            f"mean squared error: y holds real values shaped like the output {shape}",
        )
    if not _is_binary(t):
        raise ValueError("--loss bce needs y of 0/1 values; y holds other values")
    if _ends_in_sigmoid(model):
        return LossChoice(
            loss,
            F.binary_cross_entropy,
            target,
            "binary cross-entropy on the model's sigmoid output: y holds 0/1",
        )
    return LossChoice(
        loss,
        F.binary_cross_entropy_with_logits,
        target,
        "binary cross-entropy on logits: y holds 0/1 for one output",
    )


def choose_loss(model: Any, X: Any, y: Any, requested: str | None) -> LossChoice:
    """Pick (or build the requested) loss from the target ``y`` and the output ``model(X)``.

    Args:
        model: a ``torch.nn.Module``.
        X: its input batch (a tensor, or a tuple/dict of positional inputs).
        y: the target (a tensor or array).
        requested: ``"cross_entropy"``, ``"mse"``, ``"bce"`` or None to choose.

    Returns:
        A :class:`LossChoice`; ``why`` says which loss and why, for the output.

    Raises:
        ValueError: y does not fit the requested loss, or no loss can be told from y.
    """
    with torch.no_grad():
        out = model(*X) if isinstance(X, tuple) else model(**X) if isinstance(X, dict) else model(X)
    if not isinstance(out, torch.Tensor):
        raise ValueError(
            f"the model returns a {type(out).__name__}, not a tensor; return (model, X, y, "
            "loss_fn) with loss_fn(output, y) -> scalar tensor"
        )
    t = y if isinstance(y, torch.Tensor) else torch.as_tensor(y)
    t = t.to(out.device)
    if requested is not None and requested not in ("cross_entropy", "mse", "bce"):
        raise ValueError(f"loss: expected 'cross_entropy', 'mse' or 'bce'; got {requested!r}")
    loss = requested if requested is not None else guess_loss(t, out)
    if loss is None:
        raise ValueError(
            f"cannot tell the loss from y ({t.dtype}, shape {tuple(t.shape)}) and the output "
            f"(shape {tuple(out.shape)}): pass --loss cross_entropy, mse or bce, or return "
            "(model, X, y, loss_fn)"
        )
    choice = _build(loss, t, out, model)
    how = "chosen with --loss" if requested is not None else "read from y; --loss to choose"
    return LossChoice(choice.name, choice.fn, choice.target, f"{choice.why} ({how})")
