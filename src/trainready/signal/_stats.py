"""The one per-layer statistics routine, fed by every recorder (NumPy engine or torch hooks).

A recorder creates a :class:`LayerStats` per layer call and hands it NumPy arrays as they
appear: the dense output (:meth:`~LayerStats.dense`), the activation's input and output, and on
the way back ``dLoss/dz`` (:meth:`~LayerStats.delta`); :meth:`~LayerStats.finish` adds the
parameter-gradient norms and returns the :class:`~trainready.signal.LayerRecord`. Arrays have the
layer's units on ``unit_axis`` (the last axis for dense layers, 1 for convolutions).

Example:
    >>> import numpy as np
    >>> W, b = np.eye(2), np.zeros(2)
    >>> st = LayerStats(index=1, name="layer 1", W=W, b=b, hidden=False)
    >>> st.dense(np.array([[1.0, -1.0], [1.0, -1.0]]))
    >>> st.delta(np.ones((2, 2)))
    >>> st.finish(weight_grad_norm=1.0, bias_grad_norm=1.0).z_std
    1.0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._stats import fro, moments
from ._record import LayerRecord

__all__ = [
    "DEAD",
    "SAMPLE_SIZE",
    "SATURATING",
    "SATURATION_Z",
    "LayerStats",
    "duplicate_fraction",
    "probe_gradient",
]

FloatArray = NDArray[np.float64]

#: |z| beyond which tanh and sigmoid count as saturated (tanh'(5) = 1.8e-4, sigmoid'(5) = 6.6e-3).
SATURATION_Z = 5.0
#: How many activation values each record keeps for histograms.
SAMPLE_SIZE = 4096
#: Activations whose units can die (output 0 for every example) and that saturate.
DEAD = ("relu", "relu6")
SATURATING = ("tanh", "sigmoid")
_HASH = np.random.default_rng(0x5EED)  # the duplicate check's hash, not the caller's stream


def probe_gradient(shape: tuple[int, ...], gen: np.random.Generator) -> FloatArray:
    """``dLoss/dout`` of the probe loss ``mean over rows of <G_i, out_i>`` (``G ~ N(0, 1)``)."""
    G = gen.standard_normal(shape)
    G /= shape[0] if shape else 1
    return G


def _units_first(
    x: NDArray[Any], unit_axis: int, units: NDArray[Any] | None = None
) -> NDArray[Any]:
    """``(units, everything else)``; only the rows ``units`` when given (no full copy)."""
    if units is not None:
        x = np.take(x, units, axis=unit_axis)
    return np.moveaxis(x, unit_axis, 0).reshape(x.shape[unit_axis], -1)


def _sample(a: NDArray[Any]) -> FloatArray:
    flat = a.reshape(-1)
    step = max(1, math.ceil(flat.size / SAMPLE_SIZE))
    return np.array(flat[::step], dtype=np.float64)


def duplicate_fraction(
    W: NDArray[Any],
    b: NDArray[Any] | None,
    delta: NDArray[Any] | None,
    unit_axis: int = 0,
) -> float:
    """Fraction of units that copy another unit: same incoming weights and bias, same dLoss/dz.

    Such units compute the same function and receive the same gradient, so training never
    makes them differ. ``W`` is ``(units, fan_in)``, ``b`` ``(units,)``, ``delta`` has the
    units on ``unit_axis`` (None: compare weights and biases only). Rows are hashed by a
    random projection, then
    compared exactly (weights, bias) and to 1e-9 of the layer's largest value (``delta``, which
    BLAS may round differently per column), so the cost is O(units * fan_in).

    Example:
        >>> W = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0]])
        >>> duplicate_fraction(W, np.zeros(3), np.ones((3, 4)))
        0.3333333333333333
    """
    n = W.shape[0]
    if n < 2:
        return 0.0
    key = W @ _HASH.standard_normal(W.shape[1])
    if b is not None:
        key = key + b * 0.7071067811865476
    order = np.argsort(key, kind="stable")
    k = key[order]
    same = np.flatnonzero(k[1:] == k[:-1]) + 1
    if same.size == 0:
        return 0.0
    start = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    rep = order[start[np.searchsorted(start, same, side="right") - 1]]
    cand = order[same]
    equal = np.all(W[cand] == W[rep], axis=1)
    if b is not None:
        equal &= b[cand] == b[rep]
    if delta is not None and delta.size and equal.any():
        scale = float(np.max(np.abs(delta))) if np.all(np.isfinite(delta)) else math.inf
        dc, dr = _units_first(delta, unit_axis, cand), _units_first(delta, unit_axis, rep)
        gap = np.max(np.abs(dc - dr), axis=1) if dc.shape[1] else np.zeros(len(cand))
        equal &= gap <= 1e-9 * scale
    return float(np.count_nonzero(equal) / n)


class LayerStats:
    """Statistics of one layer call, filled by a recorder; see the module docstring.

    Args:
        index: 1-based position of the call. name: display name.
        W: the weight ``(units, fan_in...)``; b: the bias or None.
        hidden: whether duplicate units are counted (hidden layers only).
        unit_axis: the axis of the units in the arrays passed in.
    """

    def __init__(
        self,
        *,
        index: int,
        name: str,
        W: NDArray[Any],
        b: NDArray[Any] | None,
        hidden: bool,
        unit_axis: int = -1,
    ) -> None:
        self.index, self.name, self.hidden, self.unit_axis = index, name, hidden, unit_axis
        self.W = np.asarray(W, dtype=np.float64).reshape(W.shape[0], -1)
        self.b = None if b is None else np.asarray(b, dtype=np.float64)
        self.activation = "linear"
        self.stats: dict[str, Any] = {"dead_fraction": 0.0, "saturated_fraction": 0.0}
        self.duplicates = 0.0
        self.delta_norm, self.delta_size = 0.0, 0

    def dense(self, z: NDArray[Any]) -> None:
        """The layer's output (its pre-activation); also the activation until one is seen."""
        zm, zs, zr = moments(z)
        self.stats.update(z_mean=zm, z_std=zs, z_rms=zr, a_mean=zm, a_std=zs, a_rms=zr)
        self.stats["sample"] = _sample(z)
        self.stats["nonfinite"] = not math.isfinite(zr)

    def activation_input(self, x: NDArray[Any], activation: str) -> None:
        """What enters the activation (after batch norm): the saturated fraction."""
        if activation in SATURATING and x.size:
            self.stats["saturated_fraction"] = (
                float(np.count_nonzero(np.abs(x) > SATURATION_Z)) / x.size
            )

    def activation_output(self, a: NDArray[Any], activation: str) -> None:
        """The activation's output: its moments, sample and (ReLU) dead fraction."""
        am, as_, ar = moments(a)
        self.stats.update(a_mean=am, a_std=as_, a_rms=ar, sample=_sample(a))
        if activation in DEAD and a.size:
            others = tuple(i for i in range(a.ndim) if i != self.unit_axis % a.ndim)
            alive = np.any(a > 0, axis=others)
            self.stats["dead_fraction"] = float(np.count_nonzero(~alive)) / alive.size
        self.stats["nonfinite"] = self.stats.get("nonfinite", False) or not math.isfinite(ar)
        self.activation = activation

    def delta(self, d: NDArray[Any] | None) -> None:
        """``dLoss/dz`` of the layer's output (None: no gradient reached it)."""
        if d is None:
            self.duplicates = duplicate_fraction(self.W, self.b, None) if self.hidden else 0.0
            return
        self.delta_norm, self.delta_size = fro(d), int(d.size)
        if self.hidden:
            self.duplicates = duplicate_fraction(self.W, self.b, d, self.unit_axis % d.ndim)

    def finish(
        self, *, weight_grad_norm: float | None, bias_grad_norm: float | None
    ) -> LayerRecord:
        """The layer's record (None: that norm was not measured, NaN in the record)."""
        return LayerRecord.from_norms(
            index=self.index,
            name=self.name,
            activation=self.activation,
            fan_in=int(self.W.shape[1]),
            fan_out=int(self.W.shape[0]),
            n_weights=int(self.W.size),
            stats=self.stats,
            duplicate_fraction=self.duplicates,
            weight_norm=fro(self.W),
            weight_grad_norm=weight_grad_norm,
            bias_grad_norm=bias_grad_norm,
            delta_norm=self.delta_norm,
            delta_size=self.delta_size,
        )
