"""``check_derivative``: the gradient check of a scalar function of one variable.

With one variable, a check can afford what a check of N parameters cannot: a sweep of steps.
The step that suits ``f`` depends on how fast f varies, not on ``|x|`` alone (``sin`` at
``x = 1e8`` varies on a scale of 1, ``x**2`` there on a scale of 1e8). So the noise of f is
measured first (Moré & Wild's ECnoise at a spacing of a few ulps of x, grown until f resolves it),
then Richardson five-point estimates are taken at steps from ``eta^(1/5) max(1, |x|)`` down by
factors of 4 until the noise dominates, and the estimate with the smallest error estimate that
agrees with its neighbour's is judged (Ridders' idea; the error estimate comes from the same
points). Steps whose fourth difference says they straddle a kink are skipped; if every step does,
x sits on the kink and the derivative is judged only if it is neither one-sided slope.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import NondeterministicLossError
from ._check import gradcheck
from ._judge import element_excess, relative_difference
from ._numeric import MACHINE_EPS, FivePoint, ecnoise, five_point_one, relative_noise
from ._objective import loss_value_to_float
from ._report import Verdict, classify

__all__ = ["DerivativeCheck", "check_derivative"]

# An estimate uncertain by more than this fraction of the derivative cannot tell right from wrong.
RESOLUTION_LIMIT = 1e-2


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
        note: why the check could not judge ('' when it could).
    """

    x: float
    numeric: float
    analytic: float
    difference: float
    excess: float
    verdict: Verdict
    kink: bool
    evaluations: int
    note: str = ""

    @property
    def passed(self) -> bool:
        """True when the verdict is "ok"."""
        return self.verdict == "ok"

    def __str__(self) -> str:
        tail = " (x is at a kink: not judged)" if self.kink else ""
        tail += f" ({self.note})" if self.note else ""
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
        x: the point (any magnitude: steps follow f's own scale and measured noise).
        eps: None for automatic steps (a sweep of Richardson steps, see the module docstring);
            a float for the textbook central difference with that step.

    Raises:
        TypeError: f is not callable, df is neither a callable nor a number, x is not a number.
        ValueError: x or f'(x) is not finite, f(x) is not a finite number.
        NondeterministicLossError: f returns two values at the same x.

    Example:
        >>> import math, trainready as tr
        >>> tr.check_derivative(math.sin, math.cos, 0.5).passed
        True
        >>> tr.check_derivative(math.sin, lambda x: -math.cos(x), 0.5).verdict
        'wrong'
        >>> tr.check_derivative(math.sin, math.cos, 1e8).passed   # steps follow sin's scale
        True
    """
    if not callable(f):
        raise TypeError(f"f must be a callable f(x) -> float; got {type(f).__name__}")
    try:
        x0 = float(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"x must be a real number; got {x!r}") from exc
    if not math.isfinite(x0):
        raise ValueError(f"x must be finite; got {x0}")
    analytic = _analytic_value(df, x0)
    if eps is not None:
        return _fixed_step(f, analytic, x0, eps)
    calls = 0

    def value(t: float, where: str) -> float:
        nonlocal calls
        calls += 1
        try:
            return loss_value_to_float(f(t), where)[0]
        except Exception as exc:
            exc.add_note(f"(raised by f during check_derivative, {where})")
            raise

    f0 = value(x0, f"at x = {x0:g}")
    again = value(x0, f"at x = {x0:g}")
    if again != f0:
        raise NondeterministicLossError(
            f"f returned {f0!r} and then {again!r} at the same x = {x0:g}: it is not "
            "deterministic, so no derivative check can be trusted. Fix its random seed"
        )

    def shifted(h: float) -> float | None:
        """f(x0 + h); None where f leaves its domain there (NaN, inf, a math domain error)."""
        try:
            return value(x0 + h, f"at x = {x0:g} {'+' if h > 0 else '-'} {abs(h):.3g}")
        except (ValueError, ArithmeticError):
            return None

    sigma = _noise(shifted, x0, f0)
    best = _sweep(shifted, x0, f0, sigma)
    if best is None:
        raise ValueError(
            f"f is not finite at any step around x = {x0:g} (down to 16 ulps of x): the check "
            "needs f defined on both sides of x"
        )
    numeric, error, kink = best
    if kink is not None and min(kink) - error <= analytic <= max(kink) + error:
        excess, on_kink = 0.0, True  # one of the one-sided slopes, or between them
    else:
        a, n = np.array([analytic]), np.array([numeric])
        beyond, _ = element_excess(a, n, np.array([error]), np.abs(a) + np.abs(n))
        denom = abs(analytic) + abs(numeric)
        excess, on_kink = (float(beyond[0]) / denom if denom > 0 else 0.0), False
    verdict, note = classify(excess), ""
    size = abs(numeric) + abs(analytic)
    finest = 16 * math.ulp(max(1.0, abs(x0)))
    eta = sigma / abs(f0) if f0 != 0 else sigma
    if not on_kink and eta > RESOLUTION_LIMIT:
        verdict, note = (
            "check",
            (
                f"cannot judge: f is as rough as noise at the resolution of x (relative noise "
                f"{eta:.1g} at steps of {finest:.2g} around x = {x0:g})"
            ),
        )
    elif verdict == "ok" and not on_kink and size > 0 and error > RESOLUTION_LIMIT * size:
        verdict, note = (
            "check",
            (
                f"cannot judge: the best numeric estimate is uncertain by ±{error:.2g} "
                f"({error / size:.0%} of the derivative); f varies faster than the finest step x "
                f"allows ({finest:.2g} at x = {x0:g})"
            ),
        )
    return DerivativeCheck(
        x=x0,
        numeric=numeric,
        analytic=analytic,
        difference=relative_difference(np.array([numeric]), np.array([analytic])),
        excess=excess,
        verdict=verdict,
        kink=on_kink,
        evaluations=calls,
        note=note,
    )


def _analytic_value(df: Any, x0: float) -> float:
    """f'(x0) from ``df`` (a callable or a number), as a finite float, with a clear error."""
    value = df(x0) if callable(df) else df
    if value is None or isinstance(value, bool | str | bytes):
        what = "df(x) returned" if callable(df) else "df is"
        raise TypeError(
            f"df must be the derivative of f: a callable df(x) -> float or the number f'(x); "
            f"{what} {value!r}. Pass the derivative, e.g. check_derivative(math.sin, math.cos, x)"
        )
    try:
        out = float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"df must give one real number f'(x); got {type(value).__name__} {value!r}"
        ) from exc
    if not math.isfinite(out):
        raise ValueError(
            f"the analytic derivative at x = {x0:g} is {out}; it must be finite (does df "
            "overflow or divide by zero there?)"
        )
    return out


