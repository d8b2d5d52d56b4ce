"""Element-by-element checking (modes "full" and "sample"): estimates, kinks, judgement."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ._numeric import (
    CENTRAL_NOISE,
    MACHINE_EPS,
    NOISE_SIGMAS,
    five_point,
    noise_from_fourth_differences,
    relative_noise,
    richardson_steps,
)
from ._objective import Objective
from ._report import Kink

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

# At most this many kink suspects get re-checked with smaller steps (4 loss calls each).
MAX_KINK_RECHECKS = 500


@dataclass(frozen=True)
class CoordinateResult:
    """Numeric derivatives of the checked coordinates, with error estimates."""

    coords: IntArray  # flat indices into theta
    numeric: FloatArray
    error: FloatArray  # absolute error estimate of numeric
    excluded: NDArray[np.bool_]  # unresolved kinks: reported, not judged
    kinks: tuple[Kink, ...]
    sigma: float  # absolute noise of J used for the judgement


def check_coordinates(
    obj: Objective,
    g: FloatArray,
    coords: IntArray,
    f0: float,
    sigma: float,
    eps: float | None,
    on_coordinate: Callable[[], None] | None = None,
) -> CoordinateResult:
    """Numeric partial derivatives at ``coords``: Richardson with automatic steps, or the
    textbook central difference with a fixed ``eps``; kinks found and re-checked."""
    theta = obj.theta
    n = coords.size
    if eps is None:
        eta = relative_noise(sigma, f0)
        h = richardson_steps(theta[coords], eta)
        fm1, fmh, fph, fp1 = (np.empty(n) for _ in range(4))
        for j, i in enumerate(coords):
            hi = float(h[j])
            fm1[j] = obj.at_coordinate(int(i), -hi)
            fmh[j] = obj.at_coordinate(int(i), -hi / 2)
            fph[j] = obj.at_coordinate(int(i), hi / 2)
            fp1[j] = obj.at_coordinate(int(i), hi)
            if on_coordinate is not None:
                on_coordinate()
        moved = ~((fm1 == f0) & (fmh == f0) & (fph == f0) & (fp1 == f0))
        first = five_point(f0, fm1, fmh, fph, fp1, h, sigma)
        from_coords = noise_from_fourth_differences(first.d4, moved & ~first.kink)
        if from_coords is not None:
            # Both estimates are upper bounds in different failure modes (ECnoise along a
            # direction that crossed a kink; fourth differences dominated by curvature).
            sigma = max(min(sigma, from_coords), MACHINE_EPS * abs(f0) / 2)
        pts = five_point(f0, fm1, fmh, fph, fp1, h, sigma)
        numeric, error = pts.estimate.copy(), pts.error.copy()
        suspects = np.flatnonzero(pts.kink)
    else:
        h = np.full(n, float(eps))
        fm1, fp1 = np.empty(n), np.empty(n)
        for j, i in enumerate(coords):
            fp1[j] = obj.at_coordinate(int(i), eps)
            fm1[j] = obj.at_coordinate(int(i), -eps)
            if on_coordinate is not None:
                on_coordinate()
        numeric = (fp1 - fm1) / (2 * eps)
        moved = ~((fm1 == f0) & (fp1 == f0))
        second = np.abs(fp1 - 2 * f0 + fm1)[moved]
        if second.size >= 16:  # median |second difference|: an upper bound, robust to kinks
            from_coords = float(np.median(second)) / (np.sqrt(6.0) * 0.6744897501960817)
            sigma = max(min(sigma, from_coords), MACHINE_EPS * abs(f0) / 2)
        error = np.full(n, NOISE_SIGMAS * CENTRAL_NOISE * sigma / eps)
        left, right = (f0 - fm1) / eps, (fp1 - f0) / eps
        mismatch = np.abs(g[coords] - numeric)
        # A kink can explain a mismatch only if the one-sided slopes differ at least as much.
        suspects = np.flatnonzero((mismatch > error) & (np.abs(right - left) >= 0.5 * mismatch))

    excluded = np.zeros(n, dtype=bool)
    kinks: list[Kink] = []
    for rank, j in enumerate(suspects):
        i = int(coords[j])
        hs1, hs2 = float(h[j]) / 16, float(h[j]) / 256
        if rank >= MAX_KINK_RECHECKS:
            excluded[j] = True
            kinks.append(_kink(obj, i, numeric[j], g[i], np.nan, np.nan, float(h[j]), False))
            continue
        fp_a, fm_a = obj.at_coordinate(i, hs1), obj.at_coordinate(i, -hs1)
        fp_b, fm_b = obj.at_coordinate(i, hs2), obj.at_coordinate(i, -hs2)
        d_a, d_b = (fp_a - fm_a) / (2 * hs1), (fp_b - fm_b) / (2 * hs2)
        s_a, s_b = fp_a - 2 * f0 + fm_a, fp_b - 2 * f0 + fm_b
        e_a = NOISE_SIGMAS * CENTRAL_NOISE * sigma / hs1
        e_b = NOISE_SIGMAS * CENTRAL_NOISE * sigma / hs2
        noise_s = NOISE_SIGMAS * np.sqrt(6.0) * sigma
        # Second differences scale as h^2 when smooth, as h when a kink sits within the step.
        kink_at_theta = abs(s_b) > noise_s and abs(s_b) > abs(s_a) / 64
        left_b, right_b = (f0 - fm_b) / hs2, (fp_b - f0) / hs2
        if not kink_at_theta:
            if abs(d_a - numeric[j]) <= error[j] + e_a and abs(d_a - d_b) <= e_a + e_b:
                continue  # smooth after all: the first estimate stands
            if abs(d_a - d_b) <= e_a + e_b:
                numeric[j], error[j] = d_a, e_a + abs(d_a - d_b)
            else:  # the kink lies between hs2 and hs1: the smallest step is clean
                numeric[j], error[j] = d_b, e_b
            kinks.append(_kink(obj, i, numeric[j], g[i], left_b, right_b, hs2, True))
            continue
        # A kink at (or within hs2 of) theta: no step avoids it. Blame the analytic value only
        # if it is not one of the one-sided derivatives (or between them).
        tol = 2 * NOISE_SIGMAS * sigma / hs2 + 1e-6 * (abs(left_b) + abs(right_b))
        lo, hi = min(left_b, right_b) - tol, max(left_b, right_b) + tol
        numeric[j], error[j] = d_b, e_b
        if lo <= g[i] <= hi:
            excluded[j] = True
            kinks.append(_kink(obj, i, d_b, g[i], left_b, right_b, hs2, False))
    return CoordinateResult(coords, numeric, error, excluded, tuple(kinks), sigma)


def _kink(
    obj: Objective,
    i: int,
    numeric: float,
    analytic: float,
    left: float,
    right: float,
    step: float,
    resolved: bool,
) -> Kink:
    name, index = obj.spec.locate(i)
    return Kink(
        name=name,
        index=index,
        numeric=float(numeric),
        analytic=float(analytic),
        left=float(left),
        right=float(right),
        step=float(step),
        resolved=resolved,
    )
