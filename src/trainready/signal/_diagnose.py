"""``diagnose``: record, judge, then verify each fix by re-running the statistics with it."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .. import init as _init
from ..init import RngLike, as_generator
from ._findings import (
    Finding,
    Thresholds,
    backward_ratio,
    forward_ratio,
    judge,
)
from ._record import FloatArray, LayerRecord, Network, SignalRecord, _as_batch, as_network, trace

__all__ = ["Diagnosis", "diagnose"]

# audit kinds that mean "the inputs are not on one scale" (constant features are another matter)
_INPUT_KINDS = ("nonfinite", "scale_mismatch", "offset", "uncentered", "unscaled")


@dataclass(frozen=True)
class Diagnosis:
    """What :func:`diagnose` found.

    Attributes:
        findings: the problems, each with a verified fix; empty for a healthy network.
        record: the per-layer statistics of the model as it is.
        audit: the input audit (:func:`trainready.normalize.audit`) of the batch.
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
        """The kinds of the findings, in order."""
        return tuple(f.kind for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "findings": [f.to_dict() for f in self.findings],
            "record": self.record.to_dict(),
            "thresholds": dataclasses.asdict(self.thresholds),
        }

    def __str__(self) -> str:
        if not self.findings:
            return f"signal: healthy across {self.record.depth} layers (no findings)"
        lines = [f"signal: {len(self.findings)} finding(s) across {self.record.depth} layers"]
        for f in self.findings:
            mark = "verified" if f.verified else "NOT verified"
            lines.append(f"- {f.kind} (layer {f.layer}): {f.message}")
            if f.fix:
                lines.append(f"  fix ({mark}): {f.fix}")
        return "\n".join(lines)


# ------------------------------------------------------------------------------ fix candidates
def _auto_name(net: Network) -> str:
    hidden = set(net.activation_names()[:-1])
    if hidden and hidden <= {"relu", "leaky_relu"}:
        return "he_normal"
    if hidden and hidden <= {"tanh", "sigmoid", "linear"}:
        return "lecun_normal"
    return "the 'auto' scheme (He before ReLU, LeCun elsewhere)"


def _reinit(net: Network, rng: RngLike) -> Network:
    names = net.activation_names()[:-1]
    params = _init.initialize(net.layer_dims, "auto", rng=rng, activation=names)
    return net.with_params({k: np.asarray(v, dtype=np.float64) for k, v in params.items()})


def _standardize(X: FloatArray) -> FloatArray:
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std[~(std > 0)] = 1.0
    return np.asarray((X - mean) / std, dtype=np.float64)


def lsuv_params(
    net: Network, X: FloatArray, *, tol: float, max_iter: int, rng: RngLike, orthonormal: bool
) -> dict[str, FloatArray]:
    """LSUV (Mishkin & Matas 2016) on float64 copies; see :func:`trainready.init.lsuv`."""
    from ..nn.activations import get_activation
    from ..nn.losses import get_output

    gen = as_generator(rng)
    P = {k: v.copy() for k, v in net.params.items()}
    L = net.depth
    a = X
    with np.errstate(over="ignore", invalid="ignore"):
        for l in range(1, L + 1):
            W, b = P[f"W{l}"], P[f"b{l}"]
            if orthonormal:
                W[...] = _init.orthogonal(W.shape, rng=gen)
                b[...] = 0.0
            z = a @ W.T + b
            for _ in range(max_iter):
                var = float(z.var())
                if abs(var - 1.0) < tol or not (var > 0 and math.isfinite(var)):
                    break
                W /= math.sqrt(var)
                z = a @ W.T + b
            if l < L:
                a = get_activation(net.activations[l - 1]).forward(z)
            else:
                get_output(net.output)  # validated
    return P


def _lsuv(model: Any, X: Any, *, tol: float, max_iter: int, rng: RngLike, orthonormal: bool) -> Any:
    if not (isinstance(tol, int | float) and tol > 0 and math.isfinite(tol)):
        raise ValueError(f"tol: expected a positive number such as 0.1, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter: expected an int >= 1 such as 10, got {max_iter!r}")
    net = as_network(model)
    Xb = _as_batch(X, net.layer_dims[0])
    P = lsuv_params(net, Xb, tol=tol, max_iter=max_iter, rng=rng, orthonormal=orthonormal)
    old = model.params
    new = {k: v.astype(np.asarray(old[k]).dtype, copy=False) for k, v in P.items()}
    try:
        model.params = new
    except (AttributeError, dataclasses.FrozenInstanceError) as exc:
        raise TypeError(
            f"model: lsuv sets model.params, which {type(model).__name__} does not allow; "
            "use a model with an assignable params attribute (trainready.nn.MLP)"
        ) from exc
    return model


VERIFY_ROWS = 128


