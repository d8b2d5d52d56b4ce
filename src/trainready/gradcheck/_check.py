"""``gradcheck``: compare an analytic gradient with numeric differences of the loss."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from .._params import grads_to_vector, params_to_vector, vector_to_params
from .._rng import as_generator
from ..errors import NondeterministicLossError, PrecisionWarning
from ._coords import check_coordinates
from ._judge import judge
from ._noise import NOISE_POINTS, measure_noise, noise_floor
from ._numeric import relative_noise
from ._objective import LossFn, Objective, as_grads_mapping
from ._probe_mode import probe_mode
from ._report import GradcheckReport, classify
from ._verdict import (
    input_notes,
    nothing_to_compare,
    resolution,
    undefined_both,
    unless_unjudged,
)

FloatArray = NDArray[np.float64]
Mode = Literal["auto", "full", "sample", "probe"]
ProgressFn = Callable[[int, int], None]

__all__ = ["AUTO_FULL_MAX", "gradcheck", "numeric_gradient"]

# mode="auto" checks every element up to this many parameters, and probes above.
AUTO_FULL_MAX = 2000


def gradcheck(
    loss: LossFn,
    params: Mapping[str, Any],
    grads: Mapping[str, Any] | Callable[[dict[str, Any]], Mapping[str, Any]],
    *,
    mode: Mode = "auto",
    eps: float | None = None,
    rng: np.random.Generator | int | None = 0,
    samples: int = 10,
    probes: int = 3,
    progress: ProgressFn | None = None,
) -> GradcheckReport:
    """Check an analytic gradient against numeric differences of the loss; say where and how
    it is wrong.

    Args:
        loss: ``loss(params) -> float``, the whole cost J(theta), regularization included. It
            receives a dict name -> read-only float64 array and must not keep or change them.
        params: name -> array, the point to check at (e.g. ``{"W1": (n1, n0), "b1": (n1,)}``).
            Never modified.
        grads: name -> array with the parameters' names (or ``'d' + name``) and shapes, or a
            callable ``grads(params) -> mapping`` evaluated at ``params``.
        mode: ``"full"`` every element (2N + 2 loss calls when the gradient is right, a few more
            per element that does not clearly agree; 2N + 8 with a fixed eps); ``"sample"``
            ``samples`` elements of every tensor, biases included; ``"probe"`` random directional
            derivatives, then bisection to localize (about 30 calls when right, under 200 to find
            one wrong element among 1e6); ``"auto"`` full up to 2000 parameters, probe above.
        eps: None for automatic steps (a central difference at ``h = eta^(1/3) max(1,
            |theta_i|)``, eta the loss's noise: its type's rounding, measured when the differences
            disagree; Richardson extrapolation, smaller and larger steps only where an element
            does not clearly agree); a float forces the textbook central difference
            ``(J(theta + eps e_i) - J(theta - eps e_i)) / 2 eps``.
        rng: seed or Generator for the sampled elements and probe directions.
        samples: elements per tensor in sample mode.
        probes: random directions in probe mode.
        progress: ``progress(done, total)`` after each loss call (total is an estimate).

    Returns:
        A :class:`GradcheckReport`: ``.verdict`` ("ok" / "check" / "wrong"), ``.passed``,
        ``.difference`` (the textbook figure), ``.resolution`` (the smallest relative error
        it could have seen; "cannot judge" with verdict "check" when that is 1e-3 or more),
        ``.params`` (per parameter: worst element, its
        numeric and analytic values, a hint such as "analytic ≈ 2.00 × numeric"), ``.kinks``,
        ``.evaluations``; ``print(report)`` shows a short table.

    Raises:
        NondeterministicLossError: J differs between two calls at the same parameters.
        KeyError, ValueError, TypeError: missing/extra gradient names, shape mismatches, a
            non-scalar, NaN or inf loss, NaN or inf gradients, empty params.

    Example:
        >>> import numpy as np, trainready as tr
        >>> X = np.random.default_rng(0).standard_normal((5, 3))
        >>> loss = lambda p: float(np.mean(np.tanh(X @ p["w"]) ** 2))
        >>> def grad(p):
        ...     a = np.tanh(X @ p["w"])
        ...     return {"w": X.T @ (2 * a * (1 - a**2)) / len(X)}
        >>> w = np.array([0.1, -0.2, 0.3])
        >>> tr.gradcheck(loss, {"w": w}, grad).verdict
        'ok'
        >>> print(tr.gradcheck(loss, {"w": w}, lambda p: {"w": 2 * grad(p)["w"]}).params["w"].hint)
        analytic ≈ 2.00 × numeric for every element (a doubled term, a missing 1/2 or 1/m?)
    """
    if not callable(loss):
        raise TypeError(
            f"loss must be a callable taking a dict of parameters; got {type(loss).__name__}"
        )
    if mode not in ("auto", "full", "sample", "probe"):
        raise ValueError(f"mode must be 'auto', 'full', 'sample' or 'probe'; got {mode!r}")
    eps = _check_eps(eps)
    for label, value in (("samples", samples), ("probes", probes)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{label} must be a positive integer; got {value!r}")
    generator = as_generator(rng)

    theta, spec = params_to_vector(params, finite=False, copy=False)
    low_float = [
        n for n, d in zip(spec.names, spec.dtypes, strict=True) if d.kind == "f" and d.itemsize < 8
    ]
    if low_float:
        warnings.warn(
            f"params {', '.join(low_float)} are {spec.dtypes[spec.names.index(low_float[0])]}; "
            "the check runs in float64 (your arrays are not changed)",
            PrecisionWarning,
            stacklevel=2,
        )
    at_theta = vector_to_params(theta, spec, keep_float64=True)
    g = grads_to_vector(as_grads_mapping(grads, at_theta), spec, finite=False, copy=False)
    del at_theta
    free = np.isfinite(theta)  # NaN and inf elements are kept as they are, never perturbed

    planned = [0]

    def on_call(done: int) -> None:
        if progress is not None:
            progress(done, max(planned[0], done))

    obj = Objective(loss, theta, spec, on_call=on_call if progress is not None else None)
    del theta  # the objective holds it (read-only)
    n = spec.size
    n_free = int(np.count_nonzero(free))
    if mode == "auto":
        mode = "full" if n_free <= AUTO_FULL_MAX else "probe"
    if mode == "full":
        # 2 calls per element, a few more where one central difference does not settle it
        planned[0] = 2 + 2 * NOISE_POINTS + (2 * n_free if eps is not None else 11 * n_free // 5)
    elif mode == "sample":
        planned[0] = 2 + 2 * NOISE_POINTS + 11 * sum(min(s, samples) for s in spec.sizes) // 5
    else:
        planned[0] = 2 + 2 * NOISE_POINTS + 4 * probes

    notes: list[str] = input_notes(spec, obj.theta, free)
    if n_free == 0:  # one call shows the loss is a scalar; with nothing to perturb, that is all
        f0 = obj.at_theta()
        obj.verify_untouched()
        return nothing_to_compare(mode, spec, f0, eps, obj.calls, notes)
    f0 = _deterministic_value(obj)
    # Element checks with automatic steps assume the loss is as precise as its type and measure
    # its noise only when the first differences say otherwise (saves the noise calls on small
    # problems); probes and a fixed eps need the noise first.
    lazy = eps is None and mode != "probe"
    sigma = noise_floor(obj, f0) if lazy else measure_noise(obj, generator, f0, free)

    def measure() -> float:
        return measure_noise(obj, generator, f0, free)

    report: GradcheckReport | None = None
    if mode == "probe":
        if eps is not None:
            notes.append(f"eps={eps:g} applies to element checks; probes choose their own step")
        report = probe_mode(obj, g, f0, sigma, generator, probes, notes, free)
        if report is None:
            mode = "sample"
    if report is None:
        coords = (
            np.flatnonzero(free)
            if mode == "full"
            else _sample_coords(spec.sizes, spec.offsets, g, samples, generator, free)
        )
        res = check_coordinates(obj, g, coords, f0, sigma, eps, measure if lazy else None)
        excluded = res.excluded | undefined_both(g[coords], res.numeric, notes)
        jd = judge(spec, obj.theta, g, coords, res.numeric, res.error, excluded)
        report = GradcheckReport(
            mode=mode,
            difference=jd.difference,
            excess=jd.excess,
            verdict=classify(jd.excess),
            params=jd.params,
            evaluations=0,
            kinks=res.kinks,
            noise=relative_noise(res.sigma, f0),
            eps=eps,
            n_params=n,
            n_checked=int(coords.size),
            resolution=resolution(
                g[coords], res.numeric, res.error, excluded, obj.theta[coords], f0
            ),
        )
        if res.not_rechecked:
            notes.append(
                f"{res.not_rechecked} elements whose first estimate was uncertain (kinks?) were "
                "not re-checked with smaller steps (limit reached); they are judged against "
                "their larger error estimates"
            )
        if res.one_sided:
            notes.append(
                f"{res.one_sided} element(s) sit at the edge of the loss's domain (NaN or inf on "
                "one side at every step): differentiated from the other side"
            )
        report = unless_unjudged(report, obj, coords, excluded, eps)
        if eps is not None and not report.passed and jd.difference < 1e-3 and not report.unjudged:
            notes.append(f"a fixed eps={eps:g} may limit accuracy; try eps=None (automatic)")
    obj.verify_untouched()
    if not obj.changed and report.verdict != "ok":
        notes.append(
            "the loss returned exactly the same value for every perturbed parameter, but the "
            "analytic gradient is not zero: either the backward of a piecewise-constant function "
            "(sign, round, a straight-through estimator) is wrong, or the loss does not use the "
            "params it is given (does it close over the original arrays? compute it from its "
            "argument, e.g. loss = lambda p: cost(X, y, p))"
        )
    if obj.low_precision:
        notes.append(
            f"the loss is computed in float32 or lower (noise {report.noise:.1e}); steps and "
            "tolerances were chosen for that noise"
        )
    return replace(report, evaluations=obj.calls, notes=tuple(notes) + report.notes)


def _check_eps(eps: Any) -> float | None:
    """``eps``: None (automatic steps) or a positive finite number."""
    if eps is None:
        return None
    if isinstance(eps, bool) or not isinstance(eps, int | float | np.floating | np.integer):
        raise TypeError(f"eps: expected a positive finite float or None (automatic); got {eps!r}")
    if not 0 < float(eps) < math.inf:
        raise ValueError(
            f"eps: expected a positive finite float or None (automatic); got {eps!r}. A step "
            "must move the parameters: try eps=None, or a value such as 1e-6"
        )
    return float(eps)


def _deterministic_value(obj: Objective) -> float:
    first = obj.at_theta()
    obj.verify_untouched()  # a loss that writes into its params is not "nondeterministic"
    second = obj.at_theta()
    if first != second and abs(first - second) > 1e-12 * max(abs(first), abs(second)):
        raise NondeterministicLossError(
            f"loss returned {first!r} and then {second!r} for the same parameters: it is not "
            "deterministic (dropout on, or unseeded noise), so no gradient check can be trusted. "
            "Turn dropout off (keep_prob=1, model.eval()) or fix its seed inside the loss"
        )
    obj.f0 = first
    return first


def _sample_coords(
    sizes: tuple[int, ...],
    offsets: tuple[int, ...],
    g: FloatArray,
    k: int,
    rng: np.random.Generator,
    free: NDArray[np.bool_],
) -> NDArray[np.intp]:
    """k finite elements of every tensor: its largest analytic entry and k-1 drawn at random."""
    chosen = [np.zeros(0, dtype=np.intp)]
    for size, start in zip(sizes, offsets, strict=True):
        candidates = start + np.flatnonzero(free[start : start + size])
        if candidates.size <= k:
            chosen.append(candidates)
            continue
        with np.errstate(invalid="ignore"):
            top = int(np.argmax(np.where(np.isfinite(g[candidates]), np.abs(g[candidates]), -1)))
        rest = rng.choice(candidates.size - 1, size=k - 1, replace=False)
        rest = rest + (rest >= top)  # skip the top element
        chosen.append(candidates[np.sort(np.concatenate([[top], rest]))])
    return np.concatenate(chosen).astype(np.intp)


def numeric_gradient(
    loss: LossFn,
    params: Mapping[str, Any],
    *,
    eps: float | None = None,
    rng: np.random.Generator | int | None = 0,
) -> dict[str, FloatArray]:
    """The numeric gradient of ``loss`` at ``params``, element by element, in float64.

    The same estimates :func:`gradcheck` compares against in full mode: Richardson extrapolation
    with steps from the loss's measured noise (``eps=None``), or the textbook central difference
    with a fixed ``eps``. Costs about 4N loss calls (2N with ``eps``).

    Returns:
        name -> array of the parameter's shape (float64).

    Example:
        >>> import numpy as np
        >>> g = numeric_gradient(lambda p: float(np.sum(np.sin(p["x"]))), {"x": np.zeros(3)})
        >>> np.allclose(g["x"], 1.0, rtol=0, atol=1e-12)
        True
    """
    if not callable(loss):
        raise TypeError(f"loss must be a callable; got {type(loss).__name__}")
    eps = _check_eps(eps)
    theta, spec = params_to_vector(params)
    obj = Objective(loss, theta, spec)
    f0 = _deterministic_value(obj)
    free = np.isfinite(theta)
    sigma = measure_noise(obj, as_generator(rng), f0, free)
    coords = np.arange(spec.size)
    res = check_coordinates(
        obj, np.zeros(spec.size), coords, f0, sigma, None if eps is None else float(eps)
    )
    obj.verify_untouched()
    return vector_to_params(res.numeric, spec, keep_float64=True)
