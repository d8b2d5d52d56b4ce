"""An :class:`~trainready.nn.MLP` in and out of trainready's persistence container (no pickle).

The state's meta is ``{"config": {layer_dims, activations, output, l2, keep_prob, batch_norm,
dtype}}``; its arrays are ``param/<name>`` for every parameter and ``buffer/<name>`` for the
batch-norm running statistics, in the network's dtype. Files are npz (default) or JSON by suffix,
written atomically (:mod:`trainready._persist`).

Format versions: 1 (npz with the header split over ``__format__``, ``__version__`` and
``config`` members, no checksum; still read) and 2 (the shared container, with its SHA-256).
On load the configuration is checked field by field before any array is read, the arrays' dtypes
and shapes are compared with it before they are allocated, and the values with the rules of
``MLP(...)``: finite parameters, finite running means, finite non-negative running variances.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _persist
from .._persist import ArraySpec, FormatError, Header, State, bad_file, check_array
from .activations import ACTIVATIONS
from .losses import OUTPUTS

if TYPE_CHECKING:
    from .mlp import MLP

__all__ = ["FORMAT", "FORMAT_VERSION", "from_state", "load", "save", "state_specs", "to_state"]

FORMAT = "trainready.nn.MLP"
FORMAT_VERSION = 2
WHAT = "network"
MAX_UNITS = 2**24
"""Widest layer a saved network may declare."""
MAX_LAYERS = 10_000
MAX_PARAMETERS = 2**31
"""Most parameters (all layers) a saved network may declare: 16 GiB in float64."""

_CONFIG_KEYS = {"layer_dims", "activations", "output", "l2", "keep_prob", "batch_norm", "dtype"}
_DTYPES: dict[str, np.dtype[Any]] = {"float64": np.dtype("<f8"), "float32": np.dtype("<f4")}


def to_state(net: MLP) -> State:
    """The network's state (arrays copied). A custom Activation/OutputLoss cannot be saved."""
    for i, act in enumerate(net._acts, start=1):
        if ACTIVATIONS.get(act.name) is not act:
            raise ValueError(
                f"activation: expected built-in activations to save; hidden layer {i} uses a "
                f"custom {type(act).__name__} ({act.name!r}), which a file cannot hold. Use one "
                f"of {sorted(ACTIVATIONS)}, or save net.params yourself."
            )
    if OUTPUTS.get(net.output) is not net._out:
        raise ValueError(
            f"output: expected a built-in output to save; got a custom "
            f"{type(net._out).__name__}. Use one of {sorted(OUTPUTS)}."
        )
    config = {
        "layer_dims": list(net.layer_dims),
        "activations": list(net.activations),
        "output": net.output,
        "l2": net.l2,
        "keep_prob": list(net.keep_prob),
        "batch_norm": list(net.batch_norm),
        "dtype": net.dtype.name,
    }
    arrays = {f"param/{k}": np.array(v) for k, v in net.params.items()}
    arrays.update({f"buffer/{k}": v for k, v in net.buffers.items()})
    return State(FORMAT, FORMAT_VERSION, {"config": config}, arrays)


