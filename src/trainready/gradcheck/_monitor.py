"""Gradient checks during training, never as part of it.

A wrong gradient can hide while the weights are small and show only after some training, so
people check at initialization and again later. :class:`GradientMonitor` runs a cheap check at
chosen epochs of any training loop and keeps every report; the check consumes none of the
training's random numbers and leaves parameters, optimizer state and RNG state as they were.
"""

from __future__ import annotations

import importlib
import numbers
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._validation import describe, invalid
from ._check import gradcheck
from ._report import GradcheckReport

__all__ = ["GradientMonitor", "check_terms", "summarize_checks"]

CheckFn = Callable[..., GradcheckReport]


@dataclass
class GradientMonitor:
    """Run a gradient check at chosen epochs of a training loop and keep the reports.

    Use it as ``MLP.fit``'s callback (it reads ``info.epoch``), or call ``monitor(epoch)`` from
    any loop; epoch 0 (before training) is run by :meth:`start`. Each epoch is checked at most
    once (``start()`` then ``monitor(0)`` checks epoch 0 once). It never stops training. For a
    PyTorch loop use :func:`trainready.torch.gradient_monitor` (it counts steps). Arguments
    after the epoch go to ``check``: ``monitor(step, params)`` calls ``check(params)``, for loops
    whose parameters are values, not objects the check can read (JAX:
    :func:`trainready.jax.gradient_monitor`).

    Attributes:
        check: ``check(*args) -> GradcheckReport`` at the current parameters (``args``: what
            the loop passed after the epoch, usually nothing).
        at: epochs (or steps) at which to check.
        reports: ``(epoch, report)`` in the order they ran.
        unit: ``"epoch"`` or ``"step"``, the word the summary uses.

    Example:
        >>> import trainready as tr
        >>> data = tr.datasets.circles(rng=0)
        >>> net = tr.nn.MLP([2, 10, 5, 1], activation="relu", output="sigmoid", init="he", rng=0)
        >>> mon = tr.GradientMonitor.for_mlp(net, data.X_train[:32], data.y_train[:32],
        ...                                at=[0, 50])
        >>> _ = mon.start()
        >>> hist = net.fit(data.X_train, data.y_train, lr=0.01, epochs=50, callback=mon)
        >>> [(epoch, rep.verdict) for epoch, rep in mon.reports]
        [(0, 'ok'), (50, 'ok')]
    """

    check: CheckFn
    at: frozenset[int]
    reports: list[tuple[int, GradcheckReport]] = field(default_factory=list)
    unit: str = "epoch"

    def __init__(self, check: CheckFn, at: Iterable[int], *, unit: str = "epoch") -> None:
        if not callable(check):
            raise invalid("check", "a callable returning a report", describe(check), kind=TypeError)
        if unit not in ("epoch", "step"):
            raise invalid("unit", "'epoch' or 'step'", describe(unit))
        self.check = check
        self.at = frozenset(_steps(at, unit))
        self.reports = []
        self.unit = unit

    @classmethod
    def for_mlp(
        cls, net: Any, X: Any, y: Any, at: Iterable[int], **options: Any
    ) -> GradientMonitor:
        """Monitor a :class:`trainready.nn.MLP` on a (small) batch ``X, y``.

        ``options`` go to :meth:`MLP.gradcheck` (default ``mode="probe"``: cheap at any size).
        """
        options.setdefault("mode", "probe")
        return cls(lambda: net.gradcheck(X, y, **options), at)

    @classmethod
    def for_torch(
        cls, loss_fn: Callable[[], Any], module: Any, at: Iterable[int], **options: Any
    ) -> GradientMonitor:
        """Monitor a PyTorch module: ``loss_fn()`` computes the loss from ``module``.

        For each check the module is put in eval mode (dropout off) and torch's random states
        (CPU and CUDA) are saved and restored, so training sees exactly the numbers it would
        have seen without the check. ``options`` go to :func:`trainready.torch.gradcheck`.

        Deprecated: use :func:`trainready.torch.gradient_monitor` (the core does not import the
        PyTorch adapter); kept for one release.
        """
        warnings.warn(
            "GradientMonitor.for_torch is deprecated: use "
            "trainready.torch.gradient_monitor(loss_fn, module, at)",
            DeprecationWarning,
            stacklevel=2,
        )
        adapter = importlib.import_module("trainready.torch")  # the adapter, by name
        monitor: GradientMonitor = adapter.gradient_monitor(loss_fn, module, at, **options)
        return monitor

    def start(self, *args: Any) -> GradientMonitor:
        """Run the check before training (0) if 0 is in ``at``; returns self."""
        if 0 in self.at:
            self(0, *args)
        return self

    def run(self, epoch: int, *args: Any) -> GradcheckReport:
        """Check now (``check(*args)``) and record the report under ``epoch``."""
        report = self.check(*args)
        self.reports.append((int(epoch), report))
        return report

    def __call__(self, info: Any, *args: Any) -> bool:
        """Callback: ``info`` is an epoch (step) number or has ``.epoch``. Returns False (go on).

        Checks (``check(*args)``) when ``info`` is in ``at`` and was not checked yet."""
        epoch = int(getattr(info, "epoch", info))
        if epoch in self.at and all(e != epoch for e, _ in self.reports):
            self.run(epoch, *args)
        return False

    @property
    def passed(self) -> bool:
        """True when every check so far passed."""
        return all(rep.passed for _, rep in self.reports)

    def summary(self) -> str:
        """One line per check, and a call-out when a check that passed earlier fails later."""
        return summarize_checks(self.reports, unit=self.unit)


