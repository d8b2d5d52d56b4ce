"""Scalers in and out of the persistence container: ``to_state`` and a ``from_state`` that checks.

The state holds the constructor parameters, the fitted attributes and the running state that lets
``partial_fit`` continue. On the way back every field is checked with the rules ``fit`` enforces:
parameters of the right type; counts that are non-negative integers; finite moments; and the
fitted attributes recomputed from the running state must equal the saved ones (bit for bit; a
saved ``scale_`` may also be the 1 a constant feature gets). A state that breaks a rule is a
:class:`~trainready.errors.FormatError` naming the field.

Format versions: 1 (no checksum) and 2 (the current container, with its SHA-256).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .._persist import ArraySpec, FormatError, Header, State, bad_file, check_array, check_version
from ._moments import RunningMoments

if TYPE_CHECKING:
    from ._base import ScalerBase

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "scaler_from_state", "scaler_specs", "scaler_to_state"]

FORMAT_NAME = "trainready.scaler"
FORMAT_VERSION = 2
WHAT = "scaler"
MAX_FEATURES = 2**31 - 1

_F8 = (np.dtype("<f8"),)
_I8 = (np.dtype("<i8"),)
_U = (np.dtype("<U1"),)
# Fitted attributes per class: name -> kind.
_ATTRS: dict[str, dict[str, str]] = {
    "StandardScaler": {
        "mean_": "array_or_none",
        "var_": "array_or_none",
        "scale_": "array_or_none",
        "n_samples_seen_": "int_or_array",
        "n_features_in_": "int",
        "feature_names_in_": "names",
    },
    "MinMaxScaler": {
        "data_min_": "array",
        "data_max_": "array",
        "data_range_": "array",
        "scale_": "array",
        "min_": "array",
        "n_samples_seen_": "int",
        "n_features_in_": "int",
        "feature_names_in_": "names",
    },
}
_PARAMS = {
    "StandardScaler": ("with_mean", "with_std", "axis", "copy", "nan_policy"),
    "MinMaxScaler": ("feature_range", "clip", "axis", "copy", "nan_policy"),
}
_STATE_KEYS = ("_state_n", "_state_shift", "_state_mean", "_state_m2")


def _classes() -> dict[str, type[ScalerBase]]:
    from ._scalers import MinMaxScaler, StandardScaler

    return {"StandardScaler": StandardScaler, "MinMaxScaler": MinMaxScaler}


# ------------------------------------------------------------------------------- saving
def _param_json(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_param_json(v) for v in value]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def scaler_to_state(est: ScalerBase) -> State:
    """The container state of a fitted scaler (see the module docstring)."""
    name = type(est).__name__
    if name not in _ATTRS:
        raise TypeError(f"save() supports StandardScaler and MinMaxScaler; got {name}.")
    if not hasattr(est, "n_features_in_"):
        raise FormatError(
            f"This {name} is not fitted; fit it before save() (an unfitted scaler holds nothing "
            "to save)."
        )
    est._validate_params()
    attrs: dict[str, Any] = {}
    arrays: dict[str, NDArray[Any]] = {}
    for attr, kind in _ATTRS[name].items():
        if not hasattr(est, attr):
            continue
        value = getattr(est, attr)
        if value is None:
            attrs[attr] = None
        elif kind == "int" or (kind == "int_or_array" and np.ndim(value) == 0):
            attrs[attr] = int(value)
        elif kind == "names":
            attrs[attr] = "array"
            arrays[attr] = np.asarray([str(v) for v in value], dtype=np.str_)
        else:
            attrs[attr] = "array"
            arrays[attr] = np.array(value, dtype=np.int64 if kind == "int_or_array" else None)
    if name == "StandardScaler":
        st: RunningMoments = est._state
        for key, arr in zip(_STATE_KEYS, (st.n, st.shift, st.mean_rel, st.m2), strict=True):
            arrays[key] = np.array(arr, dtype=np.float64)
    else:
        attrs["_state_count"] = int(est._state[2])
    params = {k: _param_json(v) for k, v in est.get_params().items()}
    meta = {"class": name, "params": params, "attributes": attrs}
    return State(FORMAT_NAME, FORMAT_VERSION, meta, arrays)


# ------------------------------------------------------------------------------ checking
def _field(path: Any, name: str, expected: str, got: Any) -> FormatError:
    shown = repr(got)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return bad_file(path, WHAT, f"{name}: expected {expected}; got {shown}")


def _int(path: Any, name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        raise _field(path, name, f"an integer in [{lo}, {hi}]", value)
    return int(value)


def _dict(path: Any, name: str, value: Any, keys: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _field(path, name, "an object", value)
    missing = sorted(keys - set(value))
    unknown = sorted(set(value) - keys - optional)
    if missing or unknown:
        raise _field(
            path, name, f"the keys {sorted(keys)}", f"missing {missing}, unknown {unknown}"
        )
    return value


def _check_params(path: Any, name: str, params: Any) -> dict[str, Any]:
    p = dict(_dict(path, "params", params, set(_PARAMS[name]), set()))
    for key in ("with_mean", "with_std", "copy", "clip"):
        if key in p and not isinstance(p[key], bool):
            raise _field(path, f"params.{key}", "true or false", p[key])
    if p["axis"] is not None and _int(path, "params.axis", p["axis"], -64, 64) == 0:
        raise _field(path, "params.axis", "None or a feature axis (axis 0 holds the samples)", 0)
    if p["nan_policy"] not in ("raise", "omit"):
        raise _field(path, "params.nan_policy", "'raise' or 'omit'", p["nan_policy"])
    if name == "MinMaxScaler":
        fr = p["feature_range"]
        ok = isinstance(fr, list) and len(fr) == 2
        ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) for v in fr)
        if not ok or not all(math.isfinite(v) for v in fr) or not fr[0] < fr[1]:
            raise _field(path, "params.feature_range", "[low, high], finite, low < high", fr)
        p["feature_range"] = tuple(fr)
    return p


def scaler_specs(header: Header, path: Any = "the state") -> dict[str, ArraySpec]:
    """Validate a scaler header's meta; the arrays its file must hold (shapes from its config)."""
    meta = _dict(path, "header", header.meta, {"class", "params", "attributes"}, set())
    name = meta["class"]
    if not isinstance(name, str) or name not in _ATTRS:
        raise bad_file(path, WHAT, f"unknown class {name!r} (expected one of {sorted(_ATTRS)})")
    _check_params(path, name, meta["params"])
    table = _ATTRS[name]
    extra = {"_state_count"} if name == "MinMaxScaler" else set()
    required = {k for k, kind in table.items() if kind != "names"} | extra
    attrs = _dict(path, "attributes", meta["attributes"], required, {"feature_names_in_"})
    n = _int(path, "attributes.n_features_in_", attrs["n_features_in_"], 1, MAX_FEATURES)
    specs: dict[str, ArraySpec] = {}
    for attr, kind in table.items():
        value = attrs.get(attr)
        if attr == "n_samples_seen_" and kind == "int":
            _int(path, f"attributes.{attr}", value, 1, 2**62)
        if attr not in attrs or kind == "int":
            continue
        if value == "array":
            dtypes = _U if kind == "names" else _I8 if kind == "int_or_array" else _F8
            specs[attr] = ArraySpec((n,), dtypes)
        elif value is None and kind == "array_or_none":
            continue
        elif kind == "int_or_array":
            _int(path, f"attributes.{attr}", value, 0, 2**62)
        else:
            raise _field(
                path,
                f"attributes.{attr}",
                "'array'" + (" or null" if kind == "array_or_none" else ""),
                value,
            )
    if name == "StandardScaler":
        specs.update({k: ArraySpec((n,), _F8) for k in _STATE_KEYS})
    else:
        _int(path, "attributes._state_count", attrs["_state_count"], 1, 2**62)
    return specs


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    x, y = np.asarray(a), np.asarray(b)
    return x.shape == y.shape and np.array_equal(x, y, equal_nan=True)


