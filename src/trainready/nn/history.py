"""What :meth:`trainready.nn.MLP.fit` returns and what it passes to a callback."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["EpochInfo", "History"]


@dataclass(frozen=True)
class EpochInfo:
    """Passed to ``fit``'s callback after every epoch; return True from the callback to stop.

    Attributes:
        epoch: the epoch just finished, from 1.
        epochs: the number of epochs asked for.
        loss: the epoch's training cost (mean over its mini-batches, weighted by their sizes,
            each taken before its update; with the full batch, the cost before the step).
        dev_loss: the dev cost (evaluation mode, no dropout) or None without dev data.
        dev_accuracy: the dev accuracy for classifiers, else None.
    """

    epoch: int
    epochs: int
    loss: float
    dev_loss: float | None = None
    dev_accuracy: float | None = None


@dataclass(frozen=True)
class History:
    """The record of one ``fit`` run.

    Attributes:
        loss: training cost per epoch (see :class:`EpochInfo`), L2 term included.
        dev_loss: dev cost per epoch (empty without dev data).
        dev_accuracy: dev accuracy per epoch (empty without dev data or for regression).
        epochs: epochs run (fewer than asked when a callback stopped training).
        optimizer: the optimizer's name.
        lr: the learning rate.
        batch_size: the mini-batch size, or None for full batch.
        stopped_early: True when a callback returned True.
        seconds: wall time of the run.
        gradchecks: ``(epoch, GradcheckReport)`` for each ``check_gradients_at`` epoch (not
            part of equality: a history with checks equals the same history without).
    """

    loss: tuple[float, ...]
    dev_loss: tuple[float, ...] = ()
    dev_accuracy: tuple[float, ...] = ()
    epochs: int = 0
    optimizer: str = "gd"
    lr: float = 0.0
    batch_size: int | None = None
    stopped_early: bool = False
    seconds: float = field(default=0.0, compare=False)
    gradchecks: tuple[tuple[int, Any], ...] = field(default=(), compare=False)

    @property
    def gradcheck_summary(self) -> str:
        """The checks made during training, and a call-out if one passed and a later one failed."""
        from ..gradcheck import summarize_checks

        return summarize_checks(self.gradchecks)

    @property
    def final_loss(self) -> float:
        """The last epoch's training cost (NaN when no epoch ran)."""
        return self.loss[-1] if self.loss else float("nan")

    def __repr__(self) -> str:
        dev = f", final dev_loss={self.dev_loss[-1]:.4g}" if self.dev_loss else ""
        return (
            f"History(epochs={self.epochs}, optimizer={self.optimizer!r}, lr={self.lr:g}, "
            f"final loss={self.final_loss:.4g}{dev})"
        )
