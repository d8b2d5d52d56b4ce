"""Feature names: recorded at fit, checked at transform, and used to name features in messages."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._inputs import warn_user

__all__ = ["check_names", "feature_labels", "feature_names_out", "nonfinite_error"]


def feature_labels(est: Any, idx: NDArray[np.intp]) -> str:
    """The features at ``idx`` for a message: their names (quoted) or indices, at most 10."""
    names = getattr(est, "feature_names_in_", None)
    shown = [repr(str(names[i])) if names is not None else str(int(i)) for i in idx[:10]]
    more = f" and {idx.size - 10} more" if idx.size > 10 else ""
    return ", ".join(shown) + more


def check_names(est: Any, names: tuple[str, ...] | None, *, reset: bool) -> None:
    """Record column names at fit (``reset``), or check them against the fitted ones."""
    if reset:
        if names is not None:
            est.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(est, "feature_names_in_"):
            del est.feature_names_in_
        return
    fitted = getattr(est, "feature_names_in_", None)
    cls = type(est).__name__
    if fitted is None and names is None:
        return
    if fitted is None:
        warn_user(
            f"X has feature names, but {cls} was fitted without feature names",
            UserWarning,
        )
        return
    if names is None:
        warn_user(
            f"X does not have valid feature names, but {cls} was fitted with feature names",
            UserWarning,
        )
        return
    if len(fitted) != len(names) or any(a != b for a, b in zip(fitted, names, strict=False)):
        unexpected = sorted(set(names) - set(fitted))
        missing = sorted(set(fitted) - set(names))
        msg = "The feature names should match those that were passed during fit.\n"
        if unexpected:
            msg += "Feature names unseen at fit time:\n" + "".join(
                f"- {n}\n" for n in unexpected[:5]
            )
        if missing:
            msg += "Feature names seen at fit time, yet now missing:\n" + "".join(
                f"- {n}\n" for n in missing[:5]
            )
        if not unexpected and not missing:
            msg += "Feature names must be in the same order as they were in fit.\n"
        raise ValueError(msg + "Select the training columns, in order: X[list(names)].")


def nonfinite_error(est: Any, arr: NDArray[Any], ax: int, method: str) -> ValueError:
    """The ValueError for NaN/inf in ``arr``: the features (names or indices) and counts."""
    others = tuple(i for i in range(arr.ndim) if i != ax)
    n_nan = np.add.reduce(np.isnan(arr), axis=others)
    n_inf = np.add.reduce(np.isinf(arr), axis=others)
    bad = np.flatnonzero(n_nan + n_inf)
    names = getattr(est, "feature_names_in_", None)
    label = [repr(str(names[i])) if names is not None else str(int(i)) for i in bad[:8]]
    detail = ", ".join(
        f"{lab} ({int(n_nan[i])} NaN, {int(n_inf[i])} inf)"
        for lab, i in zip(label, bad[:8], strict=True)
    )
    more = f" and {bad.size - 8} more" if bad.size > 8 else ""
    return ValueError(
        f"Input X contains NaN or inf in {method}: feature(s) {detail}{more}. Clean or impute "
        f"them, or pass nan_policy='omit' to {type(est).__name__} to fit around them (they "
        "then pass through transform)."
    )


def feature_names_out(est: Any, input_features: Any) -> NDArray[np.object_]:
    """Output feature names: ``feature_names_in_`` or ``x0, x1, ...`` (one-to-one)."""
    fitted = getattr(est, "feature_names_in_", None)
    if input_features is None:
        if fitted is not None:
            return np.asarray(fitted, dtype=object)
        return np.asarray([f"x{i}" for i in range(est.n_features_in_)], dtype=object)
    names = np.asarray(input_features, dtype=object)
    if names.ndim != 1 or len(names) != est.n_features_in_:
        raise ValueError(
            f"input_features should have length equal to number of features "
            f"({est.n_features_in_}), got {len(names)}."
        )
    if fitted is not None and not np.array_equal(names, fitted):
        raise ValueError(
            "input_features is not equal to feature_names_in_; pass the names seen at fit "
            f"time: {list(fitted)!r}."
        )
    return names
