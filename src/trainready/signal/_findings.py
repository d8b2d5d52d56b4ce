"""Judge a :class:`SignalRecord` into findings: vanishing, exploding, dead, saturated, symmetric.

The judgement is against what a well-initialized network does, not only against magic numbers:
with the right variance (He for ReLU, LeCun for tanh) each layer multiplies the signal's variance
by about 1, so the *accumulated* ratio across depth stays within a small factor (Hanin & Rolnick
2018 bound its spread by the sum of 1/width). A constant per-layer factor away from 1 compounds
geometrically; the doctor measures that product, forward (pre-activation std, last layer over
first) and backward (``||dLoss/dz||_F``, first layer over last: with fan-in initializations this
norm is preserved whatever the widths), and names the per-layer factor and the ``n * Var(W)``
that caused it.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .._validation import describe, invalid
from ..init import required_gain
from ._kinds import KINDS, Fix, Kind, Measure
from ._record import LayerRecord, SignalRecord

__all__ = ["KINDS", "Finding", "Thresholds", "is_nonfinite", "judge", "required_gain"]


@dataclass(frozen=True)
class Thresholds:
    """The lines the doctor draws; every one can be changed.

    Attributes:
        vanishing: flag when the accumulated signal ratio across depth (forward: last-layer
            pre-activation std over the first layer's; backward: first-layer ``||dL/dz||`` over the
            last's) falls below this. A healthy deep network stays within a few x of 1; the
            default (1e-2) lets a 50-layer tanh net at the order-chaos edge (about 0.1, a
            polynomial decay) pass while ReLU with LeCun (1e-8) or PyTorch's default U(±1/sqrt(n))
            (1e-20) fail.
        exploding: flag when that ratio exceeds this (default 1e2), or anything is NaN/inf.
        dead: flag a ReLU layer when at least this fraction of its units is zero for every
            example (default 0.7, AUTOTRAINER's line; a healthy 50-layer He network reaches
            about 0.45 in its deepest layers because deep ReLU features correlate).
        saturation: flag a tanh/sigmoid layer when this fraction of its pre-activations is
            beyond ±5 (default 0.25: there tanh' < 2e-4, so a quarter of the gradient is gone;
            DeepDiagnosis uses 0.5).
        symmetry: flag a hidden layer when more than this fraction of its units duplicate
            another unit (default 0: two identical units never become different).
    """

    vanishing: float = 1e-2
    exploding: float = 1e2
    dead: float = 0.7
    saturation: float = 0.25
    symmetry: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One problem the doctor found, with the fix it verified.

    Attributes:
        kind: a :class:`Kind` (a ``str``: ``finding.kind == "vanishing"`` works).
        layer: the layer concerned (1-based; 0 means the input).
        value: the measured quantity (``measure`` says which).
        threshold: the line ``value`` crossed.
        measure: what ``value`` measures, a :class:`Measure`.
        quantity: ``measure`` in words.
        message: what was found, in words.
        fix: the proposed change and what it gave when the doctor re-ran the statistics with it,
            e.g. ``"re-initialize with he_normal: last-layer std 3e-20 -> 0.9"``.
        fix_value: ``value`` measured again with the fix applied (None when not re-run).
        verified: True when the re-run with the fix no longer crosses this finding's line and
            leaves every judged ratio inside the lines.
        applied: the fixes that ``fix`` describes, in order (empty when not re-run).
    """

    kind: Kind
    layer: int
    value: float
    threshold: float
    measure: Measure
    quantity: str = ""
    message: str = ""
    fix: str = ""
    fix_value: float | None = None
    verified: bool = False
    applied: tuple[Fix, ...] = ()

    def __post_init__(self) -> None:
        if not self.quantity:
            object.__setattr__(self, "quantity", self.measure.label)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (enums as their string values)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["kind"], out["measure"] = str(self.kind), str(self.measure)
        out["applied"] = [str(f) for f in self.applied]
        return out


def _fmt(x: float) -> str:
    return f"{x:.2g}" if math.isfinite(x) else str(x)


def _layers_text(idx: list[int], limit: int = 6) -> str:
    """``"layer 3"`` or ``"layers 1, 2, ... (9 layers)"``."""
    shown = ", ".join(str(i) for i in idx[:limit])
    word = "layer" if len(idx) == 1 else "layers"
    return f"{word} {shown}" + (f", ... ({len(idx)} layers)" if len(idx) > limit else "")


_FLOAT_FIELDS = tuple(
    f.name for f in fields(LayerRecord) if f.type in ("float", float) and f.name != "sample"
)


def is_nonfinite(r: LayerRecord) -> bool:
    """Whether a layer overflowed: its flag, or any of its statistics is NaN or inf."""
    return r.nonfinite or not all(
        math.isfinite(getattr(r, k)) for k in _FLOAT_FIELDS if k not in _NOT_JUDGED
    )


# gradient norms of the weights: not judged (NaN in the verification records, which skip them)
_NOT_JUDGED = ("grad_weight_ratio", "weight_grad_norm", "bias_grad_norm")


def forward_ratio(rec: SignalRecord) -> float:
    """Last-layer pre-activation std over the first layer's (nan when the first is 0)."""
    first, last = rec.layers[0].z_std, rec.layers[-1].z_std
    if not (math.isfinite(first) and math.isfinite(last)):
        return math.inf
    return last / first if first > 0 else math.nan


def backward_ratio(rec: SignalRecord) -> float:
    """First-layer ``||dLoss/dz||_F`` over the last layer's (nan when the last is 0)."""
    first, last = rec.layers[0].delta_norm, rec.layers[-1].delta_norm
    if not (math.isfinite(first) and math.isfinite(last)):
        return math.inf
    return first / last if last > 0 else math.nan


def _cause(rec: SignalRecord, direction: str) -> str:
    """The typical per-layer factor (forward: of the variance; backward: of the gradient's
    norm) and the n*Var(W) behind it, in words."""
    L = rec.layers
    if len(L) < 3:
        return ""
    ratios, gains, needs = [], [], []
    for prev, cur in itertools.pairwise(L[:-1]):  # hidden -> hidden layers
        if direction == "forward":
            a, b = prev.z_std, cur.z_std
        else:
            a, b = cur.delta_norm, prev.delta_norm  # on the way back: layer l+1 -> layer l
        if a > 0 and math.isfinite(a) and math.isfinite(b):
            ratios.append((b / a) ** 2 if direction == "forward" else b / a)
        gains.append(cur.weight_gain)
        needs.append(required_gain(prev.activation))
    text = []
    if ratios:
        factor = _fmt(float(np.median(ratios)))
        text.append(
            f"each hidden layer multiplies the variance by about {factor}"
            if direction == "forward"
            else f"each hidden layer multiplies ||dLoss/dz|| by about {factor} on the way back"
        )
    need = needs[0] if needs and all(n == needs[0] for n in needs) else None
    g = float(np.median(gains))
    if need is not None:
        name = L[0].activation
        ref = "He et al. 2015" if name in ("relu", "leaky_relu") else "LeCun et al. 1998"
        text.append(f"n·Var(W) = {_fmt(g)} where {name} needs {need:.3g} ({ref})")
    else:
        text.append(f"n·Var(W) = {_fmt(g)}")
    return " (" + "; ".join(text) + ")"


def _ratio_finding(
    rec: SignalRecord, kind: Kind, measure: Measure, ratio: float, line: float
) -> Finding:
    L = rec.layers
    explode = kind is Kind.EXPLODING
    if measure is Measure.FORWARD_RATIO:
        z0 = L[0].z_std
        cum = [r.z_std / z0 for r in L]
        where = next(i + 1 for i, c in enumerate(cum) if (c > line if explode else c < line))
        msg = (
            f"activations {'explode' if explode else 'vanish'}: the pre-activation std goes "
            f"from {_fmt(z0)} in layer 1 to {_fmt(L[-1].z_std)} in layer {len(L)} "
            f"(x{_fmt(ratio)}; past x{_fmt(line)} by layer {where}){_cause(rec, 'forward')}"
        )
    else:
        dn = [r.delta_norm / L[-1].delta_norm for r in L]
        where = max(i + 1 for i, c in enumerate(dn) if (c > line if explode else c < line))
        msg = (
            f"gradients {'explode' if explode else 'vanish'} on the way back: ||dLoss/dz|| is "
            f"x{_fmt(ratio)} in layer 1 relative to layer {len(L)} (past x{_fmt(line)} from "
            f"layer {where} down); the first layers "
            f"{'would take huge steps' if explode else 'would barely learn'}"
            f"{_cause(rec, 'backward')}"
        )
    return Finding(
        kind=kind, layer=where, value=ratio, threshold=line, measure=measure, message=msg
    )


def ratio_findings(rec: SignalRecord, th: Thresholds) -> list[Finding]:
    """Exploding and vanishing, forward then backward (or one non-finite finding)."""
    L = rec.layers
    bad = [r for r in L if is_nonfinite(r)]
    if bad:
        return [
            Finding(
                kind=Kind.EXPLODING,
                layer=bad[0].index,
                value=math.inf,
                threshold=th.exploding,
                measure=Measure.NONFINITE,
                message=f"NaN or inf from layer {bad[0].index} on: the signal overflowed float64",
            )
        ]
    out = []
    for measure, ratio in (
        (Measure.FORWARD_RATIO, forward_ratio(rec)),
        (Measure.BACKWARD_RATIO, backward_ratio(rec)),
    ):
        if not math.isfinite(ratio):
            continue
        if ratio > th.exploding:
            out.append(_ratio_finding(rec, Kind.EXPLODING, measure, ratio, th.exploding))
        elif ratio < th.vanishing:
            out.append(_ratio_finding(rec, Kind.VANISHING, measure, ratio, th.vanishing))
    order = {Kind.EXPLODING: 0, Kind.VANISHING: 1}
    return sorted(out, key=lambda f: order[f.kind])


def _check_record(rec: Any) -> SignalRecord:
    if not isinstance(rec, SignalRecord):
        raise invalid(
            "rec",
            "a trainready.signal.SignalRecord",
            describe(rec),
            "pass the result of trainready.signal.record(model, X)",
            kind=TypeError,
        )
    if not rec.layers:
        raise invalid(
            "rec",
            "a record of at least one layer",
            "an empty record",
            "record a model that has dense layers",
        )
    return rec


def judge(rec: SignalRecord, thresholds: Thresholds | None = None) -> list[Finding]:
    """Findings from a record, without fixes (``diagnose`` adds verified fixes).

    Args:
        rec: per-layer statistics, from :func:`trainready.signal.record` or a framework adapter.
        thresholds: the lines; defaults to :class:`Thresholds`.

    Returns:
        Findings in the order of :data:`KINDS`; empty for a healthy network. NaN or inf in any
        layer's statistics is an ``"exploding"`` finding (never silence).

    Raises:
        TypeError: ``rec`` is not a SignalRecord. ValueError: it has no layer.
    """
    rec = _check_record(rec)
    th = thresholds or Thresholds()
    out: list[Finding] = []
    L = rec.layers
    sym = [r for r in L if r.duplicate_fraction > th.symmetry]
    if sym:
        worst = max(sym, key=lambda r: r.duplicate_fraction)
        out.append(
            Finding(
                kind=Kind.SYMMETRY,
                layer=worst.index,
                value=worst.duplicate_fraction,
                threshold=th.symmetry,
                measure=Measure.DUPLICATE_FRACTION,
                message=f"{worst.duplicate_fraction:.0%} of the units of layer {worst.index} are "
                f"exact copies of another unit ({_layers_text([r.index for r in sym])}): they "
                "compute the same function and receive the same gradient, so training can never "
                "make them differ (a constant initialization)",
            )
        )
    out += ratio_findings(rec, th)
    dead = [r for r in L if r.dead_fraction >= th.dead]
    if dead:
        worst = max(dead, key=lambda r: r.dead_fraction)
        out.append(
            Finding(
                kind=Kind.DEAD_UNITS,
                layer=worst.index,
                value=worst.dead_fraction,
                threshold=th.dead,
                measure=Measure.DEAD_FRACTION,
                message=f"{worst.dead_fraction:.0%} of the ReLUs of layer {worst.index} output 0 "
                f"for every example of the batch (at or above {th.dead:.0%}: "
                f"{_layers_text([r.index for r in dead])}); dead units pass no gradient",
            )
        )
    # hidden layers only: a sigmoid/softmax output fused with its loss passes the gradient
    # (p - y) whatever the saturation
    sat = [r for r in L[:-1] if r.saturated_fraction > th.saturation]
    if sat:
        worst = max(sat, key=lambda r: r.saturated_fraction)
        out.append(
            Finding(
                kind=Kind.SATURATION,
                layer=worst.index,
                value=worst.saturated_fraction,
                threshold=th.saturation,
                measure=Measure.SATURATED_FRACTION,
                message=f"{worst.saturated_fraction:.0%} of the pre-activations of layer "
                f"{worst.index} ({worst.activation}) are beyond ±5, where the derivative is below "
                f"{'2e-4' if worst.activation == 'tanh' else '7e-3'} "
                f"({_layers_text([r.index for r in sat])}); z std there is {_fmt(worst.z_std)}",
            )
        )
    return out