def _moments(path: Any, arrays: dict[str, NDArray[Any]]) -> RunningMoments:
    n, shift, mean, m2 = (arrays[k] for k in _STATE_KEYS)
    if not (np.isfinite(n).all() and (n >= 0).all() and (n == np.round(n)).all()):
        raise _field(path, "_state_n", "non-negative whole counts", n[:5].tolist())
    for key, arr in (("_state_shift", shift), ("_state_mean", mean), ("_state_m2", m2)):
        if not np.isfinite(arr).all():
            raise _field(path, key, "finite values", arr[:5].tolist())
    if (m2 < 0).any():
        raise _field(path, "_state_m2", "sums of squares >= 0", m2[:5].tolist())
    if ((n == 0) & ((mean != 0) | (m2 != 0))).any():
        raise _field(path, "_state_mean", "0 for features that saw no value", mean[:5].tolist())
    return RunningMoments(n.copy(), shift.copy(), mean.copy(), m2.copy())


def scaler_from_state(
    state: State, *, expected: type | None = None, path: Any = "the state"
) -> ScalerBase:
    """A scaler from its state, every field checked (FormatError naming it otherwise)."""
    if not isinstance(state, State):
        raise TypeError(f"state: expected a trainready State; got {type(state).__name__}.")
    if state.kind != FORMAT_NAME:
        raise bad_file(path, WHAT, f"its format tag is {state.kind!r}, not {FORMAT_NAME!r}")
    check_version(path, WHAT, state.version, FORMAT_VERSION)
    header = Header(state.kind, state.version, state.meta)
    specs = scaler_specs(header, path)
    arrays = dict(state.arrays)
    unknown = sorted(set(arrays) - set(specs))
    if unknown:
        raise bad_file(path, WHAT, f"unexpected arrays {unknown}")
    for key, spec in specs.items():
        if key not in arrays:
            raise bad_file(path, WHAT, f"it lacks the array {key!r}")
        check_array(path, WHAT, key, spec, arrays[key])
    meta = state.meta
    name = meta["class"]
    cls = _classes()[name]
    if expected is not None and cls is not expected:
        raise FormatError(
            f"{str(path)!r} holds a {name}, not a {expected.__name__}; load it with "
            f"trainready.{name}.load(path) or trainready.normalize.load(path)."
        )
    est = cls(**_check_params(path, name, meta["params"]))
    est._validate_params()
    est._reset()
    attrs = meta["attributes"]
    est.n_features_in_ = int(attrs["n_features_in_"])
    if "feature_names_in_" in arrays:
        est.feature_names_in_ = np.asarray([str(v) for v in arrays["feature_names_in_"]], object)
    if name == "StandardScaler":
        est._state = _moments(path, arrays)
    else:
        est._state = _minmax_state(path, arrays, int(attrs["_state_count"]))
    est._finalize(warn=False)
    _compare(path, est, name, attrs, arrays)
    return est