class FixRunner(Protocol):
    """What fix verification needs: the batch, the lines, and a way to re-record with a fix.

    ``run(key)`` applies the fix named ``key`` ("auto", "lsuv", "standardize",
    "standardize+auto", "leaky_relu") to a copy and returns ``(description, record)``. The
    reference network's runner is :class:`_Verifier`; the PyTorch adapter has its own.
    """

    X: Any
    thresholds: Thresholds

    def run(self, key: str) -> tuple[str, SignalRecord]: ...


@dataclass
class _Verifier:
    net: Network
    X: FloatArray
    y: Any
    rng: RngLike
    thresholds: Thresholds
    cache: dict[str, tuple[str, SignalRecord]] = dataclasses.field(default_factory=dict)

    def run(self, key: str) -> tuple[str, SignalRecord]:
        if key in self.cache:
            return self.cache[key]
        net, X, y = self.net, self.X, self.y
        if key == "auto":
            desc = f"re-initialize with {_auto_name(net)} (zero biases)"
            net = _reinit(net, self.rng)
        elif key == "lsuv":
            desc = "run trainready.init.lsuv(model, X) (orthonormal, then unit variance per layer)"
            p = lsuv_params(net, X, tol=0.1, max_iter=10, rng=self.rng, orthonormal=True)
            net = net.with_params(p)
        elif key == "standardize":
            desc = (
                "standardize the inputs with the training mean and std "
                "(trainready.StandardScaler, fitted on the training set only)"
            )
            X = _standardize(X)
        elif key == "standardize+auto":
            desc = f"standardize the inputs and re-initialize with {_auto_name(net)}"
            X = _standardize(X)
            net = _reinit(net, self.rng)
        elif key == "leaky_relu":
            desc = (
                "replace relu by leaky_relu (negative slope 0.01) and re-initialize with he_normal"
            )
            acts = tuple("leaky_relu" if a == "relu" else a for a in net.activation_names()[:-1])
            net = _reinit(Network(net.params, acts, net.output), self.rng)
        else:  # pragma: no cover - internal
            raise KeyError(key)
        result = (desc, trace(net, X, y, rng=self.rng))
        self.cache[key] = result
        return result


def _measure(f: Finding, rec: SignalRecord) -> float:
    if f.kind in ("vanishing", "exploding"):
        if f.quantity.startswith("non-finite"):
            return math.inf if any(r.nonfinite for r in rec.layers) else forward_ratio(rec)
        return forward_ratio(rec) if f.quantity.startswith("last-layer") else backward_ratio(rec)
    if f.kind == "dead_units":
        return max(r.dead_fraction for r in rec.layers)
    if f.kind == "saturation":
        return max(r.saturated_fraction for r in rec.layers)
    if f.kind == "symmetry":
        return max(r.duplicate_fraction for r in rec.layers)
    raise KeyError(f.kind)


def _passes(f: Finding, rec: SignalRecord, th: Thresholds) -> bool:
    return not any(g.kind == f.kind and g.quantity == f.quantity for g in judge(rec, th)) and not (
        f.kind == "exploding" and any(r.nonfinite for r in rec.layers)
    )


def _describe(f: Finding, before: SignalRecord, after: SignalRecord, value: float) -> str:
    def g(x: float) -> str:
        return f"{x:.2g}" if math.isfinite(x) else str(x)

    if f.kind in ("vanishing", "exploding"):
        text = f"last-layer std {g(before.layers[-1].z_std)} → {g(after.layers[-1].z_std)}"
        if f.quantity.startswith("first-layer"):
            text += f"; first/last gradient ratio {g(f.value)} → {g(value)}"
        return text
    label = {
        "dead_units": "dead fraction",
        "saturation": "saturated fraction",
        "symmetry": "duplicate units",
    }[f.kind]
    return f"{label} {f.value:.0%} → {value:.0%}"


def _candidates(kind: str, unnormalized: bool) -> list[str]:
    if kind in ("vanishing", "exploding"):
        return ["auto", "lsuv"]
    if kind == "dead_units":
        return (
            ["standardize+auto", "auto", "leaky_relu"] if unnormalized else ["auto", "leaky_relu"]
        )
    if kind == "saturation":
        return ["standardize+auto", "auto", "lsuv"] if unnormalized else ["auto", "lsuv"]
    if kind == "symmetry":
        return ["auto"]
    return []


def verify_finding(f: Finding, v: FixRunner, before: SignalRecord, unnormalized: bool) -> Finding:
    """Try the candidate fixes of ``f`` with ``v`` and keep the first that clears the line."""
    best: Finding | None = None
    for key in _candidates(f.kind, unnormalized):
        desc, rec = v.run(key)
        value = _measure(f, rec)
        ok = _passes(f, rec, v.thresholds)
        cand = dataclasses.replace(
            f, fix=f"{desc}: {_describe(f, before, rec, value)}", fix_value=value, verified=ok
        )
        if ok:
            return cand
        if best is None:
            best = cand
    if best is None:
        return f
    return dataclasses.replace(best, fix=best.fix + " (not enough on its own)")


