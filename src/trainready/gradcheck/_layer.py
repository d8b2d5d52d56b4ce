"""``check_layer``: check one layer's hand-written backward pass, the way course code is written.

Course code (cs231n's ``affine_forward(x, w, b) -> (out, cache)`` and
``affine_backward(dout, cache) -> (dx, dw, db)``) is checked a layer at a time against the scalar
``L = sum(forward(**inputs)[0] * dout)``, whose gradient with respect to every input is what
``backward(dout, cache)`` returns. :func:`check_layer` builds that loss and hands it to
:func:`trainready.gradcheck`, so the numerics, the verdict and the hints are gradcheck's own.

What it adds is the bookkeeping students get wrong or have to write by hand: a random ``dout``,
the cache from a fresh forward call, the backward's tuple matched to the inputs by position,
inputs that are not checked (a ``conv_param`` dict, integer labels) passed through, and copies
everywhere: every call gets its own copies, the user's arrays are never touched, and edits that
the user's forward or backward make to their arguments are detected and named.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import TrainreadyWarning
from ._check import Mode, gradcheck
from ._report import GradcheckReport

FloatArray = NDArray[np.float64]

__all__ = ["InPlaceWarning", "check_layer"]


class InPlaceWarning(TrainreadyWarning):
    """A layer's forward or backward changed an array it was given (its input, or ``dout``)."""


