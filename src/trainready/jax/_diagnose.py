"""``diagnose`` for Flax NNX models: a :class:`trainready.signal.Recorder` made of one trace.

:class:`NNXRecorder` is all the JAX-specific part of the doctor: recording (probes on every
Linear/Conv output, in ``_record``), cutting the batch to its first rows, and applying a fix to
a copy (``nnx.clone``). Judging, the input audit and the verification of fixes are
:func:`trainready.signal.examine`, the same code as for the NumPy reference network and
PyTorch.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import numpy as np
from flax import nnx

from .._rng import RngLike
from ..signal import Diagnosis, Fix, SignalRecord, Thresholds, examine, standardize_columns
from ._layers import Layer, model_layers
from ._loss_choice import LossLike
from ._record import _record, as_batch, as_targets

__all__ = ["NNXRecorder", "diagnose"]

_LEAKY = functools.partial(jax.nn.leaky_relu, negative_slope=0.01)


def _with_leaky_relu(model: nnx.Module) -> bool:
    """Replace ``jax.nn.relu`` (``nnx.relu``) by leaky ReLU (0.01) in every ``nnx.Sequential``
    of ``model``, in place; whether any was replaced."""
    replaced = False
    for _, node in nnx.iter_graph(model):
        if isinstance(node, nnx.Sequential):
            for i, fn in enumerate(node.layers):
                if fn is jax.nn.relu:
                    node.layers[i] = _LEAKY
                    replaced = True
    return replaced


def _reinit(model: nnx.Module, X: np.ndarray, rng: RngLike) -> None:
    """``trainready.jax.init_(model, scheme="auto", X=X, rng=rng)``, in place on a copy."""
    from ._init import init_

    init_(model, scheme="auto", X=X, rng=rng)


def _lsuv(model: nnx.Module, X: np.ndarray, rng: RngLike) -> None:
    """``trainready.jax.lsuv_(model, X, rng=rng)``, in place on a copy."""
    from ._lsuv import lsuv_

    lsuv_(model, X, rng=rng)


class NNXRecorder:
    """:class:`trainready.signal.Recorder` of a Flax NNX model on a batch (fixes are applied to
    ``nnx.clone`` copies, so the model itself is never changed).

    Args:
        model: the ``nnx.Module``. X: the batch (validated, floats as float64), rows first.
        y: targets (one row per row of ``X``) or None. loss: as in :func:`diagnose`.
    """

    def __init__(
        self,
        model: nnx.Module,
        X: np.ndarray,
        y: np.ndarray | None,
        loss: LossLike,
        layers: list[Layer] | None = None,
    ) -> None:
        self.model, self.X, self.y, self.loss = model, X, y, loss
        self.layers = layers if layers is not None else model_layers(model)
        self.feature_word = "channel" if self.layers[0].kind == "conv" else "feature"

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    def record(self, rng: RngLike, *, weight_grads: bool = True) -> SignalRecord:
        return _record(
            self.model, self.layers, self.X, self.y, self.loss, rng, weight_grads=weight_grads
        )

    def head(self, k: int) -> NNXRecorder:
        y = None if self.y is None else self.y[:k]
        return NNXRecorder(self.model, self.X[:k], y, self.loss, self.layers)

    def features(self) -> np.ndarray | None:
        """The batch as ``(rows, features)``: the last axis (channels of NHWC images)."""
        X = self.X
        if X.dtype.kind != "f" or X.shape[0] < 2:
            return None
        return X[:, None] if X.ndim == 1 else X.reshape(-1, X.shape[-1])

    def _copy(self, model: nnx.Module, X: np.ndarray | None = None) -> NNXRecorder:
        return NNXRecorder(model, self.X if X is None else X, self.y, self.loss)

    def apply(self, fix: Fix, rng: RngLike) -> tuple[str, NNXRecorder]:
        if fix is Fix.STANDARDIZE:
            feats = self.features()
            if feats is None:
                return "the inputs are not floating point: nothing to standardize", self
            axis = "axis=-1" if self.X.ndim > 2 else ""
            desc = (
                f"standardize the inputs with the training mean and std per {self.feature_word} "
                f"(trainready.StandardScaler({axis}) fitted on the training set only)"
            )
            return desc, self._copy(self.model, standardize_columns(feats).reshape(self.X.shape))
        model = nnx.clone(self.model)
        if fix is Fix.REINIT:
            _reinit(model, self.X, rng)
            desc = (
                "re-initialize with trainready.jax.init_(model) (He before ReLU, LeCun "
                "elsewhere; zero biases)"
            )
        elif fix is Fix.LSUV:
            _lsuv(model, self.X, rng)
            desc = "run trainready.jax.lsuv_(model, X) (orthonormal, then unit variance)"
        elif fix is Fix.LEAKY_RELU:
            replaced = _with_leaky_relu(model)
            _reinit(model, self.X, rng)
            desc = (
                "replace jax.nn.relu by jax.nn.leaky_relu (negative_slope=0.01) in the "
                "nnx.Sequential and re-initialize with trainready.jax.init_(model)"
                if replaced
                else "re-initialize with trainready.jax.init_(model) (leaky ReLU not tried: "
                "relu is called in the model's own __call__, which cannot be rewritten here; "
                "call jax.nn.leaky_relu(x, 0.01) there)"
            )
        else:  # pragma: no cover - every Fix is handled above
            raise KeyError(fix)
        return desc, self._copy(model)


def diagnose(
    model: nnx.Module,
    X: Any,
    y: Any = None,
    *,
    loss: LossLike = None,
    rng: RngLike = 0,
    thresholds: Thresholds | None = None,
    verify: bool = True,
) -> Diagnosis:
    """The signal doctor for a Flax NNX model: what it does to the signal, layer by layer.

    The same arguments and result as :func:`trainready.torch.diagnose`:

    1. :func:`record`: per Linear/Conv call, pre-activation and activation statistics, dead
       ReLUs, saturated tanh/sigmoid, duplicate units, ``||dLoss/dz||`` and weight-gradient
       norms (float64, one ``jax.value_and_grad``; the model is never changed).
    2. :func:`trainready.signal.judge`: ``"vanishing"``/``"exploding"``, ``"dead_units"``,
       ``"saturation"``, ``"symmetry"``; :func:`trainready.normalize.audit` of the input (per
       channel for a CNN on NHWC images, per feature otherwise) for ``"unnormalized_input"``.
    3. Each finding's candidate fixes are tried on ``nnx.clone`` copies on the first 128 rows
       (re-initialize, LSUV, standardized inputs, leaky ReLU in an ``nnx.Sequential``); the
       first that clears the line is reported with the numbers before and after.

    Args:
        model: a ``flax.nnx.Module`` whose ``__call__(X)`` returns one array.
        X: a representative input batch ``(n_samples, ...)``, at least 2 rows, finite.
        y: targets, one per row (the backward pass starts from ``loss(model(X), y)``), or
            None: a seeded random probe gradient at the output.
        loss: a callable ``loss(output, y)``, ``"cross_entropy"``, ``"mse"``, ``"bce"``, or
            None (picked from ``y``: integer classes, 0/1 with one output, or real values).
        rng: seed of the probe gradient and of the re-initializations.
        thresholds: the lines (:class:`trainready.signal.Thresholds`).
        verify: False skips step 3.

    Returns:
        A :class:`trainready.signal.Diagnosis` (``findings``, ``record``, ``audit``).

    Example:
        >>> import jax, numpy as np, trainready as tr
        >>> from flax import nnx
        >>> rngs = nnx.Rngs(0)  # Flax's default init is LeCun: too small before ReLU
        >>> body = [m for _ in range(30) for m in (nnx.Linear(32, 32, rngs=rngs), jax.nn.relu)]
        >>> model = nnx.Sequential(*body, nnx.Linear(32, 1, rngs=rngs))
        >>> X = np.random.default_rng(0).standard_normal((128, 32))
        >>> diag = tr.jax.diagnose(model, X)
        >>> diag.kinds()[0], diag.findings[0].verified
        ('vanishing', True)
    """
    layers = model_layers(model)
    x = as_batch(X)
    recorder = NNXRecorder(model, x, as_targets(y, x.shape[0]), loss, layers)
    th = thresholds or Thresholds()
    before, report, findings = examine(recorder, rng=rng, thresholds=th, verify=verify)
    return Diagnosis(findings, before, report, th)
