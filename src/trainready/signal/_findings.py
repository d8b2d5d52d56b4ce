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
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._record import SignalRecord

__all__ = ["KINDS", "Finding", "Thresholds", "judge", "required_gain"]

#: The kinds of finding, in the order they are reported.
KINDS = ("symmetry", "unnormalized_input", "exploding", "vanishing", "dead_units", "saturation")


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


@dataclass(frozen=True)
class Finding:
    """One problem the doctor found, with the fix it verified.

    Attributes:
        kind: one of :data:`KINDS`.
        layer: the layer concerned (1-based; 0 means the input).
        value: the measured quantity (``quantity`` says what it is).
        threshold: the line ``value`` crossed.
        quantity: what ``value`` measures, in words.
        message: what was found, in words.
        fix: the proposed change and what it gave when the doctor re-ran the statistics with it,
            e.g. ``"re-initialize with he_normal: last-layer std 3e-20 -> 0.9"``.
        fix_value: ``value`` measured again with the fix applied (None when not re-run).
        verified: True when the re-run with the fix no longer crosses the threshold.
    """

    kind: str
    layer: int
    value: float
    threshold: float
    quantity: str
    message: str
    fix: str = ""
    fix_value: float | None = None
    verified: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def required_gain(activation: str) -> float | None:
    """The ``n * Var(W)`` a layer *fed by* ``activation`` needs to keep the variance, or None.

    ReLU keeps half of the second moment (He et al. 2015): 2. Leaky ReLU with slope 0.01:
    2 / (1 + 0.01^2). tanh and linear keep it to first order (LeCun et al. 1998): 1.

    Example:
        >>> required_gain("relu"), required_gain("tanh")
        (2.0, 1.0)
    """
    return {"relu": 2.0, "leaky_relu": 2.0 / (1 + 0.01**2), "tanh": 1.0, "linear": 1.0}.get(
        activation
    )


def _fmt(x: float) -> str:
    return f"{x:.2g}" if math.isfinite(x) else str(x)


def _layers_text(idx: list[int], limit: int = 6) -> str:
    shown = ", ".join(str(i) for i in idx[:limit])
    return shown + (f", ... ({len(idx)} layers)" if len(idx) > limit else "")


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


def _cause(rec: SignalRecord) -> str:
    """The typical per-layer variance factor and the n*Var(W) behind it, in words."""
    L = rec.layers
    if len(L) < 3:
        return ""
    ratios, gains, needs = [], [], []
    for prev, cur in itertools.pairwise(L[:-1]):  # hidden -> hidden layers
        if prev.z_std > 0 and math.isfinite(prev.z_std) and math.isfinite(cur.z_std):
            ratios.append((cur.z_std / prev.z_std) ** 2)
        gains.append(cur.weight_gain)
        needs.append(required_gain(prev.activation))
    text = []
    if ratios:
        text.append(
            f"each hidden layer multiplies the variance by about {_fmt(float(np.median(ratios)))}"
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


def judge(rec: SignalRecord, thresholds: Thresholds | None = None) -> list[Finding]:
    """Findings from a record, without fixes (``diagnose`` adds verified fixes).

    Args:
        rec: per-layer statistics, from :func:`trainready.signal.record` or a framework adapter.
        thresholds: the lines; defaults to :class:`Thresholds`.

    Returns:
        Findings in the order of :data:`KINDS`; empty for a healthy network.
    """
    th = thresholds or Thresholds()
    out: list[Finding] = []
    L = rec.layers
    # symmetry: duplicated hidden units
    sym = [r for r in L if r.duplicate_fraction > th.symmetry]
    if sym:
        worst = max(sym, key=lambda r: r.duplicate_fraction)
        out.append(
            Finding(
                "symmetry",
                worst.index,
                worst.duplicate_fraction,
                th.symmetry,
                "fraction of a layer's units that duplicate another unit",
                f"{worst.duplicate_fraction:.0%} of the units of layer {worst.index} are exact "
                f"copies of another unit (layers {_layers_text([r.index for r in sym])}): they "
                "compute the same function and receive the same gradient, so training can never "
                "make them differ (a constant initialization)",
            )
        )
    # exploding / vanishing, forward then backward
    bad = [r for r in L if r.nonfinite]
    if bad:
        out.append(
            Finding(
                "exploding",
                bad[0].index,
                math.inf,
                th.exploding,
                "non-finite values",
                f"NaN or inf from layer {bad[0].index} on: the signal overflowed float64",
            )
        )
    else:
        cause = _cause(rec)
        fr = forward_ratio(rec)
        z0 = L[0].z_std
        for kind, ratio, direction in (
            ("exploding", fr, "forward"),
            ("vanishing", fr, "forward"),
            ("exploding", backward_ratio(rec), "backward"),
            ("vanishing", backward_ratio(rec), "backward"),
        ):
            if not math.isfinite(ratio):
                continue
            crossed = ratio > th.exploding if kind == "exploding" else ratio < th.vanishing
            if not crossed:
                continue
            line = th.exploding if kind == "exploding" else th.vanishing
            if direction == "forward":
                cum = [r.z_std / z0 for r in L]
                where = next(
                    i + 1
                    for i, c in enumerate(cum)
                    if (c > line if kind == "exploding" else c < line)
                )
                msg = (
                    f"activations {'explode' if kind == 'exploding' else 'vanish'}: the "
                    f"pre-activation std goes from {_fmt(z0)} in layer 1 to "
                    f"{_fmt(L[-1].z_std)} in layer {len(L)} (x{_fmt(ratio)}; past x{_fmt(line)} "
                    f"by layer {where}){cause}"
                )
                quantity = "last-layer / first-layer pre-activation std"
            else:
                dn = [r.delta_norm / L[-1].delta_norm for r in L]
                where = max(
                    i + 1
                    for i, c in enumerate(dn)
                    if (c > line if kind == "exploding" else c < line)
                )
                msg = (
                    f"gradients {'explode' if kind == 'exploding' else 'vanish'} on the way back: "
                    f"||dLoss/dz|| is x{_fmt(ratio)} in layer 1 relative to layer {len(L)} "
                    f"(past x{_fmt(line)} from layer {where} down); the first layers "
                    f"{'would take huge steps' if kind == 'exploding' else 'would barely learn'}"
                    f"{cause}"
                )
                quantity = "first-layer / last-layer ||dLoss/dz||_F"
            out.append(Finding(kind, where, ratio, line, quantity, msg))
    # dead ReLUs
    dead = [r for r in L if r.dead_fraction >= th.dead]
    if dead:
        worst = max(dead, key=lambda r: r.dead_fraction)
        out.append(
            Finding(
                "dead_units",
                worst.index,
                worst.dead_fraction,
                th.dead,
                "fraction of a ReLU layer's units that are zero for every example",
                f"{worst.dead_fraction:.0%} of the ReLUs of layer {worst.index} output 0 for every "
                f"example of the batch (layers at or above {th.dead:.0%}: "
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
                "saturation",
                worst.index,
                worst.saturated_fraction,
                th.saturation,
                "fraction of tanh/sigmoid pre-activations beyond ±5",
                f"{worst.saturated_fraction:.0%} of the pre-activations of layer {worst.index} "
                f"({worst.activation}) are beyond ±5, where the derivative is below "
                f"{'2e-4' if worst.activation == 'tanh' else '7e-3'} (layers "
                f"{_layers_text([r.index for r in sat])}); z std there is {_fmt(worst.z_std)}",
            )
        )
    return out
