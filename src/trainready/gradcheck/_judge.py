"""Judge compared elements: mismatch beyond the error estimate, per parameter and overall."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .._params import ParamSpec
from ._hints import explain
from ._numeric import MACHINE_EPS
from ._report import ParamResult, classify

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


@dataclass(frozen=True)
class Judgement:
    params: dict[str, ParamResult]
    difference: float  # raw textbook figure over compared, non-excluded elements
    excess: float  # the verdict's figure


def scaled_norm(x: FloatArray) -> float:
    """Euclidean norm that neither overflows nor underflows (values up to 1e308)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size <= 32:  # math.hypot scales by itself; for a few values it is the fastest
        return math.hypot(*x.ravel().tolist())
    top = float(np.max(np.abs(x)))
    if top == 0.0 or not math.isfinite(top):
        return top
    if 1e-150 < top < 1e150:  # the squares can neither overflow nor underflow
        return math.sqrt(float(np.dot(x, x)))
    return top * math.sqrt(float(np.dot(x / top, x / top)))


def relative_difference(numeric: FloatArray, analytic: FloatArray) -> float:
    """``||n - a|| / (||n|| + ||a||)``; 0 when both are zero. Norms are scaled (no overflow)."""
    denom = scaled_norm(numeric) + scaled_norm(analytic)
    if denom == 0:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        return scaled_norm(np.asarray(numeric) - np.asarray(analytic)) / denom


def rms(x: FloatArray) -> float:
    """Root mean square of the finite values, without overflow (0 when there are none)."""
    finite = x[np.isfinite(x)]
    return scaled_norm(finite) / np.sqrt(finite.size) if finite.size else 0.0


def element_excess(
    g: FloatArray, numeric: FloatArray, error: FloatArray, typical: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Absolute and relative mismatch beyond each element's error estimate.

    The relative figure divides by the element's own size, or by 1/1000 of its tensor's typical
    gradient size (``typical``) where that is larger, so elements that are all but zero are not
    judged on their own tiny scale.
    """
    rounding = 64 * MACHINE_EPS * (np.abs(g) + np.abs(numeric))
    beyond = np.maximum(0.0, np.abs(g - numeric) - error - rounding)
    scale = np.abs(g) + np.abs(numeric) + 1e-3 * typical
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(scale > 0, beyond / scale, 0.0)
    return beyond, rel


def judge(
    spec: ParamSpec,
    theta: FloatArray,
    g: FloatArray,
    coords: IntArray,
    numeric: FloatArray,
    error: FloatArray,
    excluded: NDArray[np.bool_],
) -> Judgement:
    """Per-parameter results and the overall figures for element-wise comparisons."""
    keep = ~excluded
    owner = np.searchsorted(np.asarray(spec.offsets), coords, side="right") - 1
    typical = np.zeros(coords.size)
    for t in range(len(spec.names)):
        m = owner == t
        if m.any():
            typical[m] = rms(g[coords[m]]) + rms(numeric[m])
    # A tensor whose gradient is all but zero (rounding of a zero derivative) is judged on
    # 1/100 of the whole gradient's size at least: backprop's rounding scales with that.
    typical = np.maximum(typical, 1e-2 * (rms(g[coords]) + rms(numeric)))
    gc = g[coords]
    beyond, rel = element_excess(gc, numeric, error, typical)
    undefined = ~np.isfinite(gc) | ~np.isfinite(numeric)  # NaN/inf on one side: a mismatch
    beyond[undefined] = np.inf
    rel[undefined] = np.inf
    beyond[~keep] = 0.0
    rel[~keep] = 0.0
    flagged = rel >= 1e-7
    denom = scaled_norm(numeric[keep]) + scaled_norm(gc[keep])
    vector_excess = scaled_norm(beyond) / denom if denom > 0 else 0.0
    results: dict[str, ParamResult] = {}
    for t, (name, shape, size) in enumerate(zip(spec.names, spec.shapes, spec.sizes, strict=True)):
        m = np.flatnonzero(owner == t)
        if m.size == 0:
            results[name] = ParamResult(name, shape, 0, float("nan"), 0.0, "ok", None, None, None)
            continue
        local = coords[m] - spec.offsets[t]
        mk = m[keep[m]]
        diff = relative_difference(numeric[mk], gc[mk]) if mk.size else 0.0
        d_t = scaled_norm(numeric[mk]) + scaled_norm(gc[mk])
        excess_t = max(
            scaled_norm(beyond[m]) / d_t if d_t > 0 else 0.0,
            float(rel[m].max()),
        )
        verdict = classify(excess_t)
        worst_j = (
            m[int(np.argmax(rel[m]))]
            if rel[m].max() > 0
            else m[int(np.argmax(np.abs(numeric[m] - gc[m])))]
        )
        worst_index = np.unravel_index(int(coords[worst_j] - spec.offsets[t]), shape)
        hint = ""
        if verdict != "ok":
            active = (np.abs(gc[m]) > error[m]) | (np.abs(numeric[m]) > error[m])
            hint = explain(
                name,
                shape,
                local,
                gc[m],
                numeric[m],
                theta[coords[m]],
                flagged[m],
                complete=m.size == size,
                active=active,
            )
        mism = m[flagged[m]]
        mism = mism[np.argsort(-rel[mism])][:10]
        results[name] = ParamResult(
            name=name,
            shape=shape,
            checked=int(m.size),
            difference=diff,
            excess=excess_t,
            verdict=verdict,
            worst_index=tuple(int(k) for k in worst_index),
            numeric=float(numeric[worst_j]),
            analytic=float(gc[worst_j]),
            hint=hint,
            mismatched=tuple(
                tuple(int(k) for k in np.unravel_index(int(coords[j] - spec.offsets[t]), shape))
                for j in mism
            ),
        )
    raw = relative_difference(numeric[keep], gc[keep]) if keep.any() else 0.0
    excess = max([vector_excess] + [r.excess for r in results.values()])
    return Judgement(results, raw, excess)
