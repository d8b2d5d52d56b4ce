"""Named parameters <-> one flat float64 vector ``theta``: the common currency of the checks.

``params_to_vector({"W1": (3, 2) array, "b1": (3,) array})`` gives ``theta`` of shape ``(9,)``
(``W1`` row-major, then ``b1``) and a :class:`ParamSpec` that undoes it. Gradients are put in the
same order by :func:`grads_to_vector`, which accepts the parameter's name or ``'d' + name``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._arrays import is_torch_tensor, to_numpy

__all__ = ["ParamSpec", "grads_to_vector", "params_to_vector", "vector_to_params"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ParamSpec:
    """How a flat vector maps back to named arrays.

    Attributes:
        names: parameter names, in vector order.
        shapes: each parameter's shape.
        dtypes: each parameter's original dtype (restored by :func:`vector_to_params`).
        offsets: index in ``theta`` where each parameter starts; ``offsets[-1] + size`` is N.
    """

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[np.dtype[Any], ...]
    offsets: tuple[int, ...]

    @cached_property
    def size(self) -> int:
        """Total number of scalar parameters N."""
        return self.offsets[-1] + self.sizes[-1] if self.names else 0

    @cached_property
    def sizes(self) -> tuple[int, ...]:
        """Number of elements of each parameter."""
        return tuple(int(np.prod(s, dtype=np.int64)) for s in self.shapes)

    def slice_of(self, name: str) -> slice:
        """The slice of ``theta`` holding parameter ``name``."""
        i = self.names.index(name)
        return slice(self.offsets[i], self.offsets[i] + self.sizes[i])

    def locate(self, flat_index: int) -> tuple[str, tuple[int, ...]]:
        """Parameter name and element index of coordinate ``flat_index`` of ``theta``.

        Example:
            >>> _, spec = params_to_vector({"W1": np.zeros((3, 2)), "b1": np.zeros(3)})
            >>> spec.locate(7)
            ('b1', (1,))
        """
        if not 0 <= flat_index < self.size:
            raise IndexError(f"flat_index must be in [0, {self.size}); got {flat_index}")
        i = int(np.searchsorted(np.asarray(self.offsets), flat_index, side="right")) - 1
        local = flat_index - self.offsets[i]
        index = np.unravel_index(local, self.shapes[i]) if self.shapes[i] else ()
        return self.names[i], tuple(int(k) for k in index)


def _as_array(value: Any, what: str) -> NDArray[Any]:
    value = to_numpy(value) if is_torch_tensor(value) else value
    try:
        arr = np.asarray(value)
    except Exception as exc:
        raise TypeError(f"{what} must be array-like; got {type(value).__name__}") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        if np.issubdtype(arr.dtype, np.complexfloating):
            raise TypeError(f"{what} must be real; got complex dtype {arr.dtype}")
        raise TypeError(f"{what} must be a real numeric array; got dtype {arr.dtype}")
    return arr


def params_to_vector(
    params: Mapping[str, Any], *, finite: bool = True, copy: bool = True
) -> tuple[FloatArray, ParamSpec]:
    """Flatten named parameters into one float64 vector, in the mapping's order.

    Args:
        params: name -> array (any real dtype, any shape, empty arrays included). Never modified.
        finite: refuse NaN and inf values (a gradient check passes False: it perturbs only the
            finite elements).
        copy: False lets a single contiguous float64 parameter come back as a read-only view
            of itself instead of a copy (a large check saves one vector of memory).

    Returns:
        ``(theta, spec)``: ``theta`` of shape ``(N,)``, float64, a new array; ``spec`` undoes it.

    Example:
        >>> theta, spec = params_to_vector({"W1": np.ones((2, 3)), "b1": np.zeros(2)})
        >>> theta.shape, spec.names
        ((8,), ('W1', 'b1'))
    """
    if not isinstance(params, Mapping):
        raise TypeError(
            "params must be a mapping name -> array, e.g. {'W1': W1, 'b1': b1}; "
            f"got {type(params).__name__}"
        )
    if len(params) == 0:
        raise ValueError("params is empty: pass at least one named parameter, e.g. {'W1': W1}")
    names, shapes, dtypes, offsets, pieces = [], [], [], [], []
    offset = 0
    for name, value in params.items():
        if not isinstance(name, str):
            raise TypeError(f"params keys must be strings; got {name!r}")
        arr = _as_array(value, f"params[{name!r}]")
        if finite and not np.all(np.isfinite(arr)):
            bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
            raise ValueError(
                f"params[{name!r}] holds {bad} NaN or inf value(s); a gradient check needs "
                "finite parameters: re-initialize them"
            )
        names.append(name)
        shapes.append(tuple(int(s) for s in arr.shape))
        dtypes.append(arr.dtype)
        offsets.append(offset)
        offset += arr.size
        pieces.append(arr.astype(np.float64, copy=False).ravel())
    theta = _joined(pieces, copy)
    spec = ParamSpec(tuple(names), tuple(shapes), tuple(dtypes), tuple(offsets))
    return theta, spec


def vector_to_params(
    theta: NDArray[Any], spec: ParamSpec, *, keep_float64: bool = False
) -> dict[str, NDArray[Any]]:
    """Undo :func:`params_to_vector`: new arrays with the original shapes (and dtypes).

    Args:
        theta: shape ``(N,)``.
        spec: from :func:`params_to_vector`.
        keep_float64: return float64 arrays instead of casting back to the original dtypes.

    Example:
        >>> theta, spec = params_to_vector({"W1": np.ones((2, 3))})
        >>> vector_to_params(theta * 2, spec)["W1"][0, 0]
        np.float64(2.0)
    """
    theta = np.asarray(theta)
    if theta.ndim != 1 or theta.size != spec.size:
        raise ValueError(
            f"theta must have shape ({spec.size},) to match spec; got shape {theta.shape}"
        )
    out: dict[str, NDArray[Any]] = {}
    for name, shape, dtype, start, size in zip(
        spec.names, spec.shapes, spec.dtypes, spec.offsets, spec.sizes, strict=True
    ):
        piece = theta[start : start + size].reshape(shape)
        out[name] = piece.copy() if keep_float64 else piece.astype(dtype, copy=True)
    return out


def grads_to_vector(
    grads: Mapping[str, Any], spec: ParamSpec, *, finite: bool = True, copy: bool = True
) -> FloatArray:
    """Put named gradients in ``theta``'s order, as one float64 vector.

    Each parameter ``name`` is looked up as ``name`` or ``'d' + name`` (``W1`` or ``dW1``).
    With ``finite=False`` NaN and inf are kept (a gradient check judges them element by element);
    ``copy`` as in :func:`params_to_vector`.

    Raises:
        KeyError: a gradient is missing, or there is one for no parameter.
        ValueError: a shape differs from its parameter's, or a gradient holds NaN or inf.
    """
    if not isinstance(grads, Mapping):
        raise TypeError(
            "grads must be a mapping name -> array (names like 'W1' or 'dW1') or a callable "
            f"returning one; got {type(grads).__name__}"
        )
    used: set[str] = set()
    pieces = []
    for name, shape in zip(spec.names, spec.shapes, strict=True):
        if name in grads:
            key = name
        elif "d" + name in grads:
            key = "d" + name
        else:
            raise KeyError(
                f"grads has no entry for parameter {name!r} (looked for {name!r} and "
                f"{'d' + name!r}); grads has {sorted(map(str, grads))}. Return a gradient for "
                "every parameter."
            )
        used.add(key)
        arr = _as_array(grads[key], f"grads[{key!r}]")
        if tuple(arr.shape) != shape:
            hint = " (it looks transposed)" if tuple(arr.shape[::-1]) == shape else ""
            raise ValueError(
                f"grads[{key!r}] has shape {tuple(arr.shape)} but parameter {name!r} has shape "
                f"{shape}{hint}; a gradient has its parameter's shape"
            )
        if finite and not np.all(np.isfinite(arr)):
            bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
            raise ValueError(
                f"grads[{key!r}] holds {bad} NaN or inf value(s); the backward pass overflowed "
                "or divided by zero: check it at these parameters"
            )
        pieces.append(arr.astype(np.float64, copy=False).ravel())
    extra = sorted(set(map(str, grads)) - used)
    if extra:
        raise KeyError(
            f"grads has entries for no parameter: {extra}; parameters are {list(spec.names)}. "
            "Name each gradient after its parameter ('W1' or 'dW1')."
        )
    return _joined(pieces, copy) if pieces else np.zeros(0)


def _joined(pieces: list[NDArray[Any]], copy: bool) -> FloatArray:
    """One float64 vector; a read-only view of the only piece when allowed and possible."""
    if not copy and len(pieces) == 1 and pieces[0].dtype == np.float64:
        view = pieces[0].view()
        view.flags.writeable = False
        return view
    return np.concatenate(pieces).astype(np.float64, copy=True)