def check_layer(
    forward: Callable[..., Any],
    backward: Callable[[Any, Any], Any],
    inputs: Mapping[str, Any],
    dout: Any = None,
    *,
    wrt: str | Sequence[str] | None = None,
    rng: np.random.Generator | int | None = 0,
    mode: Mode = "auto",
    eps: float | None = None,
    samples: int = 10,
) -> GradcheckReport:
    """Check a layer's ``backward(dout, cache)`` against numeric differences of its forward.

    The loss checked is ``L(inputs) = sum(out * dout)`` (summed over every output when the layer
    has several), whose gradient is exactly what backpropagating ``dout`` through the layer
    gives. The report is :func:`trainready.gradcheck`'s, with one row per checked input.

    Args:
        forward: ``forward(**inputs)`` returns ``out`` or ``(out, cache)``; a layer with several
            outputs returns ``((out1, out2), cache)``. When it returns ``out`` alone, the cache
            handed to ``backward`` is a dict of the inputs.
        backward: ``backward(dout, cache)`` returns the gradients with respect to the inputs: a
            tuple in the order of ``inputs`` (one per input, one per floating-point array input,
            or one per checked input), or a dict keyed by input name or ``'d' + name``. For a
            layer with several outputs ``dout`` is a tuple, one array per output.
        inputs: name -> value, in the forward's keyword names, e.g. ``{"x": (N, D), "w": (D, M),
            "b": (M,)}``. Never modified: each call gets copies.
        dout: the upstream gradient, of the output's shape (a tuple for several outputs);
            None draws a standard Gaussian one from ``rng``.
        wrt: the inputs to check; default every floating-point ndarray. The others (a
            ``conv_param`` or ``bn_param`` dict, integer labels, masks) are passed through.
        rng: seed or Generator for ``dout`` and for gradcheck's own draws.
        mode, eps, samples: as in :func:`trainready.gradcheck`.

    Returns:
        A :class:`GradcheckReport` whose ``params`` are the checked inputs. Its notes say how
        ``dout`` was drawn, which inputs were passed through, and every in-place edit: forward
        or backward changing an input array, backward changing ``dout`` (the check is not
        affected: it passes copies and keeps its own ``dout``, but in training the caller's
        arrays would be overwritten). Edits of arrays also raise an :class:`InPlaceWarning`;
        edits of pass-through objects (running statistics stored in ``bn_param``) are only
        noted.

    Raises:
        TypeError: forward or backward is not callable, inputs is not a mapping of names, a
            value in ``wrt`` is not a floating-point array.
        ValueError, KeyError: ``wrt`` names an unknown input; forward returns something other
            than ``out`` or ``(out, cache)``; ``dout`` or a gradient has the wrong shape; the
            backward returns the wrong number of gradients or misses one.

    Example:
        >>> import numpy as np, trainready as tr
        >>> def affine_forward(x, w, b):
        ...     return x @ w + b, (x, w)
        >>> def affine_backward(dout, cache):
        ...     x, w = cache
        ...     return dout @ w.T, x.T @ dout, dout.sum(axis=0)
        >>> rng = np.random.default_rng(0)
        >>> inputs = {"x": rng.standard_normal((4, 3)), "w": rng.standard_normal((3, 2)),
        ...           "b": rng.standard_normal(2)}
        >>> tr.check_layer(affine_forward, affine_backward, inputs).verdict
        'ok'
    """
    for label, fn in (("forward", forward), ("backward", backward)):
        if not callable(fn):
            raise TypeError(
                f"{label} must be a callable: forward(**inputs) -> out or (out, cache), "
                f"backward(dout, cache) -> gradients; got {type(fn).__name__}"
            )
    if not isinstance(inputs, Mapping) or not inputs or not all(isinstance(k, str) for k in inputs):
        raise TypeError(
            "inputs must be a non-empty mapping name -> value in forward's keyword names, e.g. "
            f"{{'x': x, 'w': w, 'b': b}}; got {type(inputs).__name__}"
        )
    names = list(inputs)
    floats = [n for n in names if _is_float_array(inputs[n])]
    checked = _checked_names(wrt, inputs, floats)
    gen = np.random.default_rng(rng)
    notes: list[str] = []
    warned: list[str] = []

    base = {n: np.array(inputs[n], dtype=np.float64) for n in checked}
    args = _arguments(inputs, {n: b.copy() for n, b in base.items()})
    outs, cache, several = _forward_outputs(forward, args, "at the given inputs")
    _edits({n: base.get(n, v) for n, v in inputs.items()}, args, "forward", notes, warned)

    if dout is None:
        douts = tuple(gen.standard_normal(o.shape) for o in outs)
        notes.append(
            "dout: standard Gaussian of shape "
            f"{', '.join(str(o.shape) for o in outs)}, drawn from rng (pass dout to choose it)"
        )
    else:
        douts = _as_douts(dout, outs, several)
    result = _backward_call(backward, douts, several, cache, args, checked, notes, warned)
    grads = _named_grads(result, names, floats, checked)
    for n in checked:
        g = np.asarray(grads[n])
        if g.shape != base[n].shape:
            flip = " (it looks transposed)" if g.shape[::-1] == base[n].shape else ""
            raise ValueError(
                f"backward's gradient for {n!r} has shape {g.shape} but input {n!r} has shape "
                f"{base[n].shape}{flip}; d{n} must have the shape of {n}"
            )
    shapes = [o.shape for o in outs]

    def loss(p: Mapping[str, FloatArray]) -> float:
        call = _arguments(inputs, {n: np.array(p[n]) for n in checked})
        got, _, _ = _forward_outputs(forward, call, "during the check")
        if [o.shape for o in got] != shapes:
            raise ValueError(
                f"forward's output shapes changed during the check: {shapes} at the given "
                f"inputs, {[o.shape for o in got]} now; the output shape must not depend on "
                "the input values"
            )
        return float(sum(np.sum(o * d) for o, d in zip(got, douts, strict=True)))

    passed = [n for n in names if n not in checked]
    if passed:
        notes.append(f"not checked, passed through unchanged: {', '.join(passed)}")
    with warnings.catch_warnings(record=True) as caught:  # re-issued at the caller's line
        warnings.simplefilter("always")
        rep = gradcheck(
            loss,
            {n: inputs[n] for n in checked},
            {n: grads[n] for n in checked},
            mode=mode,
            eps=eps,
            rng=gen,
            samples=samples,
        )
    for c in caught:
        warnings.warn(str(c.message), c.category, stacklevel=2)
    for w in warned:
        warnings.warn(
            f"{w}; see the report's notes (the check used copies)", InPlaceWarning, stacklevel=2
        )
    return replace(rep, notes=tuple(notes) + rep.notes)


