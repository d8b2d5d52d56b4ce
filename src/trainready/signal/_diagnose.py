"""``diagnose``: record, judge, then verify each fix by re-running the statistics with it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .._results import HtmlFromSummary
from .._rng import RngLike
from ._findings import Finding, Thresholds
from ._mlp import recorder_of
from ._record import LayerRecord, SignalRecord
from ._verify import examine

__all__ = ["Diagnosis", "diagnose"]


@dataclass(frozen=True)
class Diagnosis(HtmlFromSummary):
    """What a doctor (``trainready.diagnose`` or ``trainready.torch.diagnose``) found.

    Attributes:
        findings: the problems, each with a verified fix; empty for a healthy network.
        record: the per-layer statistics of the model as it is.
        audit: the input audit (:func:`trainready.normalize.audit`) of the batch, or None.
        thresholds: the lines used.
    """

    findings: tuple[Finding, ...]
    record: SignalRecord
    audit: Any
    thresholds: Thresholds

    @property
    def layers(self) -> tuple[LayerRecord, ...]:
        """The per-layer records (``record.layers``)."""
        return self.record.layers

    @property
    def ok(self) -> bool:
        """True when nothing was found."""
        return not self.findings

    def kinds(self) -> tuple[str, ...]:
        """The kinds of the findings, in order (plain strings)."""
        return tuple(str(f.kind) for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "findings": [f.to_dict() for f in self.findings],
            "record": self.record.to_dict(),
            "thresholds": dataclasses.asdict(self.thresholds),
        }

    def summary(self) -> str:
        """The findings and their fixes, in words (also ``str(diagnosis)``)."""
        if not self.findings:
            return f"signal: healthy across {self.record.depth} layers (no findings)"
        lines = [f"signal: {len(self.findings)} finding(s) across {self.record.depth} layers"]
        for f in self.findings:
            where = "the input" if f.layer == 0 else f"layer {f.layer}"
            lines.append(f"- {f.kind} ({where}): {f.message}")
            if f.fix:
                lines.append(f"  fix ({'verified' if f.verified else 'NOT verified'}): {f.fix}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def diagnose(
    model: Any,
    X: Any,
    y: Any = None,
    *,
    loss: Any = None,
    rng: RngLike = 0,
    thresholds: Thresholds | None = None,
    verify: bool = True,
) -> Diagnosis:
    """Measure what ``model`` does to the signal layer by layer, and say what to change.

    1. :func:`trainready.signal.record`: a float64 forward and backward pass of the batch ``X``
       through the network's own engine, batch norm included (with ``y``: the model's loss;
       without: a seeded unit-variance probe gradient).
    2. :func:`trainready.signal.judge`: symmetry (duplicate units), vanishing and exploding
       (the accumulated ratio across depth, forward and backward), dead ReLUs, saturated
       tanh/sigmoid; :func:`trainready.normalize.audit` for unnormalized inputs.
    3. For each finding, re-run the statistics with candidate fixes on copies, on the first 128
       rows of ``X`` (re-initialize with the scheme the activations need, LSUV, standardized
       inputs, leaky ReLU) and report the first that clears the line, with the numbers before
       and after: ``"re-initialize with he_normal (zero biases): last-layer std 3e-20 → 0.9"``.

    The model and ``X`` are never modified. Cost: one forward and backward pass, plus one on at
    most 128 rows per distinct fix tried (none for a healthy network). The same function for
    PyTorch is :func:`trainready.torch.diagnose` (same arguments, same :class:`Diagnosis`).

    Args:
        model: a :class:`trainready.nn.MLP` (or an object with ``params``, ``activations``,
            ``output``).
        X: a representative batch ``(n_samples, n_features)``, a few hundred rows.
        y: targets, or None for the probe gradient.
        loss: None: the reference network's loss is the one its ``output`` pairs with (the
            argument exists so that both halves take the same arguments).
        rng: seed of the probe gradient and of the re-initializations.
        thresholds: the lines (:class:`Thresholds`).
        verify: False skips step 3 (findings then carry no fix).

    Returns:
        A :class:`Diagnosis`.

    Example:
        >>> import numpy as np, trainready as tr
        >>> X = np.random.default_rng(0).standard_normal((256, 32))
        >>> net = tr.nn.MLP([32] + [128] * 30 + [1], activation="relu", output="linear",
        ...                 init="lecun", rng=0)
        >>> diag = tr.diagnose(net, X)
        >>> "vanishing" in diag.kinds(), diag.findings[0].verified
        (True, True)
    """
    if loss is not None:
        name = getattr(model, "loss_name", None)
        if loss != name:
            raise TypeError(
                f"loss: expected None (the reference network's loss is set by its output: "
                f"{name!r}), got {loss!r}; choose the loss with MLP(output=...)"
            )
    th = thresholds or Thresholds()
    recorder = recorder_of(model, X, y)
    before, report, findings = examine(recorder, rng=rng, thresholds=th, verify=verify)
    return Diagnosis(findings, before, report, th)