def _steps(at: Any, unit: str) -> list[int]:
    expected = f"an iterable of {unit}s, ints >= 0 (0 = before training), such as [0, 100]"
    if isinstance(at, str | bytes) or not isinstance(at, Iterable):
        raise invalid("at", expected, describe(at), "pass e.g. at=[0, 100]", kind=TypeError)
    steps = list(at)
    for e in steps:
        if isinstance(e, bool) or not isinstance(e, numbers.Integral) or e < 0:
            raise invalid(
                "at",
                expected,
                f"{describe(e)} in {describe(steps)}",
                f"pass whole {unit}s from 0 (before training), e.g. at=[0, 100]",
            )
    return [int(e) for e in steps]


def summarize_checks(reports: Iterable[tuple[int, GradcheckReport]], unit: str = "epoch") -> str:
    """One line per ``(epoch, report)``, and a call-out when a check passed, then failed.

    Example:
        >>> summarize_checks([])
        'no gradient check ran'
    """
    reports = list(reports)
    if not reports:
        return "no gradient check ran"
    lines = [f"{unit} {e}: {rep.summary()}" for e, rep in reports]
    first_ok = next((e for e, rep in reports if rep.passed), None)
    first_bad = next(
        (e for e, rep in reports if not rep.passed and first_ok is not None and e > first_ok),
        None,
    )
    if first_ok is not None and first_bad is not None:
        lines.append(
            f"passed at {unit} {first_ok}, fails at {unit} {first_bad}: the gradient is wrong "
            "for larger weights (a term that vanishes near initialization), so checking "
            "at initialization alone would have missed it"
        )
    return "\n".join(lines)


def check_terms(
    terms: Mapping[str, tuple[Callable[[dict[str, Any]], Any], Any]],
    params: Mapping[str, Any],
    **options: Any,
) -> dict[str, GradcheckReport]:
    """Check each term of a cost on its own, e.g. the data term and the L2 term.

    When the whole check fails, this says which term's gradient is wrong.

    Args:
        terms: name -> ``(loss, grads)`` of that term alone (as for :func:`trainready.gradcheck`).
        params: the point.
        **options: passed to :func:`trainready.gradcheck`.

    Example:
        >>> import numpy as np
        >>> w = {"W": np.array([1.0, -2.0])}
        >>> reps = check_terms({
        ...     "data": (lambda p: float(np.sum(p["W"] ** 3)), lambda p: {"W": 3 * p["W"] ** 2}),
        ...     "l2": (lambda p: float(0.5 * np.sum(p["W"] ** 2)), lambda p: {"W": 2 * p["W"]}),
        ... }, w)
        >>> {k: r.verdict for k, r in reps.items()}
        {'data': 'ok', 'l2': 'wrong'}
    """
    if not terms:
        raise ValueError("terms is empty: pass name -> (loss, grads) for each term of the cost")
    out = {}
    for name, pair in terms.items():
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(f"terms[{name!r}] must be a (loss, grads) pair; got {pair!r}")
        out[name] = gradcheck(pair[0], params, pair[1], **options)
    return out