def _backward_call(
    backward: Callable[[Any, Any], Any],
    douts: tuple[FloatArray, ...],
    several: bool,
    cache: Any,
    args: Mapping[str, Any],
    checked: list[str],
    notes: list[str],
    warned: list[str],
) -> Any:
    """Call backward on copies of dout; note edits of dout and of the inputs (via the cache)."""
    after_forward = {n: copy.deepcopy(v) for n, v in args.items()}
    given = tuple(d.copy() for d in douts)
    try:
        result = backward(given if several else given[0], cache)
    except Exception as exc:
        exc.add_note(f"(raised by backward(dout, cache) in check_layer, checking {checked})")
        raise
    for k, (d, mine) in enumerate(zip(given, douts, strict=True)):
        if not np.array_equal(d, mine, equal_nan=True):
            what = f"dout[{k}]" if several else "dout"
            notes.append(
                f"backward modified {what} in place ({_changed(mine, d)}): in training the "
                "upstream gradient would be overwritten; work on a copy (dout = dout.copy())"
            )
            warned.append(f"backward modified {what} in place")
    _edits(after_forward, args, "backward (through the cache)", notes, warned)
    return result


def _is_float_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def _checked_names(
    wrt: str | Sequence[str] | None, inputs: Mapping[str, Any], floats: list[str]
) -> list[str]:
    """The inputs to check, in the order of ``inputs``."""
    if wrt is None:
        if not floats:
            raise ValueError(
                "inputs has no floating-point ndarray to check (got "
                f"{', '.join(f'{k}: {type(v).__name__}' for k, v in inputs.items())}); pass "
                "the arrays as float NumPy arrays, e.g. np.asarray(x, dtype=float)"
            )
        return floats
    wanted = [wrt] if isinstance(wrt, str) else list(wrt)
    unknown = [w for w in wanted if w not in inputs]
    if unknown or not wanted or len(set(wanted)) != len(wanted):
        raise ValueError(
            f"wrt must name distinct inputs, some of {list(inputs)}; got {wrt!r}"
            + (f" ({unknown} not among them)" if unknown else "")
        )
    for w in wanted:
        if not _is_float_array(inputs[w]):
            v = inputs[w]
            kind = f"a {v.dtype} array" if isinstance(v, np.ndarray) else type(v).__name__
            raise TypeError(
                f"wrt names {w!r}, which is {kind}: only floating-point ndarrays can be "
                f"checked; convert it (np.asarray({w}, dtype=float)) or leave it out of wrt"
            )
    return [n for n in inputs if n in wanted]


def _arguments(inputs: Mapping[str, Any], checked: Mapping[str, FloatArray]) -> dict[str, Any]:
    """Fresh keyword arguments: the checked arrays given, deep copies of everything else."""
    return {n: checked[n] if n in checked else copy.deepcopy(v) for n, v in inputs.items()}


def _forward_outputs(
    forward: Callable[..., Any], args: dict[str, Any], where: str
) -> tuple[tuple[FloatArray, ...], Any, bool]:
    """Call forward; return its outputs as float64 arrays, the cache, and whether several."""
    try:
        result = forward(**args)
    except Exception as exc:
        exc.add_note(f"(raised by forward(**inputs) in check_layer, {where})")
        raise
    if isinstance(result, tuple):
        if len(result) != 2:
            raise ValueError(
                f"forward returned a tuple of {len(result)}; check_layer expects out or "
                "(out, cache). For a layer with several outputs return ((out1, out2), cache): "
                "def forward(**kw): h, c, cache = lstm_step_forward(**kw); return (h, c), cache"
            )
        out, cache = result
    else:
        out, cache = result, dict(args)
    several = isinstance(out, tuple | list)
    pieces = list(out) if several else [out]
    outs = tuple(_as_output(o, k if several else None) for k, o in enumerate(pieces))
    return outs, cache, several


def _as_output(value: Any, k: int | None) -> FloatArray:
    what = "forward's output" if k is None else f"forward's output {k}"
    arr = np.asarray(value)
    if arr.dtype.kind not in "fiu" or arr.dtype == bool:
        raise TypeError(f"{what} must be a real array; got {arr.dtype} ({type(value).__name__})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} holds NaN or inf; a layer check needs finite outputs")
    return arr


