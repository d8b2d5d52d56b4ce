"""Read the mismatch pattern of one parameter off the numbers and name the likely bug.

Each rule looks at the checked elements of one tensor (analytic ``a``, numeric ``n``, parameter
values ``w``, which elements mismatch beyond their error estimate) and returns a short sentence.
The rules, in order: an all-zero gradient; a mismatch confined to a few elements (named, with
their ratios); a transposed gradient; one factor for the whole tensor (a sign flip is the factor
-1); an offset proportional to W (the L2 term missing or doubled); otherwise a generic summary.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

__all__ = ["explain", "format_index"]


def format_index(name: str, index: Sequence[int]) -> str:
    """``W1[2, 0]`` (or just ``b`` for a scalar parameter)."""
    return f"{name}[{', '.join(str(int(i)) for i in index)}]" if len(index) else name


def _ratio_text(k: float) -> str:
    if abs(k) >= 10:
        return f"{k:.4g}"
    return f"{k:.2f}"


def _fits(target: FloatArray, model: FloatArray, rtol: float) -> bool:
    scale = float(np.linalg.norm(target))
    return scale > 0 and float(np.linalg.norm(target - model)) <= rtol * scale


def explain(
    name: str,
    shape: tuple[int, ...],
    flat_indices: NDArray[np.intp],
    analytic: FloatArray,
    numeric: FloatArray,
    values: FloatArray,
    mismatched: NDArray[np.bool_],
    *,
    complete: bool,
    active: NDArray[np.bool_] | None = None,
) -> str:
    """A one-line diagnosis of a parameter whose check failed ('' when nothing mismatches).

    Args:
        name: parameter name, e.g. ``"W2"``.
        shape: its shape.
        flat_indices: shape ``(k,)``, the checked elements (row-major flat indices).
        analytic, numeric, values: shape ``(k,)``, the gradients and parameter values there.
        mismatched: shape ``(k,)``, which elements differ beyond their error estimate.
        complete: every element was checked (needed to recognize a transpose).
        active: shape ``(k,)``, elements whose gradient is distinguishable from zero (dead units
            are not); "a few elements" is judged against these. Default: all.

    Example:
        >>> a = np.array([2.0, 4.0, -6.0]); n = a / 2
        >>> print(explain("W1", (3,), np.arange(3), a, n, np.ones(3), np.ones(3, bool),
        ...               complete=True))
        analytic ≈ 2.00 × numeric for every element (a doubled term, a missing 1/2 or 1/m?)
    """
    k = int(mismatched.sum())
    if k == 0:
        return ""
    active = np.ones_like(mismatched) if active is None else (active | mismatched)
    total = int(active.sum())
    if np.all(analytic == 0) and np.any(numeric != 0):
        return "the gradient is all zeros: it is never computed, or overwritten with zeros"

    if k < total / 2 and k <= 10:
        where = np.flatnonzero(mismatched)
        order = where[np.argsort(-np.abs(analytic[where] - numeric[where]))]
        parts = []
        for j in order[:3]:
            idx = tuple(int(k) for k in np.unravel_index(int(flat_indices[j]), shape))
            ratio = analytic[j] / numeric[j] if numeric[j] != 0 else np.inf
            off = f"{ratio:.4g} × numeric" if np.isfinite(ratio) else "numeric is 0"
            parts.append(f"{format_index(name, idx)} (analytic {off})")
        more = f" and {k - 3} more" if k > 3 else ""
        return (
            f"mismatch in {k} of {total} checked elements only: {', '.join(parts)}{more}; "
            "the others agree — look for an indexing or off-by-one error there"
        )

    if complete and len(shape) == 2 and shape[0] == shape[1] and shape[0] > 1:
        a2 = analytic.reshape(shape)
        n2 = numeric.reshape(shape)
        if _fits(n2, a2.T, 1e-4) and not _fits(n2, a2, 1e-2):
            return (
                "the gradient is the transpose of the right one "
                "(for W of shape (n_out, n_in): dW = dZ.T @ A_prev)"
            )

    a_act, n_act = analytic[active], numeric[active]
    nn = float(n_act @ n_act)
    if nn > 0:
        factor = float(a_act @ n_act) / nn
        if _fits(a_act, factor * n_act, 1e-3):
            if abs(factor + 1) < 1e-2:
                return "sign flipped: analytic ≈ -1.00 × numeric for every element"
            return (
                f"analytic ≈ {_ratio_text(factor)} × numeric for every element "
                "(a doubled term, a missing 1/2 or 1/m?)"
            )

    offset = numeric - analytic
    ww = float(values @ values)
    if ww > 0:
        c = float(offset @ values) / ww
        if _fits(offset, c * values, 2e-2):
            if c > 0:
                return (
                    f"off by {c:.3g}·{name}: the regularization term λ/m·{name} is missing from "
                    f"the gradient (λ/m ≈ {c:.3g})"
                )
            return (
                f"off by {c:.3g}·{name}: an extra regularization term (λ/m·{name} added twice, "
                f"or the wrong λ; λ/m ≈ {-c:.3g} too much)"
            )

    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = analytic[mismatched] / numeric[mismatched]
    ratios = ratios[np.isfinite(ratios)]
    spread = (
        f" (analytic/numeric from {ratios.min():.3g} to {ratios.max():.3g})" if ratios.size else ""
    )
    return f"mismatch in {k} of {total} checked elements with no single pattern{spread}"
