"""Read the mismatch pattern of one parameter off the numbers and name the likely bug.

Each rule looks at the checked elements of one tensor (analytic ``a``, numeric ``n``, parameter
values ``w``, which elements mismatch beyond their error estimate) and returns a short sentence.
The rules, in order: an all-zero gradient; a mismatch confined to a few elements (named, with
their ratios); a transposed gradient (also when a correct L2 term is added to it); one factor for
the whole tensor, read as what such a factor usually means (-1 a sign flip, 2 and 1/2 a term
counted twice or a stray 1/2, an integer k a missing division by k, 1/k a division once too
often, 1 ± 1e-6 a small constant such as eps); an offset proportional to W (the L2 term
missing, scaled wrong or doubled); otherwise a generic summary.

Across parameters, :func:`propagation_note` reads a chain of layers: when the layers nearest the
input are wrong and the ones above them right, the error entered at the highest wrong layer and
reached the others through backprop.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

__all__ = ["PROPAGATION_PREFIX", "explain", "format_index", "layer_of", "propagation_note"]

# Every propagation note starts so (reports recognize their own derived note by it).
PROPAGATION_PREFIX = "the error enters at layer "


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


def _near_integer(x: float, rtol: float = 1e-4) -> int | None:
    """``round(x)`` when x is within rtol of an integer >= 3, else None."""
    j = round(x)
    return j if 3 <= j <= 10**7 and abs(x - j) <= rtol * j else None


def _factor_text(k: float) -> str:
    """What a uniform ratio analytic / numeric = k usually means."""
    every = "for every element"
    if abs(k + 1) < 1e-2:
        return f"sign flipped: analytic ≈ -1.00 × numeric {every}"
    if abs(k - 1) < 1e-3:
        return (
            f"analytic ≈ (1 {'+' if k > 1 else '-'} {abs(k - 1):.1e}) × numeric {every}: a small "
            "constant such as eps differs between the forward pass and the backward pass"
        )
    if k < 0:
        return f"sign flipped and scaled: analytic ≈ {_ratio_text(k)} × numeric {every}"
    if abs(k - 2) < 1e-2:
        return f"analytic ≈ 2.00 × numeric {every} (a doubled term, a missing 1/2 or 1/m?)"
    if abs(k - 0.5) < 5e-3:
        return (
            f"analytic ≈ 0.50 × numeric {every} (a stray 1/2, or a term that appears twice "
            "counted once?)"
        )
    j = _near_integer(k)
    if j is not None:
        return (
            f"analytic ≈ {_ratio_text(k)} × numeric {every}: a missing division by {j} (a mean "
            f"over {j} items — the batch size m?), or a term counted {j} times"
        )
    j = _near_integer(1 / k) if k > 0 else None
    if j is not None:
        return (
            f"analytic ≈ {k:.3g} = 1/{j} × numeric {every}: divided by m once too often? (a "
            f"mean over {j} items — the batch size? — taken twice)"
        )
    return f"analytic ≈ {_ratio_text(k)} × numeric {every} (a wrong constant factor)"


def _transposed(analytic: FloatArray, numeric: FloatArray, values: FloatArray) -> float | None:
    """The L2 coefficient c when ``numeric = analytic.T + c (W - W.T)`` (the data term of the
    gradient transposed, a correct L2 term c·W added after), else None. Square matrices only."""
    if _fits(numeric, analytic, 1e-2):
        return None
    skew = values - values.T
    rest = numeric - analytic.T
    ss = float(np.sum(skew * skew))
    c = float(np.sum(rest * skew)) / ss if ss > 0 else 0.0
    scale = float(np.linalg.norm(numeric))
    return c if scale > 0 and float(np.linalg.norm(rest - c * skew)) <= 1e-4 * scale else None


def _power_of_two_scale(*arrays: FloatArray) -> float:
    """A power of two near the largest finite magnitude (1.0 when all are zero)."""
    top = max((float(np.max(np.abs(a[np.isfinite(a)]), initial=0.0)) for a in arrays), default=0)
    return 2.0 ** math.floor(math.log2(top)) if top > 0 else 1.0


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
    # Ratios and patterns do not depend on the scale: read them on values near 1 (a loss of
    # size 1e200 would overflow the dot products); offsets are scaled back when printed.
    scale = _power_of_two_scale(analytic, numeric)
    analytic, numeric = analytic / scale, numeric / scale
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
            if not np.isfinite(analytic[j]):  # a NaN/inf derivative, not a zero numeric one
                off = f"is {float(analytic[j])}"
            else:
                off = f"{ratio:.4g} × numeric" if np.isfinite(ratio) else "numeric is 0"
            parts.append(f"{format_index(name, idx)} (analytic {off})")
        more = f" and {k - 3} more" if k > 3 else ""
        return (
            f"mismatch in {k} of {total} checked elements only: {', '.join(parts)}{more}; "
            "the others agree — look for an indexing or off-by-one error there"
        )

    if complete and len(shape) == 2 and shape[0] == shape[1] and shape[0] > 1:
        c = _transposed(analytic.reshape(shape), numeric.reshape(shape), values.reshape(shape))
        if c is not None:
            l2 = (
                f"; the L2 term {c * scale:.3g}·{name} is right, the rest is transposed"
                if abs(c) * float(np.linalg.norm(values)) > 1e-6 * float(np.linalg.norm(numeric))
                else ""
            )
            formula = (
                " (for W of shape (n_out, n_in): dW = dZ.T @ A_prev)"
                if name.removeprefix("d")[:1] in ("W", "w")
                else ""
            )
            return f"the gradient is the transpose of the right one{formula}{l2}"

    a_act, n_act = analytic[active], numeric[active]
    nn = float(n_act @ n_act)
    if nn > 0:
        factor = float(a_act @ n_act) / nn
        # The fit is judged against the mismatch itself, so a factor 1 + 1e-6 is told apart
        # from an unrelated small mismatch.
        residual = a_act - factor * n_act
        if _fits(a_act, factor * n_act, 1e-3) and float(np.linalg.norm(residual)) <= 0.05 * float(
            np.linalg.norm(a_act - n_act)
        ):
            return _factor_text(factor)

    offset = numeric - analytic
    ww = float(values @ values)
    if ww > 0:
        c = float(offset @ values) / ww
        if _fits(offset, c * values, 2e-2):
            c *= scale
            # Only the difference c·W is observable: a gradient without its L2 term and one
            # with half of it (λ/(2m)·W for λ/m·W) give the same offset, for λ/m = c and 2c.
            if c > 0:
                return (
                    f"off by {c:.3g}·{name}: the regularization term λ/m·{name} is missing from "
                    f"the gradient (then λ/m ≈ {c:.3g}), or it is there but half of what it "
                    f"should be (λ/(2m)·{name} written for λ/m·{name}; then λ/m ≈ {2 * c:.3g})"
                )
            return (
                f"off by {c:.3g}·{name}: an extra regularization term (λ/m·{name} added twice, "
                f"then λ/m ≈ {-c:.3g}; or the wrong λ or m)"
            )

    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = analytic[mismatched] / numeric[mismatched]
    ratios = ratios[np.isfinite(ratios)]
    spread = (
        f" (analytic/numeric from {ratios.min():.3g} to {ratios.max():.3g})" if ratios.size else ""
    )
    undefined = int(np.count_nonzero(mismatched & ~np.isfinite(analytic)))
    nan = f"; the analytic value is NaN or inf at {undefined} of them" if undefined else ""
    return f"mismatch in {k} of {total} checked elements with no single pattern{spread}{nan}"


# A layer's own parameters, numbered by layer (W1, b1, gamma1, ...); names like input0, input1
# (the inputs of one function) are not layers.
_LAYER_PARAM = re.compile(r"^d?(?:W|w|b|gamma|beta)(\d+)$")
_NUMBERED_MODULE = re.compile(r"^[A-Za-z_]+?(\d+)$")


def layer_of(name: str) -> int | None:
    """The layer a parameter belongs to: ``W2``, ``b2``, ``dW2``, ``gamma2`` -> 2; torch's
    ``2.weight``, ``net.4.bias`` -> 2, 4 (the last numeric part of a dotted name);
    ``fc1.weight`` -> 1; None for anything else (``gamma``, ``input1``).

    Example:
        >>> [layer_of(n) for n in ("W3", "0.weight", "fc2.bias", "gamma", "input1")]
        [3, 0, 2, None, None]
    """
    parts = name.split(".")
    if len(parts) > 1:
        numbers = [p for p in parts[:-1] if p.isdigit()]
        if numbers:
            return int(numbers[-1])
        module = _NUMBERED_MODULE.match(parts[-2])
        return int(module.group(1)) if module else None
    match = _LAYER_PARAM.match(name)
    return int(match.group(1)) if match else None


def propagation_note(verdicts: Sequence[tuple[str, bool]]) -> str:
    """Name the layer where an error enters a chain, when it has propagated to the layers below.

    Backprop runs from the last layer to the first, so a wrong ``dZ`` in layer k makes every
    layer below k wrong too while the layers above stay right. When the wrong layers are exactly
    the lowest ones (at least two of them) and at least one layer above them is right, the error
    entered at the highest wrong layer. '' when the names do not form numbered layers or the
    pattern does not hold (separate bugs).

    Args:
        verdicts: ``(parameter name, passed)`` pairs.

    Example:
        >>> note = propagation_note([("W1", False), ("b1", False), ("W2", False), ("W3", True)])
        >>> note.split(":")[0]
        'the error enters at layer 2 and propagates to layer 1 (layer 3 is right)'
    """
    layers: dict[int, list[bool]] = {}
    for name, passed in verdicts:
        layer = layer_of(name)
        if layer is None:
            return ""
        layers.setdefault(layer, []).append(passed)
    order = sorted(layers)
    wrong = [layer for layer in order if not all(layers[layer])]
    if len(wrong) < 2 or wrong != order[: len(wrong)] or len(wrong) == len(order):
        return ""
    top = wrong[-1]
    below = ", ".join(str(layer) for layer in reversed(wrong[:-1]))
    right = ", ".join(str(layer) for layer in order[len(wrong) :])
    return (
        f"{PROPAGATION_PREFIX}{top} and propagates to layer{'s' if len(wrong) > 2 else ''} "
        f"{below} (layer{'s' if len(order) - len(wrong) > 1 else ''} {right} "
        f"{'are' if len(order) - len(wrong) > 1 else 'is'} right): fix the backward pass of "
        f"layer {top} first (what it passes down, dA_prev / dZ); the layers below may then agree"
    )
