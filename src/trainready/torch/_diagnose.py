"""``diagnose`` for any ``nn.Module``: a :class:`trainready.signal.Recorder` made of hooks.

:class:`ModuleRecorder` is all the PyTorch-specific part of the doctor: recording (hooks, in
``_record``), cutting the batch to its first rows, and applying a fix to a deep copy. Judging,
the input audit and the verification of fixes are :func:`trainready.signal.examine`, the same
code as for the NumPy reference network.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from .._rng import RngLike
from ..signal import Diagnosis, Fix, Thresholds, examine, standardize_columns
from ._init import LAYER_TYPES, as_batch, init_
from ._loss import LossLike
from ._lsuv import lsuv_
from ._record import _checked_module, deprecated_aliases, first_float, is_conv, record

__all__ = ["ModuleRecorder", "diagnose"]


def _feature_view(x: torch.Tensor, axis: int) -> np.ndarray:
    """``(rows, features)`` float64 view of an input batch, features along ``axis``."""
    arr = x.detach().to(torch.float64).cpu().numpy()
    if arr.ndim == 1:
        return arr[:, None]
    return np.moveaxis(arr, axis, -1).reshape(-1, arr.shape[axis])


def _standardized(batch: Any, axis: int) -> Any:
    if isinstance(batch, tuple):
        return tuple(_standardized(b, axis) for b in batch)
    if isinstance(batch, dict):
        return {k: _standardized(v, axis) for k, v in batch.items()}
    if not (isinstance(batch, torch.Tensor) and batch.is_floating_point()) or batch.ndim < 2:
        return batch
    flat = standardize_columns(_feature_view(batch, axis))
    moved = list(batch.shape)
    moved.append(moved.pop(axis))
    out = torch.from_numpy(flat.reshape(moved)).movedim(-1, axis)
    return out.to(batch.device, batch.dtype)


def _head(batch: Any, k: int) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch[:k] if batch.ndim else batch
    if isinstance(batch, tuple):
        return tuple(_head(b, k) for b in batch)
    if isinstance(batch, dict):
        return {key: _head(v, k) for key, v in batch.items()}
    return batch


def _with_leaky_relu(module: torch.nn.Module) -> torch.nn.Module:
    for m in module.modules():
        for name, child in list(m.named_children()):
            if isinstance(child, torch.nn.ReLU):
                setattr(m, name, torch.nn.LeakyReLU(0.01))
    return module


class ModuleRecorder:
    """:class:`trainready.signal.Recorder` of an ``nn.Module`` on a batch (hooks; copies for
    fixes, so the module itself is never changed)."""

    def __init__(self, module: torch.nn.Module, batch: Any, y: Any, loss: LossLike) -> None:
        self.module, self.batch, self.y, self.loss = module, batch, y, loss
        first = next(m for m in module.modules() if isinstance(m, LAYER_TYPES))
        x0 = first_float(batch)
        self.axis = 1 if is_conv(first) else (x0.ndim - 1 if x0 is not None and x0.ndim else 1)
        self.feature_word = "channel" if is_conv(first) else "feature"

    @property
    def n_rows(self) -> int:
        x0 = first_float(self.batch)
        return int(x0.shape[0]) if x0 is not None and x0.ndim else 1

    def record(self, rng: RngLike, *, weight_grads: bool = True) -> Any:
        # autograd gives the weight gradients with dLoss/dz at no saving: always measured
        return record(self.module, self.batch, self.y, loss=self.loss, rng=rng)

    def head(self, k: int) -> ModuleRecorder:
        return ModuleRecorder(self.module, _head(self.batch, k), _head(self.y, k), self.loss)

    def features(self) -> np.ndarray | None:
        x0 = first_float(self.batch)
        if x0 is None or x0.ndim < 1 or x0.shape[0] < 2:
            return None
        return _feature_view(x0, self.axis)

    def _copy(self, module: torch.nn.Module, batch: Any = None) -> ModuleRecorder:
        return ModuleRecorder(module, self.batch if batch is None else batch, self.y, self.loss)

    def apply(self, fix: Fix, rng: RngLike) -> tuple[str, ModuleRecorder]:
        if fix is Fix.STANDARDIZE:
            desc = (
                f"standardize the inputs with the training mean and std per {self.feature_word} "
                f"(trainready.StandardScaler(axis={self.axis}) fitted on the training set only)"
            )
            return desc, self._copy(self.module, _standardized(self.batch, self.axis))
        module = copy.deepcopy(self.module)
        if fix is Fix.REINIT:
            init_(module, "auto", rng=rng)
            desc = (
                "re-initialize with trainready.torch.init_(model) (He before ReLU, LeCun "
                "elsewhere; zero biases)"
            )
        elif fix is Fix.LSUV:
            lsuv_(module, self.batch, rng=rng)
            desc = "run trainready.torch.lsuv_(model, X) (orthonormal, then unit variance)"
        elif fix is Fix.LEAKY_RELU:
            init_(_with_leaky_relu(module), "auto", rng=rng)
            desc = "replace nn.ReLU by nn.LeakyReLU(0.01) and re-initialize with init_(model)"
        else:  # pragma: no cover - every Fix is handled above
            raise KeyError(fix)
        return desc, self._copy(module)


def diagnose(
    model: torch.nn.Module,
    X: Any,
    y: Any = None,
    *,
    loss: LossLike = None,
    rng: RngLike = 0,
    thresholds: Thresholds | None = None,
    verify: bool = True,
    target: Any = None,
    loss_fn: Any = None,
) -> Diagnosis:
    """The signal doctor for any ``nn.Module``: what it does to the signal, layer by layer.

    The same arguments and result as :func:`trainready.diagnose`:

    1. :func:`record` through hooks: per Linear/Conv call, pre-activation and activation
       statistics, dead ReLUs, saturated tanh/sigmoid, duplicate units, ``||dLoss/dz||`` and
       weight-gradient norms (float64 copies; the module is restored bit-exactly).
    2. :func:`trainready.signal.judge`: ``"vanishing"``/``"exploding"`` (accumulated ratio
       across depth, forward and backward), ``"dead_units"``, ``"saturation"``, ``"symmetry"``;
       :func:`trainready.normalize.audit` of the input (per channel for a CNN, per feature
       otherwise) for ``"unnormalized_input"``.
    3. Each finding's candidate fixes are tried on deep copies, on the first 128 rows of the
       batch (re-initialize with :func:`init_`, :func:`lsuv_`, standardized inputs, leaky ReLU)
       and the first that clears the line is reported with the numbers before and after.

    Args:
        model: any ``nn.Module``: a Sequential MLP, a CNN, residual blocks, transformer blocks
            (layers called as modules are recorded; attention's packed projections are not).
        X: a representative input batch (tensor or NumPy array, tuple of positional inputs, or
            dict), at least 2 rows.
        y: targets (the backward pass starts from ``loss(model(X), y)``), or None: a seeded
            random probe gradient at the output.
        loss: a callable ``loss(output, y)``, ``"cross_entropy"``, ``"mse"``, ``"bce"``, or None
            (picked from ``y``: :func:`pick_loss`).
        rng: seed of the probe gradient and of the re-initializations.
        thresholds: the lines (:class:`trainready.signal.Thresholds`).
        verify: False skips step 3.
        target, loss_fn: deprecated names of ``y`` and ``loss`` (one release).

    Returns:
        A :class:`trainready.signal.Diagnosis` (``findings``, ``record``, ``audit``).

    Example:
        >>> import torch, trainready as tr
        >>> nn = torch.nn
        >>> _ = torch.manual_seed(0)
        >>> layers = [m for _ in range(30) for m in (nn.Linear(64, 64), nn.ReLU())]
        >>> model = nn.Sequential(*layers, nn.Linear(64, 1))  # PyTorch's default init
        >>> diag = tr.torch.diagnose(model, torch.randn(128, 64))
        >>> diag.kinds()[0], diag.findings[0].verified
        ('vanishing', True)
    """
    y, loss = deprecated_aliases(y, loss, target, loss_fn)
    _checked_module(model)
    recorder = ModuleRecorder(model, as_batch(X, model, min_rows=2), y, loss)
    th = thresholds or Thresholds()
    before, report, findings = examine(recorder, rng=rng, thresholds=th, verify=verify)
    return Diagnosis(findings, before, report, th)
