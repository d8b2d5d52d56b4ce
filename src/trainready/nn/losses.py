"""Output layers with their losses, computed stably from the logits.

Three pairs, each fused so that neither ``log(0)`` nor ``exp`` overflow can happen:

================  ==========================================  ===================================
``output``        loss (mean)                                  gradient w.r.t. the logits ``z``
================  ==========================================  ===================================
``"sigmoid"``     binary cross-entropy, ``softplus(z) - y z``  ``(sigmoid(z) - y) / (m K)``
``"softmax"``     cross-entropy, ``logsumexp(z) - z[y]``       ``(softmax(z) - Y) / m``
``"linear"``      mean squared error, ``(z - y)**2``           ``2 (z - y) / (m K)``
================  ==========================================  ===================================

``m`` is the number of rows and ``K`` the number of outputs. Binary cross-entropy and the squared
error are averaged over every element (as ``torch.nn.BCEWithLogitsLoss`` and ``torch.nn.MSELoss``
do; with one output that is the textbook mean over examples); the cross-entropy over rows. Where a
naive ``-mean(y log a + (1 - y) log(1 - a))`` is finite it equals these values to rounding; where
it prints ``inf`` (``a`` rounded to 0 or 1) these stay finite.

Targets (``y``):

* ``"sigmoid"``: values in [0, 1] (labels 0/1), shape ``(m,)`` or ``(m, 1)`` for one output,
  ``(m, K)`` for K independent binary outputs (multi-label).
* ``"softmax"``: integer class labels ``(m,)`` in ``[0, K)``, or one-hot / probability rows
  ``(m, K)`` (non-negative, each summing to 1).
* ``"linear"``: real values, shape ``(m,)`` or ``(m, 1)`` for one output, ``(m, K)`` otherwise.

Example:
    >>> import numpy as np
    >>> loss = get_output("sigmoid")
    >>> y = loss.prepare_targets(np.array([1, 0]), n_out=1, n_samples=2, dtype=np.float64)
    >>> round(loss.cost(np.array([[800.0], [800.0]]), y), 3)   # naive BCE: inf
    400.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "OUTPUTS",
    "MeanSquaredError",
    "OutputLoss",
    "SigmoidBinaryCrossEntropy",
    "SoftmaxCrossEntropy",
    "get_output",
]

Array = NDArray[Any]


def _float(x: Any) -> float:
    return float(x)


@dataclass(frozen=True)
class OutputLoss:
    """Base class: an output activation fused with its loss.

    Attributes:
        name: the output activation (``"sigmoid"``, ``"softmax"``, ``"linear"``).
        loss_name: the loss (``"binary_cross_entropy"``, ``"cross_entropy"``,
            ``"mean_squared_error"``).
        is_classifier: whether :meth:`predict` returns class labels.
    """

    name: str = "base"
    loss_name: str = "base"
    is_classifier: bool = True

    # -- targets ------------------------------------------------------------------------------
    def prepare_targets(self, y: Any, *, n_out: int, n_samples: int, dtype: Any) -> Array:
        """Validate ``y`` and return it in the form :meth:`cost` expects (a new array).

        Raises:
            ValueError: wrong length, shape, values or NaN, with the fix in the message.
        """
        raise NotImplementedError

    # -- forward ------------------------------------------------------------------------------
    def activate(self, z: Array) -> Array:
        """The output activation: probabilities (sigmoid, softmax) or values (linear)."""
        raise NotImplementedError

    def cost(self, z: Array, y: Array) -> float:
        """The mean loss of logits ``z`` (m, K) against prepared targets ``y``."""
        return self.cost_and_grad(z, y, out=np.empty_like(z))[0]

    def cost_and_grad(self, z: Array, y: Array, *, out: Array | None = None) -> tuple[float, Array]:
        """The mean loss and its gradient with respect to ``z`` (written to ``out`` if given).

        ``out`` must not be ``z`` for the cross-entropies (they read ``z`` while writing).
        """
        raise NotImplementedError

    def predict(self, z: Array) -> Array:
        """Predictions from logits: labels for classifiers, values for regression."""
        raise NotImplementedError


def _check_length(y: Array, n_samples: int) -> None:
    if y.ndim == 0 or y.shape[0] != n_samples:
        got = "a scalar" if y.ndim == 0 else f"{y.shape[0]} rows (shape {y.shape})"
        raise ValueError(
            f"y must have one row per example of X ({n_samples}); got {got}. "
            "Pass X and y with the same number of examples."
        )


def _as_real(y: Any, what: str = "y") -> Array:
    arr = np.asarray(y)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise TypeError(
            f"{what} must be numeric; got dtype {arr.dtype}. Convert labels to numbers."
        )
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{what} must be real; got complex dtype {arr.dtype}.")
    return arr


def _column_targets(y: Any, n_out: int, n_samples: int, dtype: Any, kind: str) -> Array:
    arr = _as_real(y)
    _check_length(arr, n_samples)
    if arr.ndim == 1 and n_out == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[1] != n_out:
        hint = "(m,) or (m, 1)" if n_out == 1 else f"(m, {n_out})"
        raise ValueError(
            f"y for a {kind} output with {n_out} unit(s) must have shape {hint}; got {arr.shape}. "
            "Reshape y, or change the last entry of layer_dims to the number of targets."
        )
    out = np.array(arr, dtype=dtype, copy=True)
    if not np.all(np.isfinite(out)):
        raise ValueError("y contains NaN or infinite values; remove or impute those rows.")
    return out


@dataclass(frozen=True)
class SigmoidBinaryCrossEntropy(OutputLoss):
    """Sigmoid output with binary cross-entropy, from logits: ``softplus(z) - y z``."""

    name: str = "sigmoid"
    loss_name: str = "binary_cross_entropy"
    is_classifier: bool = True

    def prepare_targets(self, y: Any, *, n_out: int, n_samples: int, dtype: Any) -> Array:
        out = _column_targets(y, n_out, n_samples, dtype, "sigmoid")
        if out.size and (out.min() < 0 or out.max() > 1):
            raise ValueError(
                f"y for a sigmoid output must hold labels 0/1 (or probabilities in [0, 1]); got "
                f"values in [{out.min():g}, {out.max():g}]. For several classes use "
                "output='softmax' with integer labels; for real targets use output='linear'."
            )
        return out

    def activate(self, z: Array) -> Array:
        e = np.exp(-np.abs(z))
        s = 1 / (1 + e)
        return np.where(z >= 0, s, e * s)

    def cost_and_grad(self, z: Array, y: Array, *, out: Array | None = None) -> tuple[float, Array]:
        n = z.size
        e = np.exp(-np.abs(z))  # one exp serves the loss and the gradient
        # softplus(z) = max(z, 0) + log1p(exp(-|z|)); loss = softplus(z) - y z
        loss = np.log1p(e)
        loss += np.maximum(z, 0)
        loss -= y * z
        value = _float(loss.sum(dtype=np.float64)) / n if n else 0.0
        # sigmoid(z) = 1/(1+e) if z >= 0 else e/(1+e)
        g = np.empty_like(z) if out is None else out
        np.add(e, 1, out=g)
        np.divide(np.where(z >= 0, 1, e), g, out=g)
        g -= y
        g *= 1 / n if n else 1
        return value, g

    def predict(self, z: Array) -> Array:
        labels = (z >= 0).astype(np.int64)  # sigmoid(z) >= 0.5 exactly where z >= 0
        return labels[:, 0] if labels.shape[1] == 1 else labels


@dataclass(frozen=True)
class SoftmaxCrossEntropy(OutputLoss):
    """Softmax output with categorical cross-entropy, from logits: ``logsumexp(z) - z[y]``.

    Prepared targets are integer labels ``(m,)`` (int64) or float probability rows ``(m, K)``.
    """

    name: str = "softmax"
    loss_name: str = "cross_entropy"
    is_classifier: bool = True

    def prepare_targets(self, y: Any, *, n_out: int, n_samples: int, dtype: Any) -> Array:
        arr = _as_real(y)
        _check_length(arr, n_samples)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim == 1:
            if np.issubdtype(arr.dtype, np.floating):
                if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
                    raise ValueError(
                        "y for a softmax output must hold integer class labels (m,) or one-hot "
                        "rows (m, K); got non-integer values. Convert labels with "
                        "y.astype(int)."
                    )
            labels = np.asarray(arr, dtype=np.int64).copy()
            if labels.size and (labels.min() < 0 or labels.max() >= n_out):
                raise ValueError(
                    f"y holds class labels in [{labels.min()}, {labels.max()}] but the softmax "
                    f"output has {n_out} units (labels 0..{n_out - 1}). Map the labels to "
                    "0..K-1, or set the last entry of layer_dims to the number of classes."
                )
            return labels
        if arr.ndim != 2 or arr.shape[1] != n_out:
            raise ValueError(
                f"y for a softmax output with {n_out} units must be integer labels (m,) or one-hot "
                f"rows (m, {n_out}); got shape {arr.shape}."
            )
        probs = np.array(arr, dtype=dtype, copy=True)
        if (
            not np.all(np.isfinite(probs))
            or probs.min(initial=0) < 0
            or not np.allclose(probs.sum(axis=1), 1, atol=1e-6)
        ):
            raise ValueError(
                "one-hot y for a softmax output must have non-negative rows that each sum to 1; "
                "got rows that do not. Pass integer labels (m,) instead, or normalize the rows."
            )
        return probs

    def activate(self, z: Array) -> Array:
        e = z - z.max(axis=1, keepdims=True)
        np.exp(e, out=e)
        e /= e.sum(axis=1, keepdims=True)
        return np.asarray(e)

    def cost_and_grad(self, z: Array, y: Array, *, out: Array | None = None) -> tuple[float, Array]:
        m = z.shape[0]
        if m == 0:
            return 0.0, (np.empty_like(z) if out is None else out)
        g = np.empty_like(z) if out is None else out
        np.subtract(z, z.max(axis=1, keepdims=True), out=g)  # shifted logits, max 0 per row
        if y.ndim == 1:
            rows = np.arange(m)
            picked = g[rows, y].sum(dtype=np.float64)
        else:
            picked = np.vdot(y, g)  # sum_i sum_k Y_ik shifted_ik (rows of Y sum to 1)
        np.exp(g, out=g)
        s = g.sum(axis=1, keepdims=True)
        value = (_float(np.log(s).sum(dtype=np.float64)) - _float(picked)) / m
        g /= s  # softmax
        if y.ndim == 1:
            g[rows, y] -= 1
        else:
            g -= y
        g *= 1 / m
        return value, g

    def predict(self, z: Array) -> Array:
        return np.asarray(np.argmax(z, axis=1))


@dataclass(frozen=True)
class MeanSquaredError(OutputLoss):
    """Linear output with the mean squared error ``mean((z - y)**2)`` over all elements."""

    name: str = "linear"
    loss_name: str = "mean_squared_error"
    is_classifier: bool = False

    def prepare_targets(self, y: Any, *, n_out: int, n_samples: int, dtype: Any) -> Array:
        return _column_targets(y, n_out, n_samples, dtype, "linear")

    def activate(self, z: Array) -> Array:
        return np.array(z, copy=True)

    def cost_and_grad(self, z: Array, y: Array, *, out: Array | None = None) -> tuple[float, Array]:
        n = z.size
        g = np.empty_like(z) if out is None else out
        np.subtract(z, y, out=g)
        value = _float(np.vdot(g, g)) / n if n else 0.0
        g *= 2 / n if n else 1
        return value, g

    def predict(self, z: Array) -> Array:
        return z[:, 0].copy() if z.shape[1] == 1 else z.copy()


OUTPUTS: dict[str, OutputLoss] = {
    "sigmoid": SigmoidBinaryCrossEntropy(),
    "softmax": SoftmaxCrossEntropy(),
    "linear": MeanSquaredError(),
}
"""The output/loss pairs by output activation name."""


def get_output(name: str | OutputLoss) -> OutputLoss:
    """Look up an output/loss pair by its output activation name.

    Raises:
        ValueError: for an unknown name, listing the known ones.

    Example:
        >>> get_output("softmax").loss_name
        'cross_entropy'
    """
    if isinstance(name, OutputLoss):
        return name
    if not isinstance(name, str) or name.strip().lower() not in OUTPUTS:
        raise ValueError(
            f"output must be one of {sorted(OUTPUTS)}; got {name!r}. Use 'sigmoid' for binary "
            "labels, 'softmax' for several classes, 'linear' for regression."
        )
    return OUTPUTS[name.strip().lower()]
