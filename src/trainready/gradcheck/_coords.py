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
    five_point_one,
    noise_from_fourth_differences,
    relative_noise,
    richardson_steps,
)
from ._objective import Objective
from ._report import Kink

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

# At most this many suspect elements get re-checked with smaller steps (8 loss calls each); the
# rest keep their first estimate and its (conservative) error.
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
    not_rechecked: int = 0  # suspects beyond MAX_KINK_RECHECKS


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
        # Kinks the fourth difference flags, and mismatches that several kinks crossed at once
        # could explain (the one-sided slopes differ by at least half the mismatch).
        # Kinks the fourth difference flags, and mismatches that several kinks crossed at once
        # could explain (the one-sided slopes differ by at least half the mismatch).
        # Also estimates whose error is dominated by |D(h) - D(h/2)| rather than noise: kinks
        # the test missed, or several crossed at once; a smaller step tightens them.
        mismatch = np.abs(g[coords] - numeric)
        explained = (mismatch > error) & (np.abs(pts.right - pts.left) >= 0.5 * mismatch)
        spread = pts.error - pts.noise
        uncertain = (spread > pts.noise) & (spread > 1e-6 * (np.abs(g[coords]) + np.abs(numeric)))
        # Re-check the mismatches a kink could explain first, then flagged kinks, then the rest.
        priority = np.where(explained, 0, np.where(pts.kink, 1, 2))
        suspects = np.flatnonzero(pts.kink | explained | uncertain)
        suspects = suspects[np.argsort(priority[suspects], kind="stable")]
        kink_flags = pts.kink
        first_sides: tuple[FloatArray, FloatArray, FloatArray] | None = (
            pts.left,
            pts.right,
            pts.side_error,
        )
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
        kink_flags = np.zeros(n, dtype=bool)
        first_sides = None

    excluded = np.zeros(n, dtype=bool)
    kinks: list[Kink] = []
    for rank, jj in enumerate(suspects):
        j = int(jj)
        i = int(coords[j])
        if rank >= MAX_KINK_RECHECKS:
            # Not re-checked: a flagged kink whose analytic value is one of the one-sided
            # slopes is reported, not blamed; anything else is judged on its first estimate.
            if first_sides is not None and kink_flags[j]:
                lft, rgt, tol = (float(a[j]) for a in first_sides)
                if min(lft, rgt) - tol <= g[i] <= max(lft, rgt) + tol:
                    excluded[j] = True
                    kinks.append(_kink(obj, i, numeric[j], g[i], lft, rgt, float(h[j]), False))
            continue
        # Richardson again at h/16 and h/256: a kink further than the step is not crossed. Of
        # the smooth-looking ones take the smaller error; if they disagree, the smaller step
        # (it crosses fewer kinks; several at once can fool the fourth-difference test).
        tries = []
        for factor in (16.0, 256.0):
            hs = float(h[j]) / factor
            vals = [obj.at_coordinate(i, s) for s in (-hs, -hs / 2, hs / 2, hs)]
            tries.append((hs, five_point_one(f0, vals, hs, sigma)))
        smooth = [(hs, pt) for hs, pt in tries if not pt.kink[0]]
        if len(smooth) == 2:
            (_, a), (_, b) = smooth
            agree = abs(a.estimate[0] - b.estimate[0]) <= a.error[0] + b.error[0]
            smooth = [min(smooth, key=lambda t: t[1].error[0])] if agree else [smooth[1]]
        if smooth:
            hs, small = smooth[0]
            better, better_error = float(small.estimate[0]), float(small.error[0])
            moved = abs(better - numeric[j]) > better_error + error[j]
            if better_error < error[j] or moved:
                if eps is not None or kink_flags[j] or moved:
                    kinks.append(
                        _kink(obj, i, better, g[i], small.left[0], small.right[0], hs, True)
                    )
                numeric[j], error[j] = better, better_error
            continue
        hs, small = tries[-1]
        # A kink at (or within h/256 of) theta: no step avoids it. Blame the analytic value
        # only if it is not one of the one-sided derivatives (or between them).
        lft, rgt = float(small.left[0]), float(small.right[0])
        tol = float(small.side_error[0])
        numeric[j], error[j] = float(small.estimate[0]), float(small.error[0])
        if min(lft, rgt) - tol <= g[i] <= max(lft, rgt) + tol:
            excluded[j] = True
            kinks.append(_kink(obj, i, numeric[j], g[i], lft, rgt, hs, False))
    skipped = max(0, len(suspects) - MAX_KINK_RECHECKS)
    return CoordinateResult(coords, numeric, error, excluded, tuple(kinks), sigma, skipped)


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
