"""The doctor's ``--loss`` names, and the loss of the reference network by its output.

Which loss a PyTorch or JAX model gets is decided by its adapter (:mod:`trainready.torch`,
:mod:`trainready.jax`), from the target and the model's output; this module only maps its errors
to the CLI's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from ._common import UsageProblem

__all__ = ["LOSS_OF_OUTPUT", "Loss", "choose_loss", "words"]


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


def choose_loss(framework: str, model: Any, X: Any, y: Any, requested: str | None) -> Any:
    """``trainready.torch.choose_loss`` or ``trainready.jax.choose_loss`` (``framework`` is
    ``"torch"`` or ``"jax"``), its ValueError a usage problem (exit 2)."""
    choose: Any
    if framework == "torch":
        from ..torch import choose_loss as choose
    else:
        from ..jax import choose_loss as choose

    try:
        return choose(model, X, y, requested)
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None


def words(loss: Loss) -> str:
    """``"mean squared error"`` for ``Loss.mse``."""
    return _WORDS[loss]