def _noise(shifted: Callable[[float], float | None], x0: float, f0: float) -> float:
    """ECnoise on f at x0 + k·delta, k = -3..3, delta from 16 ulps of x0 up until f resolves it."""
    delta = 16 * math.ulp(max(1.0, abs(x0)))
    sigma = 0.0
    while delta < 1e-2 * max(1.0, abs(x0)):
        vals = [f0 if k == 0 else shifted(k * delta) for k in range(-3, 4)]
        if all(v is not None for v in vals):
            table = np.array(vals, dtype=np.float64)
            if np.unique(table).size >= 5 or np.count_nonzero(table != f0) == 6:
                with np.errstate(over="ignore", invalid="ignore"):  # |f| near 1e308
                    sigma = ecnoise(table)[0]
                break
        delta *= 100
    return max(sigma, MACHINE_EPS * abs(f0) / 2, np.finfo(np.float64).tiny)


def _sweep(
    shifted: Callable[[float], float | None], x0: float, f0: float, sigma: float
) -> tuple[float, float, tuple[float, float] | None] | None:
    """The best Richardson estimate over a sweep of steps: ``(numeric, error, kink)``, kink the
    one-sided slopes when every step straddled one (else None); None if f was nowhere finite."""
    scale = max(1.0, abs(x0))
    h = relative_noise(sigma, f0) ** 0.2 * scale
    floor = 16 * math.ulp(scale)
    tried: list[FivePoint] = []
    while h >= floor and len(tried) < 60:
        step = 2 * ((x0 + h / 2) - x0)  # x0 ± step and x0 ± step/2 exactly representable
        vals = [shifted(s) for s in (-step, -step / 2, step / 2, step)]
        if all(v is not None for v in vals):
            pt = five_point_one(f0, [float(v) for v in vals if v is not None], step, sigma)
            tried.append(pt)
            if float(pt.noise[0]) > 10 * min(float(p.error[0]) for p in tried):
                break  # smaller steps only add noise from here
        h /= 4
    if not tried:
        return None
    smooth = [j for j, p in enumerate(tried) if not p.kink[0]]
    if not smooth:
        last = tried[-1]
        return (
            float(last.estimate[0]),
            float(last.side_error[0]),
            (
                float(last.left[0]),
                float(last.right[0]),
            ),
        )

    def agrees(j: int) -> bool:
        """Within the error estimates of every smaller smooth step. A step much larger than
        f's own scale (sin at x = 1e15) gives a difference quotient near 0 with a tiny error
        estimate; only the smaller steps show it for what it is."""
        a = tried[j]
        return all(
            abs(a.estimate[0] - tried[k].estimate[0]) <= a.error[0] + tried[k].error[0]
            for k in smooth
            if k > j
        )

    stable = [j for j in smooth if agrees(j)]
    j = min(stable, key=lambda k: float(tried[k].error[0]))
    return float(tried[j].estimate[0]), float(tried[j].error[0]), None


def _fixed_step(
    f: Callable[[float], Any], analytic: float, x0: float, eps: float
) -> DerivativeCheck:
    """The textbook central difference with a forced step, through :func:`gradcheck`."""
    rep = gradcheck(
        lambda p: f(float(p["x"])),
        {"x": np.array(x0)},
        {"x": np.array(analytic)},
        mode="full",
        eps=eps,
    )
    res = rep.params["x"]
    return DerivativeCheck(
        x=x0,
        numeric=float(res.numeric if res.numeric is not None else math.nan),
        analytic=analytic,
        difference=rep.difference,
        excess=rep.excess,
        verdict=rep.verdict,
        kink=bool(rep.kinks) and not rep.kinks[0].resolved,
        evaluations=rep.evaluations,
    )
