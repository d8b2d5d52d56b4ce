"""Second order: check Hessian-vector products against differences of the gradient.

For a direction v, ``H v`` is the directional derivative of the gradient:
``(g(theta + t v) - g(theta - t v)) / 2t``, here with Richardson extrapolation over t and t/2
(four gradient calls per direction), and an error estimate per element from the same points.
Each element of ``H v`` is then judged like an element of a gradient, so the report localizes a
wrong second derivative to its parameter and element, with the same hints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._params import grads_to_vector, params_to_vector, vector_to_params
from ._judge import judge, relative_difference
from ._numeric import D4_NOISE, MACHINE_EPS, NOISE_SIGMAS, RICHARDSON_NOISE
from ._report import GradcheckReport, classify

FloatArray = NDArray[np.float64]
GradFn = Callable[[dict[str, FloatArray]], Mapping[str, Any]]
HvpFn = Callable[[dict[str, FloatArray], dict[str, FloatArray]], Mapping[str, Any]]

__all__ = ["check_hvp"]


def check_hvp(
    grads: GradFn,
    params: Mapping[str, Any],
    hvp: HvpFn,
    *,
    directions: int | np.integer[Any] = 2,
    rng: np.random.Generator | int | None = 0,
) -> GradcheckReport:
    """Check a Hessian-vector product ``hvp(params, v)`` against differences of ``grads``.

    Args:
        grads: ``grads(params) -> mapping`` name (or ``'d' + name``) -> gradient; check it first
            with :func:`trainready.gradcheck`.
        params: name -> array, the point. Never modified.
        hvp: ``hvp(params, v) -> mapping`` name -> (H v) for a direction ``v`` (a dict shaped like
            ``params``).
        directions: random Gaussian directions to try (each costs 4 gradient calls).
        rng: seed or Generator for the directions.

    Returns:
        A :class:`GradcheckReport` (mode ``"hvp"``) for the worst direction: per parameter the
        worst element of ``H v``, its numeric and analytic values and a hint.

    Example:
        >>> import numpy as np
        >>> A = np.array([[2.0, 1.0], [1.0, 3.0]])          # J = x A x / 2, H = A
        >>> g = lambda p: {"x": A @ p["x"]}
        >>> check_hvp(g, {"x": np.ones(2)}, lambda p, v: {"x": A @ v["x"]}).verdict
        'ok'
        >>> check_hvp(g, {"x": np.ones(2)}, lambda p, v: {"x": A.T @ v["x"] * 2}).verdict
        'wrong'
    """
    if not callable(grads) or not callable(hvp):
        raise TypeError("grads and hvp must be callables: grads(params), hvp(params, v)")
    if (
        isinstance(directions, bool | np.bool_)
        or not isinstance(directions, int | np.integer)
        or directions < 1
    ):
        raise ValueError(
            f"directions must be a positive integer (a Python or NumPy int); got {directions!r}"
        )
    directions = int(directions)
    theta, spec = params_to_vector(params)
    gen = np.random.default_rng(rng)
    calls = 0

    def grad_at(point: FloatArray) -> FloatArray:
        nonlocal calls
        calls += 1
        return grads_to_vector(grads(vector_to_params(point, spec, keep_float64=True)), spec)

    g0 = grad_at(theta)
    scale = np.maximum(1.0, np.abs(theta))
    t = MACHINE_EPS**0.2  # the gradient's own rounding: Richardson's step
    worst: GradcheckReport | None = None
    for _ in range(directions):
        v = gen.standard_normal(theta.size) * scale
        vp = vector_to_params(v, spec, keep_float64=True)
        analytic = grads_to_vector(hvp(vector_to_params(theta, spec, keep_float64=True), vp), spec)
        gm1, gmh = grad_at(theta - t * v), grad_at(theta - t / 2 * v)
        gph, gp1 = grad_at(theta + t / 2 * v), grad_at(theta + t * v)
        d1 = (gp1 - gm1) / (2 * t)
        d2 = (gph - gmh) / t
        numeric = (4 * d2 - d1) / 3
        d4 = np.abs(gm1 - 4 * gmh + 6 * g0 - 4 * gph + gp1)
        sigma = d4 / D4_NOISE + MACHINE_EPS * float(np.max(np.abs(g0)))
        error = NOISE_SIGMAS * RICHARDSON_NOISE * sigma / t + np.abs(d1 - d2) / 3
        coords = np.arange(theta.size)
        jd = judge(spec, theta, analytic, coords, numeric, error, np.zeros(theta.size, bool))
        rep = GradcheckReport(
            mode="hvp",
            difference=relative_difference(numeric, analytic),
            excess=jd.excess,
            verdict=classify(jd.excess),
            params=jd.params,
            evaluations=0,
            kinks=(),
            noise=MACHINE_EPS,
            eps=None,
            n_params=theta.size,
            n_checked=theta.size,
        )
        if worst is None or rep.excess > worst.excess:
            worst = rep
    if worst is None:  # pragma: no cover - directions >= 1
        raise RuntimeError("no direction was tried")
    return replace(
        worst,
        evaluations=calls,
        notes=(f"gradient calls: {calls}; the hint compares analytic and numeric H·v",),
    )