def _field(path: Any, name: str, expected: str, got: Any) -> FormatError:
    shown = repr(got)
    shown = shown if len(shown) <= 80 else shown[:77] + "..."
    return bad_file(path, WHAT, f"config.{name}: expected {expected}; got {shown}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _config(path: Any, meta: Any) -> dict[str, Any]:
    """Every field of a saved configuration, checked for type, length and range."""
    if (
        not isinstance(meta, dict)
        or set(meta) != {"config"}
        or not isinstance(meta["config"], dict)
    ):
        raise bad_file(path, WHAT, "its header has no 'config' object (and nothing else)")
    c = meta["config"]
    if set(c) != _CONFIG_KEYS:
        raise _field(path, "*", f"the keys {sorted(_CONFIG_KEYS)}", sorted(c))
    dims = c["layer_dims"]
    if (
        not isinstance(dims, list)
        or not 2 <= len(dims) <= MAX_LAYERS
        or not all(_is_int(d) and 1 <= d <= MAX_UNITS for d in dims)
    ):
        raise _field(path, "layer_dims", f"2 to {MAX_LAYERS} integers in [1, {MAX_UNITS}]", dims)
    n_params = sum(dims[i] * dims[i - 1] + 3 * dims[i] for i in range(1, len(dims)))
    if n_params > MAX_PARAMETERS:
        raise _field(path, "layer_dims", f"at most {MAX_PARAMETERS} parameters", dims)
    hidden = len(dims) - 2
    lists: dict[str, tuple[Callable[[Any], bool], Any]] = {
        "activations": (lambda v: isinstance(v, str) and v in ACTIVATIONS, sorted(ACTIVATIONS)),
        "keep_prob": (lambda v: _is_real(v) and 0 < v <= 1, "numbers in (0, 1]"),
        "batch_norm": (lambda v: isinstance(v, bool), "true/false"),
    }
    for key, (ok, what) in lists.items():
        v = c[key]
        if not isinstance(v, list) or len(v) != hidden or not all(ok(x) for x in v):
            raise _field(path, key, f"a list of {hidden} (one per hidden layer) of {what}", v)
    if not (isinstance(c["output"], str) and c["output"] in OUTPUTS):
        raise _field(path, "output", f"one of {sorted(OUTPUTS)}", c["output"])
    if not (_is_real(c["l2"]) and c["l2"] >= 0):
        raise _field(path, "l2", "a finite number >= 0", c["l2"])
    if not isinstance(c["dtype"], str) or c["dtype"] not in _DTYPES:
        raise _field(path, "dtype", "'float64' or 'float32'", c["dtype"])
    return c


def state_specs(header: Header, path: Any = "the state") -> dict[str, ArraySpec]:
    """Validate a network header; the arrays (names, dtype, shapes) its configuration implies."""
    c = _config(path, header.meta)
    d, dt = c["layer_dims"], (_DTYPES[c["dtype"]],)
    specs: dict[str, ArraySpec] = {}
    for l in range(1, len(d)):
        specs[f"param/W{l}"] = ArraySpec((d[l], d[l - 1]), dt)
        specs[f"param/b{l}"] = ArraySpec((d[l],), dt)
        if l < len(d) - 1 and c["batch_norm"][l - 1]:
            for name in (f"param/gamma{l}", f"param/beta{l}"):
                specs[name] = ArraySpec((d[l],), dt)
            for name in (f"buffer/running_mean{l}", f"buffer/running_var{l}"):
                specs[name] = ArraySpec((d[l],), dt)
    return specs


def from_state(state: State, *, path: Any = "the state") -> MLP:
    """A network from its state, every field checked (FormatError naming it otherwise)."""
    from .mlp import MLP

    if not isinstance(state, State):
        raise TypeError(f"state: expected a trainready State; got {type(state).__name__}.")
    if state.kind != FORMAT:
        raise bad_file(
            path,
            WHAT,
            f"its format tag is {state.kind!r}, not {FORMAT!r} (not a trainready "
            "network file; save networks with MLP.save)",
        )
    _persist.check_version(path, WHAT, state.version, FORMAT_VERSION)
    specs = state_specs(Header(state.kind, state.version, state.meta), path)
    if set(state.arrays) != set(specs):
        raise bad_file(
            path, WHAT, f"its arrays are {sorted(state.arrays)}; expected {sorted(specs)}"
        )
    for key, spec in specs.items():
        check_array(path, WHAT, key, spec, state.arrays[key])
        arr = state.arrays[key]
        if not np.isfinite(arr).all():
            raise bad_file(path, WHAT, f"{key}: expected finite values; got NaN or inf")
        if key.startswith("buffer/running_var") and (arr < 0).any():
            raise bad_file(path, WHAT, f"{key}: expected variances >= 0; got {arr.min()!r}")
    c = state.meta["config"]
    params = {k[6:]: v for k, v in state.arrays.items() if k.startswith("param/")}
    try:
        net = MLP(
            c["layer_dims"],
            activation=c["activations"],
            output=c["output"],
            init=params,
            l2=c["l2"],
            keep_prob=c["keep_prob"],
            batch_norm=c["batch_norm"],
            dtype=c["dtype"],
        )
    except (TypeError, ValueError) as exc:
        raise bad_file(path, WHAT, f"its configuration is refused by MLP ({exc})") from exc
    for k in net._buffers:
        net._buffers[k][...] = state.arrays[f"buffer/{k}"]
    return net


def save(net: MLP, path: str | os.PathLike[str]) -> None:
    """Write ``net`` atomically to ``path``: ``.npz`` (added if there is no suffix) or ``.json``."""
    _persist.save(to_state(net), path)


def load(path: str | os.PathLike[str]) -> MLP:
    """Read a network written by :func:`save` (or by trainready's version-1 format).

    ``path`` without a suffix also finds ``path + ".npz"`` (what ``save(path)`` wrote).

    Raises:
        FileNotFoundError: no such file.
        FormatError: not a trainready network file, a newer format version, or content that is
            corrupted or impossible (wrong shapes or dtypes, NaN parameters, negative variances).
    """
    p = _persist.load_path(path)
    state = _persist.load(
        p, kind=FORMAT, what=WHAT, current=FORMAT_VERSION, specs=partial(state_specs, path=p)
    )
    return from_state(state, path=p)
