"""The one fix-verification routine: try each finding's candidate fixes on a copy, keep the first
that works, say what it changed.

Every adapter's doctor calls :func:`examine` with its :class:`~trainready.signal.Recorder`;
fixes are tried on the recorder's first :data:`VERIFY_ROWS` rows (the same rule for NumPy and
PyTorch), each distinct fix once. A fix is *verified* when, after it, the finding's own line is no
longer crossed and every judged ratio (vanishing, exploding, non-finite) is inside the lines.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .._rng import RngLike
from ._findings import Finding, Thresholds, backward_ratio, forward_ratio, is_nonfinite, judge
from ._kinds import Fix, Kind, Measure
from ._record import Recorder, SignalRecord

__all__ = ["VERIFY_ROWS", "examine"]

#: Rows of the batch on which fixes are verified: enough for per-layer statistics, and it keeps
#: a verified diagnosis near the cost of one forward and backward pass.
VERIFY_ROWS = 128

# audit kinds that mean "the inputs are not on one scale" (constant features are another matter)
_INPUT_KINDS = ("nonfinite", "scale_mismatch", "offset", "uncentered", "unscaled")

_CANDIDATES: dict[Kind, tuple[tuple[Fix, ...], ...]] = {
    Kind.VANISHING: ((Fix.REINIT,), (Fix.LSUV,)),
    Kind.EXPLODING: ((Fix.REINIT,), (Fix.LSUV,)),
    Kind.DEAD_UNITS: ((Fix.REINIT,), (Fix.LEAKY_RELU,)),
    Kind.SATURATION: ((Fix.REINIT,), (Fix.LSUV,)),
    Kind.SYMMETRY: ((Fix.REINIT,),),
}
# with unnormalized inputs, standardizing them comes first where the inputs can be the cause
_WITH_INPUTS = (Kind.DEAD_UNITS, Kind.SATURATION)


class _Trials:
    """Records of the verification subset with fixes applied, each sequence of fixes once."""

    def __init__(self, subset: Recorder, rng: RngLike) -> None:
        self.subset, self.rng = subset, rng
        self.cache: dict[tuple[Fix, ...], tuple[str, Recorder, SignalRecord]] = {}

    def run(self, fixes: tuple[Fix, ...]) -> tuple[str, Recorder, SignalRecord]:
        if fixes not in self.cache:
            words, rec = [], self.subset
            for fix in fixes:
                desc, rec = rec.apply(fix, self.rng)
                words.append(desc)
            self.cache[fixes] = (
                ", and ".join(words),
                rec,
                rec.record(self.rng, weight_grads=False),
            )
        return self.cache[fixes]


def _measure(f: Finding, rec: SignalRecord) -> float:
    m = f.measure
    if m is Measure.NONFINITE:
        return math.inf if any(is_nonfinite(r) for r in rec.layers) else forward_ratio(rec)
    if m is Measure.FORWARD_RATIO:
        return forward_ratio(rec)
    if m is Measure.BACKWARD_RATIO:
        return backward_ratio(rec)
    column = {
        Measure.DEAD_FRACTION: "dead_fraction",
        Measure.SATURATED_FRACTION: "saturated_fraction",
        Measure.DUPLICATE_FRACTION: "duplicate_fraction",
    }[m]
    return max(float(getattr(r, column)) for r in rec.layers)


def _passes(f: Finding, rec: SignalRecord, th: Thresholds) -> bool:
    after = judge(rec, th)
    same = any(g.kind == f.kind and g.measure is f.measure for g in after)
    ratios = any(g.kind in (Kind.VANISHING, Kind.EXPLODING) for g in after)
    return not same and not ratios


def _g(x: float) -> str:
    return f"{x:.2g}" if math.isfinite(x) else str(x)


def _describe(f: Finding, before: SignalRecord, after: SignalRecord, value: float) -> str:
    if f.kind in (Kind.VANISHING, Kind.EXPLODING):
        text = f"last-layer std {_g(before.layers[-1].z_std)} → {_g(after.layers[-1].z_std)}"
        if f.measure is Measure.BACKWARD_RATIO:
            text += f"; first/last gradient ratio {_g(f.value)} → {_g(value)}"
        return text
    label = {
        Measure.DEAD_FRACTION: "dead fraction",
        Measure.SATURATED_FRACTION: "saturated fraction",
        Measure.DUPLICATE_FRACTION: "duplicate units",
    }[f.measure]
    return f"{label} {f.value:.0%} → {value:.0%}"


def _verify(
    f: Finding, trials: _Trials, before: SignalRecord, th: Thresholds, unnormalized: bool
) -> Finding:
    candidates = _CANDIDATES.get(f.kind, ())
    if unnormalized and f.kind in _WITH_INPUTS:
        candidates = ((Fix.STANDARDIZE, Fix.REINIT), *candidates)
    best: Finding | None = None
    for fixes in candidates:
        desc, _, rec = trials.run(fixes)
        value = _measure(f, rec)
        ok = _passes(f, rec, th)
        cand = dataclasses.replace(
            f,
            fix=f"{desc}: {_describe(f, before, rec, value)}",
            fix_value=value,
            verified=ok,
            applied=fixes,
        )
        if ok:
            return cand
        best = best or cand
    if best is None:
        return f
    return dataclasses.replace(best, fix=best.fix + " (not enough on its own)")


def _input_finding(report: Any, trials: _Trials | None, before: SignalRecord) -> Finding | None:
    """The input audit's findings as one ``"unnormalized_input"``, verified by standardizing."""
    found = [a for a in report.findings if a.kind in _INPUT_KINDS]
    if not found:
        return None
    kinds = [a.kind for a in found]
    worst = max(found, key=lambda a: float(a.value) / float(a.threshold or 1.0))
    message = "; ".join(
        f"{a.message} (input audit: {a.kind}; features {list(a.features)[:8]})" for a in found
    )
    finding = Finding(
        kind=Kind.UNNORMALIZED_INPUT,
        layer=0,
        value=float(worst.value),
        threshold=float(worst.threshold),
        measure=Measure.INPUT_AUDIT,
        quantity=f"input audit: {', '.join(kinds)}",
        message=message,
        fix=worst.fix if trials is None else "",
    )
    if trials is None:
        return finding
    from ..normalize import audit

    desc, fixed, rec = trials.run((Fix.STANDARDIZE,))
    feats = fixed.features()
    after = audit(feats) if feats is not None else None
    still = [] if after is None else [b for b in after.findings if b.kind in kinds]
    z0, z1 = before.layers[0].z_std, rec.layers[0].z_std
    return dataclasses.replace(
        finding,
        fix=f"{desc}: the audit then finds "
        f"{'it still' if still else 'none of ' + ', '.join(kinds)}; first-layer "
        f"pre-activation std {_g(z0)} → {_g(z1)}",
        fix_value=float(still[0].value) if still else None,
        verified=not still,
        applied=(Fix.STANDARDIZE,),
    )


def examine(
    recorder: Recorder,
    *,
    rng: RngLike,
    thresholds: Thresholds,
    verify: bool,
) -> tuple[SignalRecord, Any, tuple[Finding, ...]]:
    """Record, audit the inputs, judge and (with ``verify``) verify every finding's fix.

    Returns:
        ``(record, audit or None, findings)``; findings in the order symmetry, the input, then
        the signal (:data:`trainready.signal.KINDS`).
    """
    from ..normalize import audit

    before = recorder.record(rng)
    feats = recorder.features()
    report = audit(feats) if feats is not None and feats.shape[0] >= 2 else None
    raw = judge(before, thresholds)
    trials = _Trials(recorder.head(VERIFY_ROWS), rng) if verify else None
    inp = None if report is None else _input_finding(report, trials, before)
    if trials is not None:
        raw = [_verify(f, trials, before, thresholds, inp is not None) for f in raw]
    sym = [f for f in raw if f.kind is Kind.SYMMETRY]
    rest = [f for f in raw if f.kind is not Kind.SYMMETRY]
    return before, report, tuple(sym + ([inp] if inp else []) + rest)
