"""Probe mode: random directional derivatives, then bisection to localize a mismatch.

A probe compares ``g · u`` with the derivative of ``t -> J(theta + t u)`` (Richardson over
t and t/2, 4 loss calls) for a Gaussian ``u``, whatever N is. Its tolerance is its own error
estimate, not a fixed rtol, so one element k% wrong shifts it by ~k% of ``|g_i u_i|``, far above
the noise floor. A failing probe's direction is then restricted to each tensor, and to halves of
a tensor (the right half's mismatch is the parent's minus the left's, so only the left half is
probed), which finds one wrong element among N in ``O(T + log2 N)`` probes; the element is then
confirmed, and a few more elements of its tensor are checked to tell one wrong element from a
wrong tensor (a factor, a sign, a missing term).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .._params import ParamSpec
from ._numeric import MACHINE_EPS, central_step, five_point_one, relative_noise
from ._objective import Objective
from ._report import Probe

FloatArray = NDArray[np.float64]

# Localize at most this many mismatched tensors; check this many extra elements of each.
MAX_LOCALIZED = 3
CHARACTERIZE = 6
# A probe counts only if its relative mismatch beyond error is at least this.
PROBE_FLOOR = 1e-10
_CHUNK = 1 << 16  # elements per chunk: no temporary of theta's size


def _dot(g: FloatArray, u: FloatArray) -> tuple[float, float]:
    """``(g · u, sum |g_i u_i|)`` in chunks."""
    total = size = 0.0
    for lo in range(0, g.size, _CHUNK):
        gu = g[lo : lo + _CHUNK] * u[lo : lo + _CHUNK]
        total += float(gu.sum())
        size += float(np.abs(gu).sum())
    return total, size


@dataclass(frozen=True)
class Directional:
    """One directional-derivative comparison; ``mismatch`` is signed (analytic - numeric)."""

    analytic: float
    numeric: float
    error: float
    step: float
    kinked: bool

    @property
    def mismatch(self) -> float:
        return self.analytic - self.numeric

    @property
    def beyond(self) -> float:
        """Relative mismatch beyond the error estimate (0 when within it)."""
        over = abs(self.mismatch) - self.error
        scale = abs(self.analytic) + abs(self.numeric)
        return over / scale if over > 0 and scale > 0 else 0.0

    @property
    def significant(self) -> bool:
        return not self.kinked and self.beyond >= PROBE_FLOOR


class Prober:
    """Directional comparisons with a shared step that only shrinks.

    When a direction crosses a kink even at a smaller step, later probes start at that smaller
    step (fewer crossings); a probe that mismatches is confirmed at a quarter of its step, since
    a wrong gradient mismatches at every step while a kink's artefact does not.
    """

    def __init__(self, obj: Objective, g: FloatArray, f0: float, sigma: float, t0: float) -> None:
        self.obj, self.g, self.f0, self.sigma, self.step = obj, g, f0, sigma, t0

    def _once(
        self, u: FloatArray, start: int, stop: int, t0: float, sticky: bool = True
    ) -> Directional:
        analytic, size = _dot(self.g[start:stop], u)
        rounding = 8 * MACHINE_EPS * size
        t = t0
        for t in (t0, t0 / 10, t0 / 100):
            vals = [self.obj.along(u, s, start, stop) for s in (-t, -t / 2, t / 2, t)]
            pts = five_point_one(self.f0, vals, t, self.sigma)
            result = Directional(
                analytic=analytic,
                numeric=float(pts.estimate[0]),
                error=float(pts.error[0]) + rounding,
                step=t,
                kinked=bool(pts.kink[0]),
            )
            if not result.kinked:
                if sticky:
                    self.step = min(self.step, t)
                return result
        return result

    def probe(
        self, u: FloatArray, start: int = 0, stop: int | None = None, *, confirm: bool = False
    ) -> Directional:
        """Compare ``g[start:stop] · u`` with the numeric derivative along u (u has that length)."""
        stop = self.obj.spec.size if stop is None else stop
        first = self._once(u, start, stop, self.step)
        if not (confirm and first.significant):
            return first
        second = self._once(u, start, stop, first.step / 4, sticky=False)
        agree = (
            second.significant
            and np.sign(second.mismatch) == np.sign(first.mismatch)
            and abs(second.mismatch - first.mismatch)
            <= first.error + second.error + 0.25 * max(abs(first.mismatch), abs(second.mismatch))
        )
        return first if agree else second


def probe_direction(
    rng: np.random.Generator, theta: FloatArray, start: int = 0, stop: int | None = None
) -> FloatArray:
    """A Gaussian direction scaled like the steps: u_i ~ N(0, 1) * max(1, |theta_i|), and 0
    where theta_i is NaN or inf (never perturbed)."""
    seg = theta[start:stop]
    u = rng.standard_normal(seg.size)
    for lo in range(0, seg.size, _CHUNK):  # scaled in place, in chunks: one vector in all
        part = seg[lo : lo + _CHUNK]
        u[lo : lo + _CHUNK] *= np.where(np.isfinite(part), np.maximum(1.0, np.abs(part)), 0.0)
    return u


def split_point(lo: int, hi: int, offsets: tuple[int, ...]) -> int:
    """Where to halve ``[lo, hi)``: at the tensor boundary nearest the middle, if any."""
    inner = [o for o in offsets if lo < o < hi]
    mid = (lo + hi) // 2
    return min(inner, key=lambda o: abs(o - mid)) if inner else mid


@dataclass
class Localization:
    """Where bisection led: the element, and ranges that also mismatched but were not followed."""

    index: int
    unexplored: list[tuple[int, int]]
    probes: list[Probe]


def bisect(prober: Prober, u: FloatArray, lo: int, hi: int, parent: Directional) -> Localization:
    """Follow the larger mismatch down to one element of ``[lo, hi)`` (u covers all of theta)."""
    mismatch, error = parent.mismatch, parent.error
    unexplored: list[tuple[int, int]] = []
    probes: list[Probe] = []
    offsets = prober.obj.spec.offsets
    while hi - lo > 1:
        mid = split_point(lo, hi, offsets)
        left = prober.probe(u[lo:mid], lo, mid)
        probes.append(as_probe(prober.obj, left, lo, mid))
        m_left, e_left = left.mismatch, left.error
        m_right, e_right = mismatch - m_left, error + e_left
        sig_left = abs(m_left) > e_left
        sig_right = abs(m_right) > e_right
        if e_left > 0 and e_right > 0:
            go_left = abs(m_left) / e_left >= abs(m_right) / e_right
        else:
            go_left = abs(m_left) >= abs(m_right)
        if sig_left and sig_right:
            unexplored.append((mid, hi) if go_left else (lo, mid))
        if go_left:
            hi, mismatch, error = mid, m_left, e_left
        else:
            lo, mismatch, error = mid, m_right, e_right
    return Localization(lo, unexplored, probes)


def as_probe(obj: Objective, d: Directional, lo: int, hi: int) -> Probe:
    """The report's record of a directional comparison over ``[lo, hi)``."""
    return Probe(
        support=describe_range(obj.spec, lo, hi),
        analytic=d.analytic,
        numeric=d.numeric,
        error=d.error,
        significant=d.significant,
        step=d.step,
    )


def describe_range(spec: ParamSpec, lo: int, hi: int) -> str:
    """``"all"``, a parameter name, ``"W1 elements 0..499 (flat)"`` or ``"W1..b2"``."""
    if lo == 0 and hi == spec.size:
        return "all"
    first, last = spec.locate(lo), spec.locate(hi - 1)
    if first[0] == last[0]:
        sl = spec.slice_of(first[0])
        if lo == sl.start and hi == sl.stop:
            return first[0]
        return f"{first[0]} elements {lo - sl.start}..{hi - 1 - sl.start} (flat)"
    return f"{first[0]}..{last[0]}"


def probe_step(sigma: float, f0: float) -> float:
    """Probe step: eta^(1/3), which separated bugs from noise best for random directions."""
    return central_step(relative_noise(sigma, f0))
