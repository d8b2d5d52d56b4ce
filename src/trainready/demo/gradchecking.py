"""Demo section 4: gradient checking.

The reference network's backprop is checked at random initialization and after training (Ng's
advice: a wrong gradient can hide while the weights are near zero); then classic bugs are injected
into its gradients one at a time and the check must name the parameter and the pattern; finally a
network with a million parameters is checked in probe mode (random directional derivatives and
bisection), with the number of loss calls beside the 2N of the element-by-element loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..gradcheck import GradcheckReport
from ._common import ProgressFn, Settings, notify

__all__ = ["BUGS", "BugCase", "GradcheckResult", "run_gradcheck"]

FloatArray = NDArray[np.float64]
Grads = dict[str, FloatArray]

LAYER_DIMS = (2, 10, 5, 1)
L2 = 0.7  # the course's lambda; the L2 term must be part of both J and its gradient
TRAIN_EPOCHS = 1000
#: The network of section 3. ReLU's kinks, where a step crosses one, are detected, re-checked
#: with a smaller step and reported in the report's kinks, never blamed.
ACTIVATION = "relu"


def _double_w2(g: Grads, p: Mapping[str, FloatArray], m: int) -> Grads:
    return {**g, "W2": 2 * g["W2"]}


def _flip_b3(g: Grads, p: Mapping[str, FloatArray], m: int) -> Grads:
    return {**g, "b3": -g["b3"]}


def _drop_l2_w1(g: Grads, p: Mapping[str, FloatArray], m: int) -> Grads:
    return {**g, "W1": g["W1"] - L2 / m * p["W1"]}


def _one_element_w2(g: Grads, p: Mapping[str, FloatArray], m: int) -> Grads:
    w2 = g["W2"].copy()
    w2[1, 3] *= 1.01
    return {**g, "W2": w2}


#: (description, parameter it touches, how it changes the correct gradients)
BUGS: tuple[tuple[str, str, Callable[[Grads, Mapping[str, FloatArray], int], Grads]], ...] = (
    ("dW2 computed twice and summed (a doubled term)", "W2", _double_w2),
    ("db3 with its sign flipped (y - a instead of a - y)", "b3", _flip_b3),
    ("dW1 without the L2 term λ/m·W1", "W1", _drop_l2_w1),
    ("one element of dW2, W2[1, 3], off by 1%", "W2", _one_element_w2),
)


@dataclass(frozen=True)
class BugCase:
    """One injected bug and what the check said.

    Attributes:
        bug: what was changed in the backward pass.
        target: the parameter whose gradient was changed.
        report: the :class:`~trainready.gradcheck.GradcheckReport`.
    """

    bug: str
    target: str
    report: GradcheckReport

    @property
    def caught(self) -> bool:
        """The check failed and its worst parameter is the one the bug was injected into."""
        failing = self.report.failing
        return not self.report.passed and bool(failing) and failing[0].name == self.target


@dataclass(frozen=True)
class GradcheckResult:
    """What section 4 measured.

    Attributes:
        layer_dims: the reference network checked.
        n_params: its number of parameters.
        at_init: the check of its correct backprop at random (He) initialization.
        after_training: the same after ``TRAIN_EPOCHS`` epochs.
        bugs: one :class:`BugCase` per injected bug of :data:`BUGS`.
        big_dims: the large network of the probe check.
        big_n_params: its number of parameters N.
        probe_correct: probe-mode check of its correct gradients.
        probe_buggy: probe-mode check with one element of ``W1`` 10% wrong.
        probe_bug_index: the element that was made wrong.
        seconds_per_loss: measured time of one loss call of the large network.
        train_epochs: epochs of training between the two checks of the correct backprop.
        l2: the L2 term's λ in the checked cost.
    """

    layer_dims: tuple[int, ...]
    n_params: int
    at_init: GradcheckReport
    after_training: GradcheckReport
    bugs: tuple[BugCase, ...]
    big_dims: tuple[int, ...]
    big_n_params: int
    probe_correct: GradcheckReport
    probe_buggy: GradcheckReport
    probe_bug_index: tuple[int, ...]
    seconds_per_loss: float
    train_epochs: int = TRAIN_EPOCHS
    l2: float = L2

    @property
    def classic_calls(self) -> int:
        """Loss calls of the classic element-by-element loop on the large network: 2N."""
        return 2 * self.big_n_params

    @property
    def classic_seconds(self) -> float:
        """Estimated time of the classic loop at the measured time per loss call."""
        return self.classic_calls * self.seconds_per_loss


def _functions(
    net: Any, X: FloatArray, y: Any, bug: Callable[[Grads, Mapping[str, FloatArray], int], Grads]
) -> tuple[
    Callable[[Mapping[str, FloatArray]], float], Callable[[Mapping[str, FloatArray]], Grads]
]:
    """J(params) and a (buggy) gradient function built on a private copy of ``net``."""
    from ..nn import MLP

    shadow = MLP(
        net.layer_dims,
        activation=list(net.activations),
        output=net.output,
        init=net.params,
        l2=net.l2,
    )

    def loss(p: Mapping[str, FloatArray]) -> float:
        shadow.params = p
        return shadow.loss(X, y)

    def grads(p: Mapping[str, FloatArray]) -> Grads:
        shadow.params = p
        return bug(shadow.gradients(X, y), p, X.shape[0])

    return loss, grads


def _big_problem(
    settings: Settings, rng: int
) -> tuple[
    tuple[int, ...],
    dict[str, FloatArray],
    Callable[[Mapping[str, FloatArray]], float],
    Callable[[Mapping[str, FloatArray]], Grads],
]:
    """A one-hidden-layer tanh regression network with about a million parameters, written out.

    ``J = mean((tanh(X W1^T + b1) W2^T + b2 - y)^2) / 2`` on a batch of 32 rows, and its
    backward pass.
    """
    gen = np.random.default_rng(rng)
    n_in, n_hidden, m = settings.probe_inputs, settings.probe_hidden, 32
    X = gen.standard_normal((m, n_in))
    y = gen.standard_normal(m)
    params = {
        "W1": gen.standard_normal((n_hidden, n_in)) / np.sqrt(n_in),  # LeCun for tanh
        "b1": 0.1 * gen.standard_normal(n_hidden),
        "W2": gen.standard_normal((1, n_hidden)) / np.sqrt(n_hidden),
        "b2": np.zeros(1),
    }

    def loss(p: Mapping[str, FloatArray]) -> float:
        h = np.tanh(X @ p["W1"].T + p["b1"])
        r = (h @ p["W2"].T)[:, 0] + p["b2"][0] - y
        return float(0.5 * np.mean(r**2))

    def grads(p: Mapping[str, FloatArray]) -> Grads:
        h = np.tanh(X @ p["W1"].T + p["b1"])
        r = (h @ p["W2"].T)[:, 0] + p["b2"][0] - y
        dr = r / m
        dz = np.outer(dr, p["W2"][0]) * (1 - h**2)
        return {
            "W1": dz.T @ X,
            "b1": dz.sum(0),
            "W2": (dr @ h)[None, :],
            "b2": np.array([dr.sum()]),
        }

    return (n_in, n_hidden, 1), params, loss, grads


def _reporter(progress: ProgressFn | None, step: str) -> Callable[[int, int], None]:
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 0.05 or done >= total:
            last[0] = now
            notify(progress, step, done, max(done, total))

    return report


def run_gradcheck(
    settings: Settings, *, rng: int = 0, progress: ProgressFn | None = None
) -> GradcheckResult:
    """Run section 4 (see the module docstring).

    Args:
        settings: the demo's settings (size of the large network).
        rng: seed of the data, the networks and the checks.
        progress: ``progress(step, done, total)``.
    """
    from ..datasets import circles
    from ..gradcheck import gradcheck
    from ..nn import MLP

    data = circles(300, 100, rng=rng)
    X, y = data.X_train, data.y_train
    net = MLP(list(LAYER_DIMS), activation=ACTIVATION, output="sigmoid", init="he", l2=L2, rng=rng)
    step = "4 gradcheck: the reference network's backprop"
    at_init = net.gradcheck(X, y, rng=rng, progress=_reporter(progress, step + " (at init)"))
    notify(progress, step + ", trained", 0, TRAIN_EPOCHS)
    net.fit(X, y, lr=0.05, epochs=TRAIN_EPOCHS)
    trained = net.gradcheck(X, y, rng=rng, progress=_reporter(progress, step + " (trained)"))

    cases = []
    for i, (bug, target, change) in enumerate(BUGS, start=1):
        loss, grads = _functions(net, X, y, change)
        rep = gradcheck(
            loss,
            net.params,
            grads,
            rng=rng,
            progress=_reporter(progress, f"4 gradcheck: injected bug {i} of {len(BUGS)}"),
        )
        cases.append(BugCase(bug, target, rep))

    big_dims, params, loss, grads = _big_problem(settings, rng)
    probe_correct = gradcheck(
        loss,
        params,
        grads,
        mode="probe",
        rng=rng,
        progress=_reporter(progress, "4 gradcheck: probe mode, 1M parameters, correct"),
    )
    g_w1 = grads(params)["W1"]
    flat = np.abs(g_w1).ravel()
    k = int(np.argsort(flat)[flat.size // 2])  # an element of median size: no easy target
    where = tuple(int(i) for i in np.unravel_index(k, g_w1.shape))

    def buggy(p: Mapping[str, FloatArray]) -> Grads:
        g = grads(p)
        g["W1"][where] *= 1.1
        return g

    t0 = time.perf_counter()
    reps = 5
    for _ in range(reps):
        loss(params)
    per_call = (time.perf_counter() - t0) / reps
    probe_buggy = gradcheck(
        loss,
        params,
        buggy,
        mode="probe",
        rng=rng,
        progress=_reporter(progress, "4 gradcheck: probe mode, 1M parameters, one wrong element"),
    )
    return GradcheckResult(
        layer_dims=LAYER_DIMS,
        n_params=sum(int(np.size(v)) for v in net.params.values()),
        at_init=at_init,
        after_training=trained,
        bugs=tuple(cases),
        big_dims=big_dims,
        big_n_params=sum(int(np.size(v)) for v in params.values()),
        probe_correct=probe_correct,
        probe_buggy=probe_buggy,
        probe_bug_index=where,
        seconds_per_loss=per_call,
        train_epochs=TRAIN_EPOCHS,
        l2=L2,
    )
