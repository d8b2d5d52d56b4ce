"""Checks of user input for the reference network; each error names the argument and the fix."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._arrays import is_torch_tensor, to_numpy

Array = NDArray[Any]


def problem(argument: str, expected: str, got: Any, fix: str) -> str:
    """The one message grammar: ``"<argument>: expected <what>; got <value>. <fix>"``."""
    shown = repr(got)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f"{argument}: expected {expected}; got {shown}. {fix}"


def check_flags(value: Any, n_hidden: int, name: str) -> tuple[bool, ...]:
    """One bool for every hidden layer, or one bool per hidden layer; nothing else counts."""
    flags = per_hidden(value, n_hidden, name)
    for v in flags:
        if not isinstance(v, bool | np.bool_):
            raise TypeError(
                problem(
                    name,
                    "True or False (or one per hidden layer)",
                    v,
                    f"Pass a bool, e.g. {name}=True; a string such as 'no' would count as True.",
                )
            )
    return tuple(bool(v) for v in flags)


def check_real(value: Any, name: str, *, positive: bool, fix: str) -> float:
    """A finite real number (> 0 with ``positive``, else >= 0); bools and strings are refused."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    if ok:
        x = float(value)
        ok = math.isfinite(x) and (x > 0 if positive else x >= 0)
    if not ok:
        raise (
            ValueError
            if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
            else TypeError
        )(problem(name, f"a finite number {'> 0' if positive else '>= 0'}", value, fix))
    return float(value)


def check_int(value: Any, name: str, minimum: int, fix: str) -> int:
    """An integer >= ``minimum`` (NumPy integers too); bools, floats and strings are refused."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool | np.bool_):
        raise TypeError(problem(name, f"an integer >= {minimum}", value, fix))
    if int(value) < minimum:
        raise ValueError(problem(name, f"an integer >= {minimum}", value, fix))
    return int(value)


def check_layer_dims(layer_dims: Any) -> list[int]:
    if isinstance(layer_dims, (str, bytes)) or not isinstance(layer_dims, (Sequence, np.ndarray)):
        raise TypeError(
            f"layer_dims must be a sequence of layer sizes [n_inputs, n_hidden..., n_outputs]; "
            f"got {type(layer_dims).__name__}. Example: [2, 10, 5, 1]."
        )
    dims = list(layer_dims)
    ok = all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and int(d) >= 1 for d in dims
    )
    if len(dims) < 2 or not ok:
        raise ValueError(
            f"layer_dims must hold at least 2 positive integers [n_inputs, ..., n_outputs]; got "
            f"{layer_dims!r}. Example: [2, 10, 5, 1] (2 inputs, hidden 10 and 5, 1 output)."
        )
    return [int(d) for d in dims]


def per_hidden(value: Any, n_hidden: int, name: str) -> list[Any]:
    """A scalar (or str) broadcast to every hidden layer, or a sequence of exactly n_hidden."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        return [value] * n_hidden
    values = list(value)
    if len(values) != n_hidden:
        raise ValueError(
            f"{name} must be one value for every hidden layer or a sequence of {n_hidden} (one "
            f"per hidden layer, len(layer_dims) - 2); got {len(values)}: {value!r}."
        )
    return values


def check_keep_prob(value: Any, n_hidden: int) -> tuple[float, ...]:
    probs = per_hidden(value, n_hidden, "keep_prob")
    out = []
    for p in probs:
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 < float(p) <= 1.0:
            raise ValueError(
                f"keep_prob must be in (0, 1] (the probability to keep a unit; 1 = no dropout); "
                f"got {p!r}. Typical values are 0.5 to 0.9."
            )
        out.append(float(p))
    return tuple(out)


def check_l2(l2: Any) -> float:
    if not isinstance(l2, numbers.Real) or isinstance(l2, bool) or not math.isfinite(l2) or l2 < 0:
        raise ValueError(
            f"l2 must be a finite number >= 0 (the lambda of lambda/(2m) sum ||W||^2); got {l2!r}."
        )
    return float(l2)


def check_dtype(dtype: Any) -> np.dtype[Any]:
    try:
        dt: np.dtype[Any] = np.dtype(dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            problem(
                "dtype", "float32 or float64", dtype, "Pass np.float64 (default) or np.float32."
            )
        ) from exc
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64; got {dt}. Use np.float32 for speed.")
    return dt


def check_X(X: Any, n_in: int, dtype: np.dtype[Any], what: str = "X") -> Array:
    """Return X as a 2-D array of ``dtype`` (the user's array itself when nothing changes)."""
    arr = to_numpy(X) if is_torch_tensor(X) else np.asarray(X)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(f"{what} must be a numeric array; got dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{what} must be real; got complex dtype {arr.dtype}.")
    if arr.ndim == 1 and n_in == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(
            f"{what} must be 2-D (n_samples, n_features) with one example per row; got shape "
            f"{arr.shape}. Use X.reshape(1, -1) for one example, X.reshape(-1, 1) for one feature; "
            "data stored one example per column (the course's layout) needs X.T."
        )
    if arr.shape[1] != n_in:
        extra = " (did you pass X.T? examples go in rows)" if arr.shape[0] == n_in else ""
        raise ValueError(
            f"{what} has {arr.shape[1]} features but the network expects {n_in} (layer_dims[0])"
            f"{extra}; got shape {arr.shape}."
        )
    out = np.asarray(arr, dtype=dtype)
    if not np.all(np.isfinite(out)):
        bad = np.argwhere(~np.isfinite(out))[0]
        raise ValueError(
            f"{what} contains NaN or infinite values (first at row {bad[0]}, column {bad[1]}); "
            "remove or impute them before training (see trainready.normalize.audit)."
        )
    return out


def as_generator(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(None if rng is None else int(rng))
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    raise TypeError(
        f"rng must be a numpy.random.Generator, an int seed or None; got {type(rng).__name__}."
    )