def _as_douts(dout: Any, outs: tuple[FloatArray, ...], several: bool) -> tuple[FloatArray, ...]:
    pieces = list(dout) if several and isinstance(dout, tuple | list) else [dout]
    if len(pieces) != len(outs):
        raise ValueError(
            f"dout must have one array per output of forward ({len(outs)}); got {len(pieces)}"
        )
    douts = []
    for k, (d, o) in enumerate(zip(pieces, outs, strict=True)):
        what = f"dout[{k}]" if several else "dout"
        arr = np.array(d, dtype=np.float64)  # a private copy: the user's dout is never touched
        if arr.shape != o.shape:
            raise ValueError(
                f"{what} has shape {arr.shape} but forward's output has shape {o.shape}; dout "
                "is the gradient of the loss with respect to the output, of the output's shape"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{what} holds NaN or inf; pass a finite upstream gradient")
        douts.append(arr)
    return tuple(douts)


def _named_grads(
    result: Any, names: list[str], floats: list[str], checked: list[str]
) -> dict[str, Any]:
    """Match backward's result (a tuple in input order, or a dict) to the checked inputs."""
    if isinstance(result, Mapping):
        grads: dict[str, Any] = {}
        for key, g in result.items():
            name = key if key in names else str(key)[1:] if str(key).startswith("d") else None
            if name not in names:
                raise KeyError(
                    f"backward returned a gradient {key!r} for no input; inputs are {names} "
                    "(name gradients 'x' or 'dx')"
                )
            grads[str(name)] = g
        missing = [n for n in checked if n not in grads or grads[n] is None]
        if missing:
            raise KeyError(
                f"backward returned no gradient for {missing} (looked for "
                f"{', '.join(repr(x) for n in missing for x in (n, 'd' + n))}); it returned "
                f"{sorted(map(str, result))}"
            )
        return grads
    items = list(result) if isinstance(result, tuple | list) else [result]
    order = [names, floats, checked]
    match = next((cand for cand in order if len(cand) == len(items)), None)
    if match is None:
        raise ValueError(
            f"backward returned {len(items)} gradient(s); expected a tuple in the order of "
            f"inputs with one per input ({len(names)}: {', '.join(names)}), one per "
            f"floating-point input ({len(floats)}: {', '.join(floats)}) or one per checked "
            f"input ({len(checked)}: {', '.join(checked)}), or a dict keyed by name"
        )
    grads = dict(zip(match, items, strict=True))
    missing = [n for n in checked if grads.get(n) is None]
    if missing:
        raise ValueError(f"backward returned None for {missing}; return their gradients")
    return grads


def _edits(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    who: str,
    notes: list[str],
    warned: list[str],
) -> None:
    """Note every argument ``who`` changed in place (arrays also get a warning)."""
    for name, old in before.items():
        new = after[name]
        if isinstance(new, np.ndarray):
            ref = np.asarray(old)
            if ref.shape == new.shape and not np.array_equal(ref, new, equal_nan=True):
                notes.append(
                    f"{who} modified the input {name} in place ({_changed(ref, new)}): in "
                    f"training the caller's {name} would be changed; work on a copy"
                )
                warned.append(f"{who} modified the input {name} in place")
            continue
        changed = _changed_parts(old, new, name)
        if changed:
            notes.append(
                f"{who} updated {', '.join(changed)} in place (expected for running "
                "statistics; yours are unchanged: the check passes copies)"
            )


def _changed(old: NDArray[Any], new: NDArray[Any]) -> str:
    diff = int(np.count_nonzero(~((old == new) | (np.isnan(old) & np.isnan(new)))))
    return f"{diff} of {old.size} elements changed"


def _changed_parts(old: Any, new: Any, label: str) -> list[str]:
    """Labels of the parts of a (nested) pass-through object that differ."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        keys = list(dict.fromkeys([*old, *new]))
        return [
            part
            for k in keys
            for part in (
                [f"{label}[{k!r}]"]
                if (k in old) != (k in new)
                else _changed_parts(old[k], new[k], f"{label}[{k!r}]")
            )
        ]
    if isinstance(old, np.ndarray) or isinstance(new, np.ndarray):
        a, b = np.asarray(old), np.asarray(new)
        same = a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b)
        return [] if same else [label]
    try:
        return [] if bool(old == new) else [label]
    except Exception:  # objects without a usable ==
        return [] if old is new else [label]