def _minmax_state(path: Any, arrays: dict[str, NDArray[Any]], count: int) -> list[Any]:
    mn, mx = arrays["data_min_"], arrays["data_max_"]
    empty = np.isnan(mn) & np.isnan(mx)  # features that saw no finite value (nan_policy="omit")
    ok = (np.isfinite(mn) & np.isfinite(mx) & (mn <= mx)) | empty
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise _field(
            path,
            "data_min_/data_max_",
            "finite with data_min_ <= data_max_",
            (float(mn[i]), float(mx[i])),
        )
    with np.errstate(over="ignore", invalid="ignore"):
        span = mx - mn
    if not (np.isfinite(span) | empty).all():
        raise _field(path, "data_range_", "a range below the float64 maximum", span[:5].tolist())
    return [mn.copy(), mx.copy(), count]


def _compare(
    path: Any, est: ScalerBase, name: str, attrs: dict[str, Any], arrays: dict[str, Any]
) -> None:
    """Saved fitted attributes must be what the running state gives."""
    for attr, kind in _ATTRS[name].items():
        if kind in ("int", "names"):
            continue
        saved = arrays.get(attr) if attrs[attr] == "array" else attrs[attr]
        computed = getattr(est, attr)
        if attr == "scale_" and name == "StandardScaler" and saved is not None:
            computed = _check_scale(path, est, np.asarray(saved), computed)
        if not _same(saved, computed):
            raise _field(
                path,
                attr,
                f"what the saved running state gives ({_short(computed)})",
                _short(saved),
            )
        if saved is not None and kind != "int_or_array":
            setattr(est, attr, np.array(saved, dtype=np.float64))
    if name == "MinMaxScaler" and attrs["n_samples_seen_"] != attrs["_state_count"]:
        raise _field(
            path,
            "_state_count",
            f"n_samples_seen_ ({attrs['n_samples_seen_']})",
            attrs["_state_count"],
        )


def _check_scale(path: Any, est: Any, saved: NDArray[Any], computed: Any) -> Any:
    """``scale_`` is sqrt(var_) or 1 (a constant feature; older versions drew the line higher)."""
    var = est.var_
    with np.errstate(invalid="ignore"):
        ok = (saved == computed) | (saved == 1.0) | (saved == np.sqrt(var))
    ok |= np.isnan(saved) & np.isnan(computed)
    if not ok.all() or not ((saved > 0) | np.isnan(saved)).all():
        return computed  # reported by the caller as a mismatch
    return saved


def _short(value: Any) -> Any:
    if value is None or np.ndim(value) == 0:
        return value
    arr = np.asarray(value).ravel()
    return arr[:4].tolist() + (["..."] if arr.size > 4 else [])