def input_findings(report: Any, v: FixRunner, before: SignalRecord) -> list[Finding]:
    """Turn the input audit's findings into ``"unnormalized_input"``, verified by standardizing."""
    from ..normalize import audit

    found = [a for a in report.findings if a.kind in _INPUT_KINDS]
    if not found:
        return []
    desc, rec = v.run("standardize")
    after = audit(_standardize(v.X))
    z0, z1 = before.layers[0].z_std, rec.layers[0].z_std
    out = []
    for a in found:
        still = [b for b in after.findings if b.kind == a.kind]
        fix_value = still[0].value if still else None
        out.append(
            Finding(
                "unnormalized_input",
                0,
                float(a.value),
                float(a.threshold),
                f"input audit: {a.kind}",
                f"{a.message} (input audit: {a.kind}; features {list(a.features)[:8]})",
                f"{desc}: the audit then finds {'it still' if still else 'no ' + a.kind}; "
                f"first-layer pre-activation std {z0:.2g} → {z1:.2g}",
                fix_value,
                not still,
            )
        )
    return out


def diagnosis_findings(
    raw: list[Finding], report: Any, v: FixRunner, before: SignalRecord, *, verify: bool
) -> tuple[Finding, ...]:
    """The doctor's findings in the order of KINDS: symmetry, inputs, then the signal.

    ``raw`` comes from :func:`judge`, ``report`` from :func:`trainready.normalize.audit` (or
    None); with ``verify`` each finding's fixes are tried with ``v`` (any :class:`FixRunner`).
    """
    if report is None:
        inputs: list[Finding] = []
    elif verify:
        inputs = input_findings(report, v, before)
    else:
        inputs = [
            Finding(
                "unnormalized_input",
                0,
                float(a.value),
                float(a.threshold),
                f"input audit: {a.kind}",
                a.message,
                a.fix,
            )
            for a in report.findings
            if a.kind in _INPUT_KINDS
        ]
    findings = [verify_finding(f, v, before, bool(inputs)) if verify else f for f in raw]
    sym = [f for f in findings if f.kind == "symmetry"]
    rest = [f for f in findings if f.kind != "symmetry"]
    return tuple(sym + inputs + rest)


def diagnose(
    model: Any,
    X: Any,
    y: Any = None,
    *,
    rng: RngLike = 0,
    thresholds: Thresholds | None = None,
    verify: bool = True,
) -> Diagnosis:
    """Measure what ``model`` does to the signal layer by layer, and say what to change.

    1. :func:`trainready.signal.record`: a float64 forward and backward pass of the batch ``X``
       (with ``y``: the model's loss; without: a seeded unit-variance probe gradient).
    2. :func:`trainready.signal.judge`: symmetry (duplicate units), vanishing and exploding
       (the accumulated ratio across depth, forward and backward), dead ReLUs, saturated
       tanh/sigmoid; :func:`trainready.normalize.audit` for unnormalized inputs.
    3. For each finding, re-run the statistics with candidate fixes on copies, on the first 128
       rows of ``X`` (re-initialize with the scheme the activations need, LSUV, standardized
       inputs, leaky ReLU) and report the
       first that clears the line, with the numbers before and after:
       ``"re-initialize with he_normal (zero biases): last-layer std 3e-20 → 0.9"``.

    The model and ``X`` are never modified. Cost: one forward and backward pass, plus one on at
    most 128 rows per distinct fix tried (none for a healthy network).

    Args:
        model: an object with ``params``, ``activations``, ``output`` (e.g.
            :class:`trainready.nn.MLP`).
        X: a representative batch ``(n_samples, n_features)``, a few hundred rows.
        y: targets, or None for the probe gradient.
        rng: seed of the probe gradient, duplicate check and re-initializations.
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
    from ..normalize import audit

    th = thresholds or Thresholds()
    net = as_network(model)
    Xb = _as_batch(X, net.layer_dims[0])
    before = trace(net, Xb, y, rng=rng)
    report = audit(Xb)
    raw = judge(before, th)
    # Candidate fixes are verified on the first VERIFY_ROWS rows: enough for per-layer statistics,
    # and it keeps a verified diagnosis near the cost of one forward and backward pass.
    k = min(len(Xb), VERIFY_ROWS)
    y_k = None if y is None else np.asarray(y)[:k]
    v = _Verifier(net, Xb[:k], y_k, rng, th)
    findings = diagnosis_findings(raw, report, v, before, verify=verify)
    return Diagnosis(findings, before, report, th)
