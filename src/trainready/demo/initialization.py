"""Demo section 3: the same small network trained from four initializations.

The classic experiment (Ng, *Improving deep neural networks*, week 1): a ``[2, 10, 5, 1]`` ReLU
network with a sigmoid output on the two-circles data, trained by full-batch gradient descent from
zeros (symmetry is never broken), large random weights (``N(0, 1) × 10``: saturated sigmoid, huge
initial cost), LeCun (``Var = 1/n``, LeCun et al. 1998) and He (``Var = 2/n``, He et al. 2015).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ._common import ProgressFn, Settings, TrainingRun, fit_run

__all__ = ["SCHEMES", "BoundaryGrid", "InitRun", "InitializationResult", "run_initialization"]

FloatArray = NDArray[np.float64]

LAYER_DIMS = (2, 10, 5, 1)
#: (label, scheme of trainready.init.initialize, init_scale)
SCHEMES: tuple[tuple[str, str, float], ...] = (
    ("zeros", "zeros", 0.01),
    ("random × 10", "random", 10.0),
    ("LeCun", "lecun", 0.01),
    ("He", "he", 0.01),
)


@dataclass(frozen=True)
class BoundaryGrid:
    """A trained classifier's probability on a regular grid (for a decision-boundary plot).

    Attributes:
        xs: ``(n,)`` grid coordinates of feature 0. ys: ``(n,)`` of feature 1.
        proba: ``(n, n)`` probability of class 1; ``proba[i, j]`` at ``(xs[j], ys[i])``.
    """

    xs: FloatArray = field(repr=False)
    ys: FloatArray = field(repr=False)
    proba: FloatArray = field(repr=False)


@dataclass(frozen=True)
class InitRun:
    """One initialization's run: the training record, the initial cost and the boundary.

    Attributes:
        scheme: the scheme's name in :func:`trainready.init.initialize`.
        init_scale: its scale (for ``"random"``).
        initial_loss: the cost before training.
        first_layer_std: std of ``W1`` at initialization.
        run: the :class:`TrainingRun`.
        boundary: the trained network's :class:`BoundaryGrid` (None if training diverged).
    """

    scheme: str
    init_scale: float
    initial_loss: float
    first_layer_std: float
    run: TrainingRun
    boundary: BoundaryGrid | None


@dataclass(frozen=True)
class InitializationResult:
    """What section 3 measured.

    Attributes:
        dataset: the data set's description.
        layer_dims: the network.
        X_train, y_train, X_test, y_test: the data (for plotting the points).
        runs: one :class:`InitRun` per scheme of :data:`SCHEMES`.
    """

    dataset: str
    layer_dims: tuple[int, ...]
    X_train: FloatArray = field(repr=False)
    y_train: NDArray[np.int64] = field(repr=False)
    X_test: FloatArray = field(repr=False)
    y_test: NDArray[np.int64] = field(repr=False)
    runs: tuple[InitRun, ...] = ()


def _grid(net: object, X: FloatArray, n: int) -> BoundaryGrid:
    lo = X.min(axis=0) - 0.25
    hi = X.max(axis=0) + 0.25
    xs = np.linspace(lo[0], hi[0], n)
    ys = np.linspace(lo[1], hi[1], n)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    proba = net.predict_proba(pts)[:, 0].reshape(n, n)  # type: ignore[attr-defined]
    return BoundaryGrid(xs, ys, proba)


def run_initialization(
    settings: Settings, *, rng: int = 0, progress: ProgressFn | None = None
) -> InitializationResult:
    """Run section 3 (see the module docstring).

    Args:
        settings: the demo's settings (epochs, learning rate, grid size).
        rng: seed of the data and of the initializations.
        progress: ``progress(step, done, total)``.
    """
    from ..datasets import circles
    from ..nn import MLP

    data = circles(300, 100, rng=rng)
    arrays = (data.X_train, data.y_train, data.X_test, data.y_test)
    runs = []
    for label, scheme, scale in SCHEMES:
        net = MLP(
            list(LAYER_DIMS),
            activation="relu",
            output="sigmoid",
            init=scheme,
            init_scale=scale,
            rng=rng + 3,
        )
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            initial = net.loss(data.X_train, data.y_train)
        w1_std = float(np.std(net.params["W1"]))
        run = fit_run(
            label,
            net,
            arrays,
            lr=settings.init_lr,
            epochs=settings.init_epochs,
            progress=progress,
            step=f"3 initialization: {label}",
        )
        boundary = None if run.diverged else _grid(net, np.vstack([data.X_train]), settings.grid)
        runs.append(InitRun(scheme, scale, float(initial), w1_std, run, boundary))
    return InitializationResult(
        dataset=f"two circles (generated, {len(data.X_train)} train / {len(data.X_test)} test "
        "points, rng 0)",
        layer_dims=LAYER_DIMS,
        X_train=data.X_train,
        y_train=data.y_train,
        X_test=data.X_test,
        y_test=data.y_test,
        runs=tuple(runs),
    )
