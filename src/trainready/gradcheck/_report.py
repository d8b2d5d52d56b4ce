"""The result of a gradient check: frozen dataclasses, a short text table, JSON and HTML."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ._hints import PROPAGATION_PREFIX, format_index, propagation_note

Verdict = Literal["ok", "check", "wrong"]

__all__ = ["GradcheckReport", "Kink", "ParamResult", "Probe", "classify"]

# The classic lines (Ng's course): about 1e-7 right, about 1e-5 look again, 1e-3 a bug.
OK_BELOW = 1e-7
CHECK_BELOW = 1e-5


def classify(excess: float) -> Verdict:
    """Classic lines applied to the relative mismatch beyond the numerical error estimate."""
    if not excess < CHECK_BELOW:  # also catches nan
        return "wrong"
    return "ok" if excess < OK_BELOW else "check"


@dataclass(frozen=True)
class ParamResult:
    """The check of one named parameter.

    Attributes:
        name, shape: the parameter.
        checked: elements compared one by one (0 when only covered by directional probes).
        difference: raw textbook difference over those elements (nan when none were).
        excess: relative mismatch beyond the estimated numerical error (what the verdict judges).
        verdict: "ok", "check" or "wrong".
        worst_index: index into the parameter of the worst element (None if none compared).
        numeric, analytic: the two derivatives at ``worst_index``.
        hint: what the mismatch pattern says ("analytic ≈ 2.00 × numeric ..."); '' when ok.
        mismatched: indices of elements beyond their error estimate (at most 10 listed).
    """

    name: str
    shape: tuple[int, ...]
    checked: int
    difference: float
    excess: float
    verdict: Verdict
    worst_index: tuple[int, ...] | None
    numeric: float | None
    analytic: float | None
    hint: str = ""
    mismatched: tuple[tuple[int, ...], ...] = ()

    @property
    def passed(self) -> bool:
        """True when this parameter's verdict is "ok"."""
        return self.verdict == "ok"


@dataclass(frozen=True)
class Kink:
    """A coordinate whose finite differences crossed a non-differentiable point.

    ``left`` and ``right`` are the one-sided derivatives; ``resolved`` says a smaller step
    avoided the kink (and its result was used); unresolved kinks are reported, never blamed.
    """

    name: str
    index: tuple[int, ...]
    numeric: float
    analytic: float
    left: float
    right: float
    step: float
    resolved: bool
    jump: bool = False  # a discontinuity (the value jumps), not only the slope


@dataclass(frozen=True)
class Probe:
    """One directional-derivative comparison (probe mode).

    ``support`` names what the direction covered: "all", a parameter name, or a slice of one.
    """

    support: str
    analytic: float
    numeric: float
    error: float
    significant: bool
    step: float


