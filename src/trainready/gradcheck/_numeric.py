"""Finite differences, the loss's noise level, step choice, error estimates and kink detection.

Notation for one coordinate (or one probe direction), step h, f0 = J(theta):

- central difference ``D(h) = (f(h) - f(-h)) / 2h``, error ``h^2 f'''/6 + O(sigma/h)``;
- Richardson over h and h/2: ``R = (4 D(h/2) - D(h)) / 3``, truncation ``O(h^4)``, noise
  ``sqrt(130)/6 * sigma/h``; ``|D(h) - D(h/2)| / 3`` estimates the error of ``D(h/2)``; R's
  error estimate takes the whole ``|D(h) - D(h/2)|``, which also bounds R's error when a kink
  sits at h/3 (the one place the fourth-difference test below cannot see it);
- fourth difference on the five points ``-h, -h/2, 0, h/2, h``:
  ``D4 = f(-h) - 4 f(-h/2) + 6 f0 - 4 f(h/2) + f(h)``. For a smooth function it is
  ``(h/2)^4 f''''``, tiny next to the second difference ``S = f(h) - 2 f0 + f(-h) ~ h^2 f''``;
  a kink (slope jump s) inside ``(-h, h)`` makes it ``O(s h)``, as large as S. Left and right
  one-sided (second-order) differences disagree exactly by ``-D4 / h``: the left/right test.
  A jump (a discontinuity of height H) makes D4 ``O(H)`` at every step.

The noise sigma (absolute standard deviation of J's rounding) is measured with Moré & Wild's
ECnoise (SIAM J. Sci. Comput. 33(3), 2011): a table of differences of J along a direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

MACHINE_EPS = float(np.finfo(np.float64).eps)
# Richardson noise amplification: R = [8(f(h/2) - f(-h/2)) - (f(h) - f(-h))] / (6h).
RICHARDSON_NOISE = math.sqrt(130.0) / 6.0
CENTRAL_NOISE = math.sqrt(2.0) / 2.0
D4_NOISE = math.sqrt(70.0)
# How many noise standard deviations a mismatch must exceed to count (N can be 1e6).
NOISE_SIGMAS = 8.0
# A fourth difference this large relative to the second difference is a kink, not curvature.
KINK_RATIO = 0.05


def ecnoise(values: FloatArray) -> tuple[float, bool]:
    """Noise level (absolute std) of equally spaced function values, by Moré & Wild's ECnoise.

    Args:
        values: shape ``(m + 1,)``, J at ``theta + k * delta * u`` for ``k = 0..m`` (m >= 4).

    Returns:
        ``(sigma, reliable)``: the estimate, and whether a consistent level was found (if not,
        sigma is the smallest level above the first, an upper bound).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> s, ok = ecnoise(1.0 + 1e-3 * np.arange(7) + 1e-10 * rng.standard_normal(7))
        >>> bool(1e-11 < s < 1e-9)
        True
    """
    values = np.asarray(values, dtype=np.float64)
    if np.ptp(values) == 0.0:
        return 0.0, True
    # Scale by a power of two (exact) so that squares neither overflow nor underflow.
    scale = 2.0 ** math.floor(math.log2(float(np.max(np.abs(values - values[0])))))
    sigma, reliable = _ecnoise_table(values / scale)
    return sigma * scale, reliable


def _ecnoise_table(values: FloatArray) -> tuple[float, bool]:
    diffs = values.copy()
    gamma = 1.0
    levels: list[float] = []
    sign_change: list[bool] = []
    for k in range(1, values.size):
        diffs = np.diff(diffs)
        gamma *= 0.5 * k / (2 * k - 1)  # (k!)^2 / (2k)!
        levels.append(math.sqrt(gamma * float(np.mean(diffs**2))))
        sign_change.append(bool(np.any(diffs[:-1] * diffs[1:] < 0)) if diffs.size > 1 else True)
    for k in range(len(levels) - 2):
        trio = levels[k : k + 3]
        if min(trio) > 0 and max(trio) <= 4 * min(trio) and sign_change[k]:
            return levels[k], True
    # No consistent level: the smallest of the higher levels (level 1 carries the slope) is an
    # upper bound; 0 when they vanish (a polynomial of low degree, noise below resolution).
    return min(levels[1:]) if len(levels) > 1 else levels[0], False


def relative_noise(sigma: float, f0: float) -> float:
    """Relative noise eta = sigma / |J|, clipped to [machine epsilon, 1e-2]."""
    return float(relative_noises(np.asarray(sigma), f0))


def relative_noises(sigma: FloatArray, f0: float) -> FloatArray:
    """:func:`relative_noise` of every element of ``sigma`` (J == 0: sigma taken as absolute)."""
    eta = sigma / abs(f0) if f0 != 0.0 else sigma
    return np.clip(eta, MACHINE_EPS, 1e-2)


def representable_steps(theta: FloatArray, rel: float | FloatArray) -> FloatArray:
    """Per-coordinate step ``rel * max(1, |theta_i|)``, made exactly representable at theta_i.

    Non-finite coordinates get the step ``rel`` (they are never perturbed).
    """
    scale = np.where(np.isfinite(theta), np.maximum(1.0, np.abs(theta)), 1.0)
    base = np.where(np.isfinite(theta), theta, 0.0)
    h = rel * scale
    return np.asarray((base + h) - base, dtype=np.float64)  # the step the arithmetic takes


def central_step(eta: float) -> float:
    """Best single central step for a unit-scale quantity: eta^(1/3)."""
    return float(eta ** (1.0 / 3.0))


@dataclass(frozen=True)
class FivePoint:
    """Finite-difference estimates from J at -h, -h/2, 0, h/2, h (arrays over coordinates)."""

    estimate: FloatArray  # Richardson R
    error: FloatArray  # absolute error estimate of R: noise + |D(h) - D(h/2)|
    noise: FloatArray  # the noise part of error
    d4: FloatArray  # fourth difference
    second: FloatArray  # f(h) - 2 f0 + f(-h)
    left: FloatArray  # one-sided, second order: (3 f0 - 4 f(-h/2) + f(-h)) / h
    right: FloatArray  # one-sided, second order: (-3 f0 + 4 f(h/2) - f(h)) / h
    side_error: FloatArray  # error estimate of left and right (vs first order, plus noise)
    kink: NDArray[np.bool_]  # the left/right test says a kink lies inside (-h, h)


def five_point(
    f0: float,
    fm1: FloatArray,
    fmh: FloatArray,
    fph: FloatArray,
    fp1: FloatArray,
    h: FloatArray,
    sigma: float | FloatArray,
) -> FivePoint:
    """Combine the five evaluations of each coordinate (vectorized) into estimates and errors."""
    d1 = (fp1 - fm1) / (2 * h)
    d2 = (fph - fmh) / h
    estimate = (4 * d2 - d1) / 3
    # |D(h) - D(h/2)| / 3 would be the error of D(h/2); the full difference also covers a kink
    # at a third of the step, where the fourth difference below vanishes and R is off by s/9.
    noise = NOISE_SIGMAS * RICHARDSON_NOISE * sigma / h
    error = noise + np.abs(d1 - d2)
    d4 = fm1 - 4 * fmh + 6 * f0 - 4 * fph + fp1
    second = fp1 - 2 * f0 + fm1
    left2 = (3 * f0 - 4 * fmh + fm1) / h
    right2 = (-3 * f0 + 4 * fph - fp1) / h
    kink = (np.abs(d4) > NOISE_SIGMAS * D4_NOISE * sigma) & (
        np.abs(d4) > KINK_RATIO * np.abs(second)
    )
    return FivePoint(
        estimate=estimate,
        error=error,
        noise=np.broadcast_to(noise, estimate.shape).copy(),
        d4=d4,
        second=second,
        left=left2,
        right=right2,
        side_error=np.abs(left2 - (f0 - fmh) / (h / 2))
        + np.abs(right2 - (fph - f0) / (h / 2))
        + NOISE_SIGMAS * 8 * sigma / h,
        kink=kink,
    )


def five_point_one(f0: float, values: list[float], h: float, sigma: float) -> FivePoint:
    """:func:`five_point` for one coordinate: ``values`` = J at -h, -h/2, h/2, h."""
    fm1, fmh, fph, fp1 = (np.array([v], dtype=np.float64) for v in values)
    return five_point(f0, fm1, fmh, fph, fp1, np.array([h]), sigma)
