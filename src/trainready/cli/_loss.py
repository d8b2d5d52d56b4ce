"""Which loss the doctor starts the backward pass from, for a PyTorch model and a target ``y``.

Read from the target and the model's output on the batch: integer classes with K >= 2 outputs
-> cross-entropy; 0/1 values with one output -> binary cross-entropy (on logits, or on
probabilities when the model ends in ``nn.Sigmoid``); other floats shaped like the output ->
mean squared error. ``--loss`` chooses; ``FUNC`` may also return its own ``loss_fn``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ._common import UsageProblem

__all__ = ["LOSS_OF_OUTPUT", "Loss", "LossChoice", "choose_torch_loss", "words"]


class Loss(StrEnum):
    cross_entropy = "cross_entropy"
    mse = "mse"
    bce = "bce"


#: The loss the reference network (trainready.nn.MLP) trains with, by its output.
LOSS_OF_OUTPUT = {"softmax": Loss.cross_entropy, "sigmoid": Loss.bce, "linear": Loss.mse}

_WORDS = {
    Loss.cross_entropy: "cross-entropy",
    Loss.mse: "mean squared error",
    Loss.bce: "binary cross-entropy",
}


@dataclass(frozen=True)
class LossChoice:
    """The loss the backward pass starts from.

    Attributes:
        name: ``"cross_entropy"``, ``"mse"``, ``"bce"`` or ``"yours"``.
        fn: ``fn(output, target) -> scalar tensor``.
        target: the target, converted for ``fn`` (a tensor).
        why: one line for the output, e.g. ``"cross-entropy: y holds integer classes 0..2"``.
    """

    name: str
    fn: Callable[[Any, Any], Any]
    target: Any
    why: str


def _ends_in_sigmoid(model: Any) -> bool:
    import torch

    children = list(model.modules())
    return bool(children) and isinstance(children[-1], torch.nn.Sigmoid)


def _is_binary(t: Any) -> bool:
    import torch

    return bool(t.numel()) and bool(torch.isin(t.double(), torch.tensor([0.0, 1.0])).all())


def _guess(t: Any, out: Any) -> Loss | None:
    import torch

    k = out.shape[1] if out.ndim == 2 else 1
    n_out = out.numel()
    if not t.is_floating_point() and not t.is_complex():
        if t.ndim == 1 and len(t) == out.shape[0] and k >= 2:
            return Loss.cross_entropy
        if k == 1 and t.numel() == n_out and _is_binary(t):
            return Loss.bce
        return None
    if t.numel() == n_out:
        return Loss.bce if k == 1 and _is_binary(t) else Loss.mse
    integral = bool(torch.all(t == torch.round(t))) if t.numel() else False
    if t.ndim == 1 and len(t) == out.shape[0] and k >= 2 and integral:
        return Loss.cross_entropy
    return None


def _build(loss: Loss, t: Any, out: Any, model: Any) -> LossChoice:
    import torch
    import torch.nn.functional as F

    shape = tuple(out.shape)
    if loss is Loss.cross_entropy:
        if t.is_floating_point() and t.shape == out.shape:
            return LossChoice(
                loss.value,
                F.cross_entropy,
                t,
                f"cross-entropy: y holds class probabilities for {shape[-1]} outputs",
            )
        if t.ndim != 1 or len(t) != shape[0] or len(shape) != 2:
            raise UsageProblem(
                f"--loss cross_entropy needs y of integer classes, shape ({shape[0]},), for an "
                f"output of shape {shape}; got y of shape {tuple(t.shape)}"
            )
        classes = t.long()
        lo, hi = int(classes.min()), int(classes.max())
        if lo < 0 or hi >= shape[1]:
            raise UsageProblem(
                f"y holds classes {lo}..{hi} but the model has {shape[1]} outputs; cross-entropy "
                f"needs classes 0..{shape[1] - 1}"
            )
        return LossChoice(
            loss.value,
            F.cross_entropy,
            classes,
            f"cross-entropy: y holds integer classes {lo}..{hi} for {shape[1]} outputs",
        )
    if t.numel() != out.numel():
        raise UsageProblem(
            f"--loss {loss.value} needs y with one value per output: the output has shape "
            f"{shape}, y has shape {tuple(t.shape)}"
        )
    target = t.to(torch.get_default_dtype() if not t.is_floating_point() else t.dtype)
    target = target.reshape(shape)  # never (N, 1) - (N,): that broadcasts to N x N
    if loss is Loss.mse:
        return LossChoice(
            loss.value,
            F.mse_loss,
            target,
            f"mean squared error: y holds real values shaped like the output {shape}",
        )
    if not _is_binary(t):
        raise UsageProblem("--loss bce needs y of 0/1 values; y holds other values")
    if _ends_in_sigmoid(model):
        return LossChoice(
            loss.value,
            F.binary_cross_entropy,
            target,
            "binary cross-entropy on the model's sigmoid output: y holds 0/1",
        )
    return LossChoice(
        loss.value,
        F.binary_cross_entropy_with_logits,
        target,
        "binary cross-entropy on logits: y holds 0/1 for one output",
    )


def choose_torch_loss(model: Any, X: Any, y: Any, requested: str | None) -> LossChoice:
    """Pick (or build the requested) loss from the target ``y`` and the output ``model(X)``.

    Args:
        model: a ``torch.nn.Module``.
        X: its input batch (a tensor, or a tuple/dict of positional inputs).
        y: the target (a tensor or array).
        requested: ``"cross_entropy"``, ``"mse"``, ``"bce"`` or None to choose.

    Returns:
        A :class:`LossChoice`; ``why`` says which loss and why, for the output.

    Raises:
        UsageProblem: y does not fit the requested loss, or no loss can be told from y.
    """
    import torch

    with torch.no_grad():
        out = model(*X) if isinstance(X, tuple) else model(**X) if isinstance(X, dict) else model(X)
    if not isinstance(out, torch.Tensor):
        raise UsageProblem(
            f"the model returns a {type(out).__name__}, not a tensor; return (model, X, y, "
            "loss_fn) with loss_fn(output, y) -> scalar tensor"
        )
    t = y if isinstance(y, torch.Tensor) else torch.as_tensor(y)
    t = t.to(out.device)
    loss = Loss(requested) if requested is not None else _guess(t, out)
    if loss is None:
        raise UsageProblem(
            f"cannot tell the loss from y ({t.dtype}, shape {tuple(t.shape)}) and the output "
            f"(shape {tuple(out.shape)}): pass --loss cross_entropy, mse or bce, or return "
            "(model, X, y, loss_fn)"
        )
    choice = _build(loss, t, out, model)
    how = "chosen with --loss" if requested is not None else "read from y; --loss to choose"
    return LossChoice(choice.name, choice.fn, choice.target, f"{choice.why} ({how})")


def words(loss: Loss) -> str:
    """``"mean squared error"`` for ``Loss.mse``."""
    return _WORDS[loss]
