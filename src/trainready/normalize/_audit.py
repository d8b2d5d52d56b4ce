"""``audit(X)``: is the input on one scale? Findings with the fix, computed, not printed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._inputs import as_float_array, check_axis
from ._moments import RunningMoments

__all__ = ["AuditFinding", "AuditReport", "audit"]

_FIX_STANDARDIZE = (
    "fit trainready.StandardScaler() on the training set only and transform train, dev and "
    "test with it"
)


@dataclass(frozen=True)
class AuditFinding:
    """One problem found in the inputs.

    Attributes:
        kind: ``"nonfinite"``, ``"constant"``, ``"scale_mismatch"``, ``"offset"``,
            ``"uncentered"`` or ``"unscaled"``.
        features: indices of the features concerned (along the feature axis).
        value: the measured quantity (see ``message``), e.g. the ratio of largest to smallest std.
        threshold: the line ``value`` crossed.
        message: what was found, in words.
        fix: what to do about it.
    """

    kind: str
    features: tuple[int, ...]
    value: float
    threshold: float
    message: str
    fix: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "kind": self.kind,
            "features": list(self.features),
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class AuditReport:
    """The result of :func:`audit`.

    Attributes:
        findings: the problems found, most severe first (empty when the inputs look fine).
        n_samples: values per feature that were examined (rows, or rows x pixels per channel).
        n_features: number of features (channels).
        mean: ``(n_features,)`` mean of the finite values per feature.
        std: ``(n_features,)`` population std of the finite values per feature.
    """

    findings: tuple[AuditFinding, ...]
    n_samples: int
    n_features: int
    mean: NDArray[np.float64] = field(compare=False, repr=False)
    std: NDArray[np.float64] = field(compare=False, repr=False)

    @property
    def ok(self) -> bool:
        """True when no finding was raised."""
        return not self.findings

    def kinds(self) -> tuple[str, ...]:
        """The kinds of the findings, in order."""
        return tuple(f.kind for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "ok": self.ok,
            "n_samples": self.n_samples,
            "n_features": self.n_features,
            "findings": [f.to_dict() for f in self.findings],
        }

    def __str__(self) -> str:
        head = f"input audit: {self.n_samples} samples x {self.n_features} features"
        if self.ok:
            return head + ": ok (finite, centered, on one scale)"
        lines = [head + f": {len(self.findings)} finding(s)"]
        for f in self.findings:
            lines.append(f"- [{f.kind}] {f.message}")
            lines.append(f"  fix: {f.fix}")
        return "\n".join(lines)


def _names(idx: NDArray[np.intp], names: Sequence[str] | None = None, limit: int = 8) -> str:
    shown = ", ".join(
        repr(str(names[int(i)])) if names is not None else str(int(i)) for i in idx[:limit]
    )
    return shown + (f", ... ({len(idx)} in all)" if len(idx) > limit else "")


def audit(
    X: Any,
    *,
    axis: int | None = None,
    scale_ratio: float = 100.0,
    offset_ratio: float = 100.0,
    center_ratio: float = 1.0,
    unit_range: tuple[float, float] = (0.1, 10.0),
    feature_names: Sequence[str] | None = None,
) -> AuditReport:
    """Check that inputs are finite, centered and on one scale, and say how to fix them.

    Statistics are exact (shifted float64 moments, see :class:`RunningMoments`); NaN and inf are
    counted and left out of the other checks.

    Args:
        X: array-like ``(n_samples, n_features)`` (NumPy, torch tensor, pandas DataFrame), or N-D
            with ``axis`` naming the channel axis (e.g. ``axis=1`` for ``(N, C, H, W)``).
        axis: the feature axis; None means 2-D data with features in columns.
        scale_ratio: flag ``scale_mismatch`` when the largest std over the smallest (non-constant
            features) exceeds this.
        offset_ratio: flag ``offset`` for features with ``|mean| / std`` above this (float32
            training then loses digits to the offset).
        center_ratio: flag ``uncentered`` for features with ``|mean| / std`` above this.
        unit_range: flag ``unscaled`` when the median std falls outside this range.
        feature_names: ``(n_features,)`` names used in the messages instead of indices (e.g. a
            CSV header); ``findings[i].features`` stays indices.

    Returns:
        An :class:`AuditReport`; ``report.ok`` is True when nothing was found.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X = np.c_[rng.normal(0, 1, 500), rng.normal(5e3, 1e3, 500)]
        >>> rep = audit(X)
        >>> rep.ok, rep.kinds()
        (False, ('scale_mismatch', 'uncentered', 'unscaled'))
    """
    arr, feat_axis, _ = as_float_array(X, "X", axis=axis, allow_nd=axis is not None)
    feat_axis = check_axis(arr, feat_axis, "X")
    n_feat = arr.shape[feat_axis]
    if feature_names is not None and len(feature_names) != n_feat:
        raise ValueError(
            f"feature_names has {len(feature_names)} names for {n_feat} features of X; pass one "
            "name per feature (or None)"
        )
    rm = RunningMoments.empty(n_feat)
    rm.update(arr, feat_axis, omit=True)
    per_feature = arr.size // max(n_feat, 1)
    n_bad = per_feature - rm.n
    mean = rm.mean
    std = np.sqrt(rm.var)
    findings: list[AuditFinding] = []

    nonfinite = np.flatnonzero(n_bad > 0)
    if nonfinite.size:
        total = int(n_bad.sum())
        findings.append(
            AuditFinding(
                "nonfinite",
                tuple(int(i) for i in nonfinite),
                float(total),
                0.0,
                f"{total} NaN/inf value(s) in feature(s) {_names(nonfinite, feature_names)}",
                "impute or drop them before training (a single NaN turns every weight into NaN); "
                "StandardScaler(nan_policy='omit') fits around them",
            )
        )
    seen = rm.n > 0
    eps = np.finfo(np.float64).eps
    with np.errstate(invalid="ignore", over="ignore"):
        bound = rm.n * eps * rm.var + (rm.n * mean * eps) ** 2
        constant_mask = seen & ((rm.var <= bound) | (rm.n <= 1))
    constant = np.flatnonzero(constant_mask)
    if constant.size:
        findings.append(
            AuditFinding(
                "constant",
                tuple(int(i) for i in constant),
                float(constant.size),
                0.0,
                f"{constant.size} constant feature(s): {_names(constant, feature_names)}",
                "drop them (they carry no information); a scaler gives them scale 1",
            )
        )
    live = seen & ~constant_mask
    if live.any():
        s = std[live]
        ratio = float(s.max() / s.min())
        if ratio > scale_ratio:
            med = float(np.median(s))
            off = np.flatnonzero(live & ((std > 10 * med) | (std < med / 10)))
            if off.size == 0:
                off = np.flatnonzero(live & ((std == s.max()) | (std == s.min())))
            findings.append(
                AuditFinding(
                    "scale_mismatch",
                    tuple(int(i) for i in off),
                    ratio,
                    float(scale_ratio),
                    f"feature stds span a factor {ratio:.3g} (largest / smallest); features "
                    f"{_names(off, feature_names)} are more than 10x from the median std "
                    f"{med:.3g}",
                    _FIX_STANDARDIZE + " (gradient descent then sees one scale, not elongated "
                    "contours)",
                )
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(live, np.abs(mean) / np.where(live, std, 1.0), 0.0)
        big = np.flatnonzero(z > offset_ratio)
        if big.size:
            findings.append(
                AuditFinding(
                    "offset",
                    tuple(int(i) for i in big),
                    float(z.max()),
                    float(offset_ratio),
                    f"feature(s) {_names(big, feature_names)} sit far from zero: |mean| / std "
                    f"up to {float(z.max()):.3g}; float32 keeps only ~7 digits of such values",
                    _FIX_STANDARDIZE + "; compute the statistics in float64 (trainready does)",
                )
            )
        unc = np.flatnonzero((z > center_ratio) & (z <= offset_ratio))
        if unc.size:
            zmax = float(z[unc].max())
            findings.append(
                AuditFinding(
                    "uncentered",
                    tuple(int(i) for i in unc),
                    zmax,
                    float(center_ratio),
                    f"feature(s) {_names(unc, feature_names)} are not centered: |mean| / std up "
                    f"to {zmax:.3g}",
                    "subtract the training mean (StandardScaler, or with_std=False to keep units)",
                )
            )
        med = float(np.median(s))
        lo, hi = unit_range
        if not lo <= med <= hi:
            findings.append(
                AuditFinding(
                    "unscaled",
                    tuple(int(i) for i in np.flatnonzero(live)),
                    med,
                    float(hi if med > hi else lo),
                    f"median feature std is {med:.3g}, far from 1: initializers (He, LeCun, "
                    "Glorot) assume unit-variance inputs",
                    _FIX_STANDARDIZE + " (or MinMaxScaler for bounded features)",
                )
            )
    return AuditReport(
        findings=tuple(findings),
        n_samples=int(per_feature),
        n_features=int(n_feat),
        mean=mean,
        std=std,
    )