@dataclass(frozen=True)
class GradcheckReport:
    """What :func:`trainready.gradcheck` found.

    Attributes:
        mode: "full", "sample" or "probe".
        difference: ``||n - a|| / (||n|| + ||a||)`` over what was checked: the raw textbook
            figure (elements in full and sample modes; directional derivatives in probe mode).
        excess: the relative mismatch beyond the estimated numerical error, the largest over the
            whole vector and over single elements (so one wrong element in a million counts).
        verdict: ``excess`` on the classic lines: "ok" < 1e-7 <= "check" < 1e-5 <= "wrong".
        params: name -> :class:`ParamResult`.
        evaluations: loss calls made.
        kinks: coordinates that crossed a non-differentiable point.
        noise: measured relative noise of the loss (eta).
        eps: the fixed step if one was forced, else None (automatic per-coordinate steps).
        n_params: N, the number of scalar parameters.
        n_checked: elements compared one by one.
        probes: directional probes made (probe mode).
        notes: remarks (float32 loss, localization limits, ...). When the wrong parameters are
            the lowest layers of a chain (``W1, b1, W2, ...`` or torch's ``0.weight, 2.weight``)
            and a layer above them is right, a note names the layer where the error enters
            (:func:`~trainready.gradcheck._hints.propagation_note`); it is derived from
            ``params`` on construction, so it is always current.
        resolution: the smallest relative error of the compared gradient that the check could
            have seen (its error bounds over the values' size; nan when nothing was judged).
        unjudged: why the check could not judge, when it could not (then the verdict is
            "check", never "ok"); empty otherwise.
    """

    mode: str
    difference: float
    excess: float
    verdict: Verdict
    params: Mapping[str, ParamResult]
    evaluations: int
    kinks: tuple[Kink, ...]
    noise: float
    eps: float | None
    n_params: int
    n_checked: int
    probes: tuple[Probe, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    resolution: float = math.nan
    unjudged: str = ""

    def __post_init__(self) -> None:
        # Derived from params: drop a stale one (dataclasses.replace re-runs this), add the
        # current one first.
        kept = tuple(n for n in self.notes if not n.startswith(PROPAGATION_PREFIX))
        note = propagation_note([(p.name, p.passed) for p in self.params.values()])
        object.__setattr__(self, "notes", ((note,) if note else ()) + kept)

    @property
    def passed(self) -> bool:
        """True when the verdict is "ok"."""
        return self.verdict == "ok"

    @property
    def failing(self) -> tuple[ParamResult, ...]:
        """Parameters whose verdict is not "ok", worst first."""
        bad = [p for p in self.params.values() if p.verdict != "ok"]
        return tuple(sorted(bad, key=lambda p: -p.excess if math.isfinite(p.excess) else -1e300))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict (NaN becomes None)."""

        def clean(x: Any) -> Any:
            if isinstance(x, float) and not math.isfinite(x):
                return None
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, list | tuple):
                return [clean(v) for v in x]
            return x

        out = asdict(self)
        out["params"] = {k: asdict(v) for k, v in self.params.items()}
        out["passed"] = self.passed
        return clean(out)  # type: ignore[no-any-return]

    def summary(self) -> str:
        """One line: the verdict and, when wrong, where."""
        head = {"ok": "OK", "check": "CHECK", "wrong": "WRONG"}[self.verdict]
        if self.unjudged:
            return f"gradcheck {head}: cannot judge — {self.unjudged}"
        if self.verdict == "ok":
            if self.mode == "sample" and self.n_checked < self.n_params:
                return (
                    f"gradcheck {head}: backprop agrees with the numeric gradient on the "
                    f"{self.n_checked:,} sampled elements of {self.n_params:,} (only these were "
                    "compared; mode='full' compares every element)"
                )
            return f"gradcheck {head}: backprop agrees with the numeric gradient"
        worst = self.failing[0] if self.failing else None
        if worst is None:
            return f"gradcheck {head}: mismatch beyond numerical error ({self.excess:.2e})"
        where = (
            format_index(worst.name, worst.worst_index)
            if worst.worst_index is not None
            else worst.name
        )
        return f"gradcheck {head}: {where} — {worst.hint or 'mismatch beyond numerical error'}"

    def rows(self) -> list[dict[str, str]]:
        """The per-parameter table as strings (shared by str(), HTML, the CLI)."""
        rows = []
        for p in self.params.values():
            where = format_index(p.name, p.worst_index) if p.worst_index is not None else "—"
            rows.append(
                {
                    "param": p.name,
                    "shape": "×".join(map(str, p.shape)) or "scalar",
                    "checked": str(p.checked) if p.checked else "probe",
                    "difference": _fmt(p.difference),
                    "verdict": p.verdict.upper() if p.verdict != "ok" else "ok",
                    "worst": where if p.verdict != "ok" else "—",
                    "numeric": _fmt(p.numeric) if p.verdict != "ok" else "",
                    "analytic": _fmt(p.analytic) if p.verdict != "ok" else "",
                    "hint": p.hint,
                }
            )
        return rows

    def __str__(self) -> str:
        lines = [self.summary()]
        step = f"eps {self.eps:g}" if self.eps is not None else "automatic steps"
        lines.append(
            f"mode {self.mode}, {self.n_checked:,} of {self.n_params:,} elements compared"
            + (f" + {len(self.probes)} probes" if self.probes else "")
            + f", {self.evaluations:,} loss calls, {step}, noise {self.noise:.1e}"
            + (
                f", sees relative errors above {self.resolution:.0e}"
                if math.isfinite(self.resolution)
                else ""
            )
        )
        lines.append(
            f"difference {self.difference:.2e} (textbook), beyond numerical error "
            f"{self.excess:.2e} -> {self.verdict}"
        )
        rows = self.rows()
        cols = [
            "param",
            "shape",
            "checked",
            "difference",
            "verdict",
            "worst",
            "numeric",
            "analytic",
            "hint",
        ]
        if all(r["verdict"] == "ok" for r in rows):
            cols = cols[:5]
        fixed = [c for c in cols if c != "hint"]  # the hint runs free at the end of the line
        widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in fixed}
        fmt = "  ".join(f"{{{c}:<{widths[c]}}}" for c in fixed)
        tail = "  hint" if "hint" in cols else ""
        lines.append("  " + (fmt.format(**{c: c for c in fixed}) + tail).rstrip())
        for r in rows:
            line = fmt.format(**r) + (f"  {r['hint']}" if "hint" in cols and r["hint"] else "")
            lines.append("  " + line.rstrip())
        if self.kinks:
            resolved = sum(k.resolved for k in self.kinks)
            names = ", ".join(format_index(k.name, k.index) for k in self.kinks[:5])
            more = f" and {len(self.kinks) - 5} more" if len(self.kinks) > 5 else ""
            jumps = sum(k.jump for k in self.kinks)
            of_which = f", {jumps} at a jump of the loss's value" if jumps else ""
            lines.append(
                f"kinks: {len(self.kinks)} coordinate(s) crossed a non-differentiable point "
                f"({resolved} resolved by a smaller step, the rest not blamed{of_which}): "
                f"{names}{more}"
            )
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        color = {"ok": "#1a7f37", "check": "#9a6700", "wrong": "#cf222e"}[self.verdict]
        rows = self.rows()
        cols = list(rows[0].keys()) if rows else []
        head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(r[c])}</td>" for c in cols) + "</tr>" for r in rows
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (
            f'<div class="trainready-gradcheck"><p style="color:{color};font-weight:bold">'
            f"{html.escape(self.summary())}</p><p>difference {self.difference:.2e} (textbook), "
            f"beyond numerical error {self.excess:.2e}; {self.evaluations:,} loss calls, mode "
            f"{html.escape(self.mode)}</p><table><thead><tr>{head}</tr></thead><tbody>{body}"
            f"</tbody></table>{f'<ul>{notes}</ul>' if notes else ''}</div>"
        )


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    if isinstance(x, float) and math.isnan(x):
        return "—"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.2e}"
