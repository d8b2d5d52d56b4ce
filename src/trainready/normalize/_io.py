"""Save and load fitted scalers as ``.npz`` (``allow_pickle=False``) or JSON; never pickle.

Both formats hold a header ``{"format": "trainready.scaler", "version": 1, "class": ...,
"params": {...}}`` and every fitted attribute. npz keeps the raw float64 arrays; JSON writes each
float with ``repr`` (the shortest string that reads back to the same bits) and NaN/inf as strings,
so a round trip is bit-exact in both.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FormatError

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load", "save"]

FORMAT_NAME = "trainready.scaler"
FORMAT_VERSION = 1

# Fitted attributes saved per class: name -> kind ("array", "int_or_array", "names", "int").
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
# Internal state needed to continue partial_fit after loading.
_STATE_KEYS = ("_state_n", "_state_shift", "_state_mean", "_state_m2")


def _classes() -> dict[str, type]:
    from ._scalers import MinMaxScaler, StandardScaler

    return {"StandardScaler": StandardScaler, "MinMaxScaler": MinMaxScaler}


def _params_json(est: Any) -> dict[str, Any]:
    params = est.get_params()
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, tuple | list):
            v = [float(x) if isinstance(x, float | np.floating) else int(x) for x in v]
        elif isinstance(v, np.integer):
            v = int(v)
        elif isinstance(v, np.bool_):
            v = bool(v)
        out[k] = v
    return out


def _collect(est: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    name = type(est).__name__
    if name not in _ATTRS:
        raise TypeError(f"save() supports StandardScaler and MinMaxScaler; got {name}.")
    if not hasattr(est, "n_features_in_"):
        raise FormatError(
            f"This {name} is not fitted; fit it before save() (an unfitted scaler holds nothing "
            "to save)."
        )
    header: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "class": name,
        "params": _params_json(est),
        "attributes": {},
    }
    arrays: dict[str, np.ndarray] = {}
    for attr, kind in _ATTRS[name].items():
        if not hasattr(est, attr):
            continue
        value = getattr(est, attr)
        if value is None:
            header["attributes"][attr] = None
        elif kind == "int":
            header["attributes"][attr] = int(value)
        elif kind == "names":
            header["attributes"][attr] = "array"
            arrays[attr] = np.asarray([str(v) for v in value], dtype=np.str_)
        elif kind == "int_or_array" and np.ndim(value) == 0:
            header["attributes"][attr] = int(value)
        else:
            header["attributes"][attr] = "array"
            arrays[attr] = np.asarray(value)
    if name == "StandardScaler" and est._state is not None:
        st = est._state
        for key, arr in zip(_STATE_KEYS, (st.n, st.shift, st.mean_rel, st.m2), strict=True):
            arrays[key] = np.asarray(arr, dtype=np.float64)
    elif name == "MinMaxScaler":
        header["attributes"]["_state_count"] = int(est._state[2])
    return header, arrays


def _fmt(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in ("npz", "json"):
            raise ValueError(f"format must be 'npz' or 'json'; got {fmt!r}.")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".json",):
        return "json"
    if suffix in (".npz", ""):
        return "npz"
    raise ValueError(
        f"cannot tell the format of {str(path)!r} from its suffix {suffix!r}; use a .npz or .json "
        "file name, or pass format='npz' / format='json'."
    )


def _float_json(x: float) -> float | str:
    return x if np.isfinite(x) else repr(float(x))  # 'nan', 'inf', '-inf'


def save(est: Any, path: str | os.PathLike[str], *, format: str | None = None) -> None:
    """Write a fitted scaler to ``path``: npz (default, or by suffix ``.npz``) or JSON.

    Example:
        >>> import numpy as np, tempfile, os
        >>> from trainready.normalize import StandardScaler, load
        >>> sc = StandardScaler().fit(np.arange(6.0).reshape(3, 2))
        >>> p = os.path.join(tempfile.mkdtemp(), "sc.json")
        >>> sc.save(p); load(p).mean_.tolist()
        [2.0, 3.0]
    """
    p = Path(path)
    kind = _fmt(p, format)
    header, arrays = _collect(est)
    if kind == "npz":
        payload = {"__header__": np.asarray(json.dumps(header))}
        payload.update(arrays)
        with open(p, "wb") as fh:
            np.savez(fh, **payload)  # type: ignore[arg-type]  # numpy's stub: allow_pickle
        return
    doc = dict(header)
    doc["arrays"] = {}
    for key, arr in arrays.items():
        entry: dict[str, Any] = {"dtype": str(arr.dtype), "shape": list(arr.shape)}
        if arr.dtype.kind == "f":
            entry["data"] = [_float_json(float(v)) for v in arr.ravel()]
        elif arr.dtype.kind in "iu":
            entry["data"] = [int(v) for v in arr.ravel()]
        else:
            entry["data"] = [str(v) for v in arr.ravel()]
        doc["arrays"][key] = entry
    p.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")


def _bad(path: Any, why: str) -> FormatError:
    return FormatError(
        f"{str(path)!r} is not a valid trainready scaler file: {why}. Re-create it with "
        "scaler.save(path) from a fitted StandardScaler or MinMaxScaler."
    )


def _read(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FileNotFoundError(f"cannot read scaler file {str(path)!r}: {exc}") from exc
    if raw[:2] == b"PK":
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
                if "__header__" not in npz.files:
                    raise _bad(path, "the npz archive has no '__header__' entry (a foreign file)")
                head = npz["__header__"]
                arrays = {k: npz[k] for k in npz.files if k != "__header__"}
            if not isinstance(head, np.ndarray) or head.dtype.kind != "U":
                raise _bad(path, "its '__header__' entry is not a text array")
            if any(not isinstance(a, np.ndarray) for a in arrays.values()):
                raise _bad(path, "an entry of the npz archive is not a NumPy array")
            header = json.loads(str(head[()]))
            if not isinstance(header, dict):
                raise _bad(path, "its header is not a JSON object")
        except FormatError:
            raise
        except (ValueError, OSError, zipfile.BadZipFile, KeyError, EOFError, TypeError) as exc:
            raise _bad(
                path, f"the npz archive cannot be read ({type(exc).__name__}: {exc})"
            ) from exc
        return header, arrays
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(path, f"neither an npz archive nor JSON ({type(exc).__name__}: {exc})") from exc
    if not isinstance(doc, dict):
        raise _bad(path, "the JSON document is not an object")
    arrays = {}
    try:
        for key, entry in (doc.get("arrays") or {}).items():
            dtype = np.dtype(entry["dtype"])
            data = entry["data"]
            if dtype.kind == "f":
                data = [float(v) for v in data]  # float('nan') / float('inf') for the strings
            arr = np.asarray(data, dtype=dtype).reshape(entry["shape"])
            arrays[key] = arr
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(path, f"an array entry is malformed ({type(exc).__name__}: {exc})") from exc
    return doc, arrays


def load(path: str | os.PathLike[str], *, expected: type | None = None) -> Any:
    """Read a scaler written by ``save`` (npz or JSON, detected from the content).

    Raises:
        FormatError: the file is corrupted, foreign, of another format version, or (with
            ``expected``) holds another class.
    """
    p = Path(path)
    header, arrays = _read(p)
    if header.get("format") != FORMAT_NAME:
        raise _bad(p, f"its format tag is {header.get('format')!r}, not {FORMAT_NAME!r}")
    version = header.get("version")
    if version != FORMAT_VERSION:
        raise FormatError(
            f"{str(p)!r} has scaler format version {version!r}; this trainready reads version "
            f"{FORMAT_VERSION}. Upgrade trainready, or re-save the scaler with this version."
        )
    classes = _classes()
    name = header.get("class")
    if name not in classes:
        raise _bad(p, f"unknown class {name!r} (expected one of {sorted(classes)})")
    cls = classes[name]
    if expected is not None and cls is not expected:
        raise FormatError(
            f"{str(p)!r} holds a {name}, not a {expected.__name__}; load it with "
            f"trainready.{name}.load(path) or trainready.normalize.load(path)."
        )
    params = header.get("params")
    attrs = header.get("attributes")
    if not isinstance(params, dict) or not isinstance(attrs, dict):
        raise _bad(p, "the header lacks 'params' or 'attributes'")
    if "feature_range" in params and isinstance(params["feature_range"], list):
        params["feature_range"] = tuple(params["feature_range"])
    try:
        est = cls(**params)
        est._validate_params()
    except (TypeError, ValueError) as exc:
        raise _bad(p, f"its parameters are invalid ({exc})") from exc
    est._reset()
    try:
        n_feat = int(attrs["n_features_in_"])
        for attr, kind in _ATTRS[name].items():
            if attr not in attrs:
                if kind == "names":
                    continue
                raise KeyError(attr)
            value = attrs[attr]
            if value == "array":
                arr = arrays[attr]
                if kind == "names":
                    arr = arr.astype(object)
                    arr = np.asarray([str(v) for v in arr], dtype=object)
                elif arr.dtype.kind == "f" and arr.dtype != np.float64:
                    raise ValueError(f"{attr} has dtype {arr.dtype}, expected float64")
                if arr.shape != (n_feat,):
                    raise ValueError(f"{attr} has shape {arr.shape}, expected ({n_feat},)")
                setattr(est, attr, arr)
            elif value is None:
                setattr(est, attr, None)
            elif kind == "int_or_array":
                setattr(est, attr, np.int64(value))
            else:
                setattr(est, attr, int(value))
        if name == "StandardScaler":
            from ._moments import RunningMoments

            if all(k in arrays for k in _STATE_KEYS):
                parts = [np.asarray(arrays[k], dtype=np.float64) for k in _STATE_KEYS]
                if any(a.shape != (n_feat,) for a in parts):
                    raise ValueError("the running-moment arrays have the wrong shape")
                est._state = RunningMoments(*parts)
            else:
                raise KeyError("running moments")
        else:
            est._state = [est.data_min_.copy(), est.data_max_.copy(), int(attrs["_state_count"])]
    except (KeyError, ValueError, TypeError) as exc:
        raise _bad(
            p, f"a fitted attribute is missing or malformed ({type(exc).__name__}: {exc})"
        ) from exc
    return est
