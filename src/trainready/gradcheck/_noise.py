"""The loss's noise level: its type's rounding, or measured along random directions (ECnoise).

Moré & Wild, "Estimating computational noise", SIAM J. Sci. Comput. 33(3), 2011.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ._numeric import MACHINE_EPS, ecnoise
from ._objective import Objective
from ._probe import probe_direction

FloatArray = NDArray[np.float64]

__all__ = ["NOISE_POINTS", "measure_noise", "noise_floor"]

# A change this large (relative) right after an exactly constant spacing is a jump, not noise.
_JUMP = 1e-5
NOISE_POINTS = 3  # ECnoise uses theta + k*delta*u for k = -3..3 (6 new calls per direction)


def noise_floor(obj: Objective, f0: float) -> float:
    """The rounding of the loss's floating type at J: half a unit in the last place."""
    floor_eps = MACHINE_EPS if obj.low_eps is None else obj.low_eps
    return max(floor_eps * abs(f0) / 2, float(np.finfo(np.float64).tiny))


def measure_noise(
    obj: Objective, rng: np.random.Generator, f0: float, free: NDArray[np.bool_]
) -> float:
    """The loss's noise (absolute std): ECnoise along a random direction, and along a second
    one when the first is above float64's rounding floor (a kink crossed only inflates an
    estimate; the smaller one is kept).

    The spacing starts tiny (1e-9 relative) and grows only until the loss resolves it (5
    distinct values of 7, or every point differs from J(theta)), so the table rarely spans a
    kink: a kink inside it would make the estimate orders of magnitude too large, hiding bugs.
    A loss that moves by more than 1e-5 of its size at a spacing where it was exactly constant,
    or already at the smallest one, is piecewise constant there (floor, round, a label input
    compared with ==): a smooth or float32 loss moves by a few units of its rounding at most;
    jumps are not noise.
    """
    theta = obj.theta
    floor = noise_floor(obj, f0)
    estimates = []
    for _ in range(2):
        sigma = _noise_along(obj, probe_direction(rng, theta), f0)
        if sigma is not None and sigma > 0:
            estimates.append(sigma)
        if sigma is not None and sigma <= 4 * floor:
            break  # at the floor already: a second direction cannot lower it
    return max(min(estimates) if estimates else 0.0, floor)


def _noise_along(obj: Objective, u: FloatArray, f0: float) -> float | None:
    """ECnoise of J along u at the first spacing that resolves it; None if none did."""
    constant_before = False
    for delta in (1e-9, 1e-7, 1e-5, 1e-3):
        values = np.array(
            [
                f0 if k == 0 else obj.along(u, k * delta)
                for k in range(-NOISE_POINTS, NOISE_POINTS + 1)
            ]
        )
        if not np.all(np.isfinite(values)):
            return None  # left the domain: keep what smaller spacings said
        if np.all(values == f0):
            constant_before = True
            continue
        jumped = np.max(np.abs(values - f0)) > _JUMP * max(abs(f0), 1.0)
        if jumped and (constant_before or delta == 1e-9):
            return 0.0  # piecewise constant: exact plateaus, and jumps that are not noise
        if np.unique(values).size >= 5 or np.count_nonzero(values != f0) == values.size - 1:
            return ecnoise(values)[0]
    return None
