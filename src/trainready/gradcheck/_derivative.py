"""``check_derivative``: the gradient check of a scalar function of one variable."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._check import gradcheck
from ._report import Verdict

__all__ = ["DerivativeCheck", "check_derivative"]


@dataclass(frozen=True)
class DerivativeCheck:
    """Result of :func:`check_derivative`.

    Attributes:
        x: the point.
        numeric, analytic: f'(x) estimated from f, and as given by df.
        difference: ``|n - a| / (|n| + |a|)``, the textbook figure.
        excess: the mismatch beyond the estimated numerical error (what the verdict judges).
        verdict: "ok", "check" or "wrong".
        kink: x sits on (or within the step of) a non-differentiable point.
        evaluations: calls of f.
    """

    x: float
    numeric: float
    analytic: float
    difference: float
    excess: float
    verdict: Verdict
    kink: bool
    evaluations: int

    @property
    def passed(self) -> bool:
        """True when the verdict is "ok"."""
        return self.verdict == "ok"

    def __str__(self) -> str:
        tail = " (x is at a kink: not judged)" if self.kink else ""
        return (
            f"f'({self.x:g}): numeric {self.numeric:.10g}, analytic {self.analytic:.10g}, "
            f"difference {self.difference:.2e} -> {self.verdict}{tail}"
        )


def check_derivative(
    f: Callable[[float], Any],
    df: Callable[[float], Any] | float,
    x: float,
    *,
    eps: float | None = None,
) -> DerivativeCheck:
    """Check the derivative ``df`` of a scalar function ``f`` of one variable at ``x``.

    Args:
        f: ``f(x) -> float``.
        df: ``df(x) -> float``, or the analytic value f'(x) itself.
        x: the point.
        eps: None for an automatic step (Richardson, from f's measured noise); a float for the
            textbook central difference with that step.

    Example:
        >>> import math, trainready as tr
        >>> tr.check_derivative(math.sin, math.cos, 0.5).passed
        True
        >>> tr.check_derivative(math.sin, lambda x: -math.cos(x), 0.5).verdict
        'wrong'
    """
    if not callable(f):
        raise TypeError(f"f must be a callable f(x) -> float; got {type(f).__name__}")
    try:
        x0 = float(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"x must be a real number; got {x!r}") from exc
    if not math.isfinite(x0):
        raise ValueError(f"x must be finite; got {x0}")
    analytic = df(x0) if callable(df) else df
    rep = gradcheck(
        lambda p: f(float(p["x"])),
        {"x": np.array(x0)},
        {"x": np.asarray(analytic, dtype=np.float64).reshape(())},
        mode="full",
        eps=eps,
    )
    res = rep.params["x"]
    return DerivativeCheck(
        x=x0,
        numeric=float(res.numeric if res.numeric is not None else math.nan),
        analytic=float(res.analytic if res.analytic is not None else math.nan),
        difference=rep.difference,
        excess=rep.excess,
        verdict=rep.verdict,
        kink=bool(rep.kinks) and not rep.kinks[0].resolved,
        evaluations=rep.evaluations,
    )
