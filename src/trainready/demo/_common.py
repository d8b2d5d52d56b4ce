"""Shared pieces of the demo: the progress callback, a training run's record, settings."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import TrainingDivergedError

__all__ = ["ProgressFn", "Settings", "TrainingRun", "fit_run", "notify"]

#: ``progress(step, done, total)``: ``step`` names the step (one progress bar per name), ``done``
#: of ``total`` units are finished; the last call of a step has ``done == total``.
ProgressFn = Callable[[str, int, int], None]


def notify(progress: ProgressFn | None, step: str, done: int, total: int) -> None:
    """Call ``progress`` if there is one."""
    if progress is not None:
        progress(step, done, total)


@dataclass(frozen=True)
class Settings:
    """How much work each section does: the full demo or ``--quick``.

    Attributes:
        quick: True for the short version.
        norm_epochs: epochs of the normalization section's training runs.
        init_epochs: epochs of the initialization section's runs.
        init_lr: their learning rate.
        depth: layers of the deep ReLU network (section 2).
        width: its width.
        batch: rows of the batch pushed through it.
        probe_hidden: hidden units of the big network of the probe check (section 4); its
            parameter count is ``probe_hidden * (probe_inputs + 2) + 1``.
        probe_inputs: its inputs.
        grid: points per side of the decision-boundary grid.
    """

    quick: bool
    norm_epochs: int
    init_epochs: int
    init_lr: float
    depth: int
    width: int
    batch: int
    probe_hidden: int
    probe_inputs: int
    grid: int

    @classmethod
    def make(cls, quick: bool) -> Settings:
        """The settings of the full demo (``quick=False``) or of ``--quick``."""
        if quick:
            return cls(True, 400, 3000, 0.05, 50, 128, 128, 1000, 998, 120)
        return cls(False, 2000, 15000, 0.01, 50, 256, 256, 1000, 998, 200)


@dataclass(frozen=True)
class TrainingRun:
    """One network trained in the demo.

    Attributes:
        label: what was varied (``"He"``, ``"raw inputs, lr 0.1"``).
        loss: training cost per epoch (up to the epoch it diverged, if it did).
        train_accuracy, test_accuracy: after training (nan if it diverged).
        lr: the learning rate.
        epochs: epochs asked for.
        diverged: the cost became NaN or infinite (training stopped there).
        seconds: wall time of the run.
    """

    label: str
    loss: tuple[float, ...]
    train_accuracy: float
    test_accuracy: float
    lr: float
    epochs: int
    diverged: bool
    seconds: float

    @property
    def final_loss(self) -> float:
        """The last finite training cost (nan when none)."""
        finite = [v for v in self.loss if math.isfinite(v)]
        return finite[-1] if finite else float("nan")


def fit_run(
    label: str,
    net: Any,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    lr: float,
    epochs: int,
    progress: ProgressFn | None,
    step: str,
) -> TrainingRun:
    """Train ``net`` with full-batch gradient descent and record the run (divergence included)."""
    X_train, y_train, X_test, y_test = data
    every = max(1, epochs // 100)

    def callback(info: Any) -> bool:
        if info.epoch % every == 0 or info.epoch == epochs:
            notify(progress, step, info.epoch, epochs)
        return False

    notify(progress, step, 0, epochs)
    try:
        hist = net.fit(X_train, y_train, lr=lr, epochs=epochs, callback=callback)
    except TrainingDivergedError as err:
        hist = err.history  # type: ignore[attr-defined]
        notify(progress, step, epochs, epochs)
        return TrainingRun(
            label, tuple(hist.loss), math.nan, math.nan, lr, epochs, True, hist.seconds
        )
    return TrainingRun(
        label,
        tuple(hist.loss),
        net.accuracy(X_train, y_train),
        net.accuracy(X_test, y_test),
        lr,
        epochs,
        False,
        hist.seconds,
    )
