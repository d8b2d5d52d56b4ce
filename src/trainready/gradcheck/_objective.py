"""The loss as a function of the flat vector theta, with perturbation, call counting and checks.

The loss receives read-only views into a private float64 copy of theta; each perturbation is
written into that copy and undone exactly after the call, so the user's arrays are never touched
and a check interrupted at any point (an exception, Ctrl-C) leaves nothing changed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._arrays import is_torch_tensor, to_numpy
from .._params import ParamSpec

FloatArray = NDArray[np.float64]
LossFn = Callable[[dict[str, NDArray[Any]]], Any]

__all__ = ["Objective", "loss_value_to_float"]


# Machine epsilon of the loss's floating type, by the name its dtype prints as.
_EPS_OF = {
    "float16": float(np.finfo(np.float16).eps),
    "bfloat16": 2.0**-7,
    "float32": float(np.finfo(np.float32).eps),
}


def loss_value_to_float(
    value: Any, where: str, *, finite: bool = True
) -> tuple[float, float | None]:
    """Convert a loss's return value to a Python float; also give the machine epsilon of its
    type when that is float32 or lower (None for float64).

    Accepts a Python number, a NumPy scalar, a 0-d or one-element array, or a one-element torch
    tensor. Raises ValueError for anything else, and for NaN or inf unless ``finite`` is False.
    """
    low_eps: float | None = None
    if is_torch_tensor(value):
        if value.numel() != 1:
            raise ValueError(
                f"loss must return a scalar (the mean cost J); it returned a tensor of shape "
                f"{tuple(value.shape)} {where}. Reduce it, e.g. with .mean()"
            )
        low_eps = _EPS_OF.get(str(value.dtype).rsplit(".", 1)[-1])
        value = to_numpy(value).astype(np.float64)
    if isinstance(value, bool) or value is None:
        raise ValueError(
            f"loss must return a real scalar (the mean cost J); it returned {value!r} {where}"
        )
    arr = np.asarray(value)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(
            f"loss must return a real scalar (the mean cost J); it returned "
            f"{type(value).__name__} {where}"
        )
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"loss must return a real scalar; it returned a complex value {where}")
    if arr.size != 1:
        raise ValueError(
            f"loss must return a scalar (the mean cost J); it returned an array of shape "
            f"{arr.shape} {where}. Reduce it, e.g. with .mean()"
        )
    if np.issubdtype(arr.dtype, np.floating) and arr.dtype.itemsize < 8:
        low_eps = _EPS_OF.get(str(arr.dtype), float(np.finfo(arr.dtype).eps))
    out = float(arr.reshape(()))
    if finite and not np.isfinite(out):
        raise ValueError(
            f"loss returned {out} {where}; a gradient check needs a finite loss. Check for "
            "log(0) or overflow, or use smaller parameters"
        )
    return out, low_eps


_CHUNK = 1 << 16  # elements per chunk of a perturbation along a direction


class Objective:
    """J(theta) over a private copy of theta; counts calls.

    Args:
        loss: callable taking a dict name -> array (read-only views) and returning a scalar.
        theta: the base point, shape ``(N,)``; kept read-only (never written; pass a private
            array, as :func:`trainready.params_to_vector` returns).
        spec: how theta maps to named arrays.
        on_call: called after every loss evaluation with the running count (progress).
    """

    def __init__(
        self,
        loss: LossFn,
        theta: FloatArray,
        spec: ParamSpec,
        on_call: Callable[[int], None] | None = None,
    ) -> None:
        self.loss = loss
        self.spec = spec
        self.theta = np.asarray(theta, dtype=np.float64).view()
        self.theta.flags.writeable = False
        self._work = self.theta.copy()
        self._views: dict[str, NDArray[Any]] = {}
        for name, shape, start, size in zip(
            spec.names, spec.shapes, spec.offsets, spec.sizes, strict=True
        ):
            view = self._work[start : start + size].reshape(shape)
            view.flags.writeable = False
            self._views[name] = view
        self.calls = 0
        self.low_eps: float | None = None  # machine epsilon of a float32/16 loss, else None
        self.nonfinite = 0  # perturbed calls that returned NaN or inf (left the domain)
        self.changed = False  # did any perturbation change the loss at all?
        self.f0: float | None = None
        self._on_call = on_call

    @property
    def low_precision(self) -> bool:
        """Did the loss return float32 or lower at any call?"""
        return self.low_eps is not None

    def _call(self, where: Callable[[], str], perturbed: bool = True) -> float:
        """One loss call; ``where()`` describes the point, for messages only."""
        self.calls += 1
        try:
            raw = self.loss(dict(self._views))
        except Exception as exc:
            exc.add_note(f"(raised by the loss during a gradient check, {where()})")
            raise
        if type(raw) is float and math.isfinite(raw):  # the common case, fast
            value, low = raw, None
        else:
            value, low = loss_value_to_float(raw, where(), finite=not perturbed)
        if low is not None:
            self.low_eps = max(low, self.low_eps or 0.0)
        if not math.isfinite(value):
            self.nonfinite += 1  # a step left the loss's domain: the caller shrinks it
        elif self.f0 is not None and value != self.f0:
            self.changed = True
        if self._on_call is not None:
            self._on_call(self.calls)
        return value

    def at_theta(self) -> float:
        """J at the base point."""
        return self._call(lambda: "at the given parameters", perturbed=False)

    def at_coordinate(self, i: int, step: float) -> float:
        """J(theta + step * e_i); NaN or inf when the step leaves the loss's domain."""
        self._work[i] = self.theta[i] + step
        try:
            return self._call(lambda: f"at {self.describe(i)} + {step:.3g}")
        finally:
            self._work[i] = self.theta[i]

    def along(self, u: FloatArray, t: float, start: int = 0, stop: int | None = None) -> float:
        """J(theta + t * u) where u is nonzero only on ``[start, stop)`` (u has that length).

        Non-finite elements of theta are kept as they are (u must be 0 there)."""
        stop = self.spec.size if stop is None else stop
        for lo in range(start, stop, _CHUNK):  # in chunks: no temporary of theta's size
            hi = min(lo + _CHUNK, stop)
            self._work[lo:hi] = self.theta[lo:hi] + t * u[lo - start : hi - start]
        try:
            return self._call(lambda: f"along a probe direction, step {t:.3g}")
        finally:
            self._work[start:stop] = self.theta[start:stop]

    def describe(self, i: int) -> str:
        """Readable name of coordinate i, e.g. ``W1[2, 0]``."""
        name, index = self.spec.locate(i)
        return f"{name}[{', '.join(map(str, index))}]" if index else name

    def verify_untouched(self) -> None:
        """Raise if the loss wrote into the arrays it was given (it must not)."""
        if not all(  # bit for bit (NaN included), in chunks
            np.array_equal(self._work[lo : lo + _CHUNK].view(np.int64),
                           self.theta[lo : lo + _CHUNK].view(np.int64))
            for lo in range(0, self._work.size, _CHUNK)
        ):
            raise RuntimeError(
                "the loss modified the parameter arrays it was given during the check; a loss "
                "must only read its params (copy them first if it needs to change them)"
            )


def as_grads_mapping(grads: Any, params_at_theta: Mapping[str, Any]) -> Mapping[str, Any]:
    """Call ``grads`` if it is a callable, else return it."""
    if callable(grads):
        try:
            out = grads(dict(params_at_theta))
        except Exception as exc:
            shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in params_at_theta.items())
            exc.add_note(
                f"(raised by grads(params), your backward pass, during a gradient check, at the "
                f"given parameters: {shapes})"
            )
            raise
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], Mapping):
            out = out[1]  # accept a (loss, grads) pair
        return out  # type: ignore[no-any-return]
    return grads  # type: ignore[no-any-return]
