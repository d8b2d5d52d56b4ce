"""What a check can and cannot say: notes on the input, elements not judged, the smallest error
it could have seen, and "cannot judge" instead of an "ok" that was never earned."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from .._params import ParamSpec
from ._judge import scaled_norm
from ._numeric import MACHINE_EPS, relative_noise
from ._objective import Objective
from ._report import GradcheckReport, ParamResult

FloatArray = NDArray[np.float64]

__all__ = [
    "BLIND_ABOVE",
    "input_notes",
    "nothing_to_compare",
    "resolution",
    "undefined_both",
    "unless_unjudged",
]

# Error bounds wider than this (relative) cannot judge anything: "1e-3 or more: a bug".
BLIND_ABOVE = 1e-3
# Where the loss is exactly flat, an analytic value this small is rounding of a zero derivative.
_FLAT_ATOL = 1e-12


def input_notes(spec: ParamSpec, theta: FloatArray, free: NDArray[np.bool_]) -> list[str]:
    """Say which tensors are empty and which elements are NaN or inf (not perturbed)."""
    notes = []
    for name, shape, start, size in zip(
        spec.names, spec.shapes, spec.offsets, spec.sizes, strict=True
    ):
        if size == 0:
            notes.append(f"{name} is empty (shape {shape}): nothing to compare there")
            continue
        fixed = size - int(np.count_nonzero(free[start : start + size]))
        if fixed:
            notes.append(
                f"{name} holds {fixed} NaN or inf element(s): kept as they are, not perturbed "
                "(the gradient is checked at its finite elements)"
            )
    return notes


def nothing_to_compare(
    mode: str, spec: ParamSpec, f0: float, eps: float | None, calls: int, notes: list[str]
) -> GradcheckReport:
    """Every tensor is empty (or non-finite): an empty Jacobian is trivially right."""
    notes.append(
        "no element can be perturbed (every checked tensor is empty or non-finite): there is "
        "nothing to compare, and an empty gradient is trivially right"
    )
    params = {
        name: ParamResult(
            name=name,
            shape=shape,
            checked=0,
            difference=float("nan"),
            excess=0.0,
            verdict="ok",
            worst_index=None,
            numeric=None,
            analytic=None,
        )
        for name, shape in zip(spec.names, spec.shapes, strict=True)
    }
    return GradcheckReport(
        mode=mode,
        difference=0.0,
        excess=0.0,
        verdict="ok",
        params=params,
        evaluations=calls,
        kinks=(),
        noise=relative_noise(MACHINE_EPS * abs(f0), f0),
        eps=eps,
        n_params=spec.size,
        n_checked=0,
        notes=tuple(notes),
    )


def undefined_both(g: FloatArray, numeric: FloatArray, notes: list[str]) -> NDArray[np.bool_]:
    """Elements whose analytic value is NaN or inf where the loss does not move at all: the
    function is undefined or flat there (as torch, NaN matches NaN); not judged."""
    out = ~np.isfinite(g) & ((numeric == 0.0) | ~np.isfinite(numeric))
    if out.any():
        notes.append(
            f"{int(out.sum())} element(s) have a NaN or inf analytic gradient where the loss does "
            "not move (the function is undefined there): not judged"
        )
    with np.errstate(invalid="ignore"):
        flat = (numeric == 0.0) & (np.abs(g) <= _FLAT_ATOL) & (g != 0.0)
    if flat.any():
        notes.append(
            f"{int(flat.sum())} element(s): the loss is exactly flat there and the analytic "
            f"value is below {_FLAT_ATOL:g} (backprop's rounding of a zero derivative): not blamed"
        )
    return np.asarray(out | flat, dtype=bool)


def resolution(
    g: FloatArray,
    numeric: FloatArray,
    error: FloatArray,
    excluded: NDArray[np.bool_],
    theta: FloatArray,
    f0: float,
) -> float:
    """The smallest relative error of the compared vector that the check could have seen:
    ``||error|| / (||numeric|| + ||analytic||)`` over the judged elements (nan if none).

    Where the gradient is all but zero (a flat or constant function), its size is no scale:
    the denominator is at least the size a gradient of this loss would have,
    ``|J| sqrt(k) / rms(max(1, |theta_i|))`` for k elements.
    """
    keep = ~excluded & np.isfinite(error) & np.isfinite(g)
    if not keep.any():
        return float("nan")
    scale = np.maximum(1.0, np.abs(theta[keep]))
    typical = abs(f0) * math.sqrt(int(keep.sum())) / (scaled_norm(scale) / math.sqrt(scale.size))
    denom = max(scaled_norm(numeric[keep]) + scaled_norm(g[keep]), typical)
    return scaled_norm(error[keep]) / denom if denom > 0 else 0.0


def _blind_above(obj: Objective) -> float:
    """A check whose error bounds are this wide (relative) cannot judge: the textbook's "a bug,
    almost surely" line 1e-3, or for a float16 loss the square root of its machine epsilon
    (rounding alone keeps such a loss from seeing finer errors). Between the verdict's lines
    and this one the verdict stands and the report says what it could see."""
    return max(BLIND_ABOVE, math.sqrt(obj.low_eps or 0.0))


def unless_unjudged(
    report: GradcheckReport,
    obj: Objective,
    coords: NDArray[np.intp],
    excluded: NDArray[np.bool_],
    eps: float | None,
) -> GradcheckReport:
    """No "ok" without a judgement: when every element was excluded, or the error bounds are
    too wide to see an error at the verdict's "wrong" line, say so (verdict "check")."""
    if report.verdict != "ok":
        return report
    reason = ""
    if coords.size and excluded.all() and eps is not None:
        reason = (
            "every compared element sits on a kink or a jump, or outside the loss's domain, at "
            + (f"eps={eps:g}" if eps is not None else "every step tried")
            + ": nothing could be judged"
            + ("; try eps=None (automatic steps)" if eps is not None else "")
        )
    elif not math.isnan(report.resolution) and not report.resolution < _blind_above(obj):
        theta = obj.theta[coords]
        stuck = int(np.count_nonzero((theta + eps) - theta != eps)) if eps is not None else 0
        if stuck:
            cause = (
                f"eps={eps:g} is below the spacing of float64 numbers at {stuck} of "
                f"{coords.size} elements (theta + eps is not theta + {eps:g} there)"
            )
        elif eps is not None:
            cause = f"eps={eps:g} is too small for the loss's noise ({report.noise:.1e})"
        else:
            cause = f"the loss is too noisy (relative noise {report.noise:.1e})"
        reason = (
            f"the numerical error bound ({report.resolution:.1e} relative) is wider than the "
            f"errors the verdict must see ({_blind_above(obj):.0e}): {cause}"
            + ("; try eps=None (automatic steps)" if eps is not None else "")
        )
    if not reason:
        return report
    return replace(report, verdict="check", unjudged=reason)
