"""What a recording is: per-layer records, and the :class:`Recorder` protocol adapters implement.

A :class:`LayerRecord` holds what one layer did to one batch; a :class:`SignalRecord` holds all
of them. A :class:`Recorder` is a model and a batch that can be recorded, cut to its first rows,
and copied with a fix applied: the reference network's (:mod:`trainready.signal._mlp`, through
``nn``'s engine) and PyTorch's (hooks, ``trainready.torch``) both fill records with
:class:`trainready.signal._stats.LayerStats`, so the findings logic and the verification of
fixes are the same code for every framework.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from .._rng import RngLike

if TYPE_CHECKING:
    from ._kinds import Fix

__all__ = ["LayerRecord", "Recorder", "SignalRecord"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, kw_only=True)
class LayerRecord:
    """What one dense layer did to one batch. Layer ``index`` 1 is the first hidden layer.

    Forward, for ``z = a_prev @ W.T + b`` and ``a = activation(z)``; ``std`` and ``mean`` are over
    every entry of the ``(n_samples, n_out)`` array; ``rms = sqrt(mean(x^2))``.
    Backward, for ``delta = dLoss/dz`` of shape ``(n_samples, n_out)``.

    Attributes:
        index: 1-based layer number (``W{index}``).
        name: a display name (``"layer 3"``, or a PyTorch module path).
        activation: the activation after the layer (the output activation for the last layer).
        fan_in, fan_out: ``n_in`` and ``n_out``.
        weight_rms: ``sqrt(mean(W^2))``.
        weight_gain: ``fan_in * mean(W^2)``, the ``n * Var(W)`` of the initialization formulas
            (He: 2, LeCun: 1).
        z_mean, z_std, z_rms: of the pre-activation.
        a_mean, a_std, a_rms: of the activation.
        dead_fraction: fraction of units whose pre-activation is <= 0 for every example (ReLU
            only; such a unit passes no gradient); 0 for other activations.
        saturated_fraction: fraction of entries with ``|z| > 5`` (tanh and sigmoid only).
        duplicate_fraction: fraction of units that are an exact copy of another unit of the same
            layer (same incoming weights and bias, same outgoing weights): such units get the same
            gradient forever (hidden layers only).
        delta_rms: rms of ``dLoss/dz``.
        delta_norm: Frobenius norm of ``dLoss/dz``; with fan-in initializations it stays
            constant across layers in a healthy network, whatever the widths.
        weight_norm: ``||W||_F``.
        weight_grad_norm: ``||dLoss/dW||_F``.
        bias_grad_norm: ``||dLoss/db||_2``.
        grad_weight_ratio: ``weight_grad_norm / weight_norm`` (the relative step one learning
            rate produces; inf for zero weights with a nonzero gradient).
        nonfinite: whether any z, a or gradient entry of the layer is NaN or inf.
        sample: up to 4096 activation values (evenly strided), for histograms.
    """

    index: int
    name: str
    activation: str
    fan_in: int
    fan_out: int
    weight_rms: float
    weight_gain: float
    z_mean: float
    z_std: float
    z_rms: float
    a_mean: float
    a_std: float
    a_rms: float
    dead_fraction: float
    saturated_fraction: float
    duplicate_fraction: float
    delta_rms: float
    delta_norm: float
    weight_norm: float
    weight_grad_norm: float
    bias_grad_norm: float
    grad_weight_ratio: float
    nonfinite: bool
    sample: FloatArray = field(compare=False, repr=False)

    @classmethod
    def from_norms(
        cls,
        *,
        index: int,
        name: str,
        activation: str,
        fan_in: int,
        fan_out: int,
        n_weights: int,
        stats: Mapping[str, Any],
        duplicate_fraction: float,
        weight_norm: float,
        weight_grad_norm: float | None,
        bias_grad_norm: float | None,
        delta_norm: float,
        delta_size: int,
    ) -> LayerRecord:
        """Build a record from a layer's forward ``stats`` and norms (any framework's).

        ``stats`` holds z_mean, z_std, z_rms, a_mean, a_std, a_rms, dead_fraction,
        saturated_fraction, nonfinite and sample; the ratios are derived here. Gradient norms
        of None were not measured (the doctor's verification records): they become NaN and do
        not count as non-finite.
        """
        wn = weight_norm
        measured = weight_grad_norm is not None
        gW = math.nan if weight_grad_norm is None else weight_grad_norm
        gb = math.nan if bias_grad_norm is None else bias_grad_norm
        return cls(
            index=index,
            name=name,
            activation=activation,
            fan_in=fan_in,
            fan_out=fan_out,
            weight_rms=wn / math.sqrt(n_weights) if n_weights else 0.0,
            weight_gain=wn * wn / fan_out if n_weights else 0.0,
            z_mean=stats["z_mean"],
            z_std=stats["z_std"],
            z_rms=stats["z_rms"],
            a_mean=stats["a_mean"],
            a_std=stats["a_std"],
            a_rms=stats["a_rms"],
            dead_fraction=stats["dead_fraction"],
            saturated_fraction=stats["saturated_fraction"],
            duplicate_fraction=duplicate_fraction,
            delta_rms=delta_norm / math.sqrt(delta_size) if delta_size else 0.0,
            delta_norm=delta_norm,
            weight_norm=wn,
            weight_grad_norm=gW,
            bias_grad_norm=gb,
            grad_weight_ratio=gW / wn if wn > 0 else (math.inf if gW > 0 else 0.0),
            nonfinite=stats["nonfinite"]
            or not math.isfinite(delta_norm)
            or (measured and not math.isfinite(gW)),
            sample=stats["sample"],
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (without the sample)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "sample"}


@dataclass(frozen=True, kw_only=True)
class SignalRecord:
    """Per-layer statistics of one batch through a whole network.

    Attributes:
        layers: one :class:`LayerRecord` per dense layer, layer 1 first.
        n_samples: rows of the batch.
        input_std: std of the input batch over every entry.
        input_rms: rms of the input batch.
        gradient_source: ``"loss"`` (the model's loss against ``y``) or ``"probe"`` (a seeded
            unit-variance random gradient at the output logits, used when ``y`` is None).
    """

    layers: tuple[LayerRecord, ...]
    n_samples: int
    input_std: float
    input_rms: float
    gradient_source: str

    @property
    def depth(self) -> int:
        """Number of dense layers."""
        return len(self.layers)

    def column(self, name: str) -> FloatArray:
        """One statistic across layers, e.g. ``rec.column("z_std")``, shape ``(depth,)``."""
        return np.array([float(getattr(r, name)) for r in self.layers])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "layers": [r.to_dict() for r in self.layers],
            "n_samples": self.n_samples,
            "input_std": self.input_std,
            "input_rms": self.input_rms,
            "gradient_source": self.gradient_source,
        }


class Recorder(Protocol):
    """A model and a batch the doctor can record, cut, and copy with a fix (an adapter's job).

    ``record(rng)`` runs the batch forward and a gradient backward (the loss against the
    targets, or a seeded probe gradient) and returns the :class:`SignalRecord`; the model is
    left unchanged. ``weight_grads=False`` may skip the weight-gradient norms (NaN then), which
    the judgement does not read: fix verification asks for that. ``head(k)`` is the same
    model on the first ``k`` rows (fixes are verified on a head, the same rule for every
    adapter). ``features()`` is the batch as a
    ``(rows, features)`` float64 matrix for the input audit (None when there is none), and
    ``feature_word`` says what a feature is (``"feature"``, ``"channel"``).
    ``apply(fix, rng)`` returns a description of the change, in the words of this framework,
    and a recorder of a changed copy (the model itself is never changed).
    """

    feature_word: str

    @property
    def n_rows(self) -> int: ...

    def record(self, rng: RngLike, *, weight_grads: bool = True) -> SignalRecord: ...

    def head(self, k: int) -> Recorder: ...

    def features(self) -> FloatArray | None: ...

    def apply(self, fix: Fix, rng: RngLike) -> tuple[str, Recorder]: ...
