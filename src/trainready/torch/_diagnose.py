"""``diagnose`` for any ``nn.Module``: hook records, judged and verified by trainready.signal."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..init import RngLike
from ..signal import Diagnosis, SignalRecord, Thresholds, judge
from ..signal._diagnose import diagnosis_findings  # the doctor's verification and order
from ._init import LAYER_TYPES, init_
from ._lsuv import lsuv_
from ._record import first_float, is_conv, record

__all__ = ["diagnose"]


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
    X = _feature_view(batch, axis)
    mean, std = X.mean(axis=0), X.std(axis=0)
    std[~(std > 0)] = 1.0
    shape = [1] * batch.ndim
    shape[axis] = -1
    m = torch.from_numpy(mean).reshape(shape).to(batch.device)
    s = torch.from_numpy(std).reshape(shape).to(batch.device)
    return ((batch.to(torch.float64) - m) / s).to(batch.dtype)


def _with_leaky_relu(module: torch.nn.Module) -> torch.nn.Module:
    for m in module.modules():
        for name, child in list(m.named_children()):
            if isinstance(child, torch.nn.ReLU):
                setattr(m, name, torch.nn.LeakyReLU(0.01))
    return module


@dataclass
class _Verifier:
    """Re-records the module with a candidate fix applied to a copy (the doctor's protocol:
    ``run(key) -> (description, record)``)."""

    module: torch.nn.Module
    batch: Any
    target: Any
    loss_fn: Any
    rng: RngLike
    thresholds: Thresholds
    X: np.ndarray | None
    axis: int
    cache: dict[str, tuple[str, SignalRecord]] = field(default_factory=dict)

    def run(self, key: str) -> tuple[str, SignalRecord]:
        if key in self.cache:
            return self.cache[key]
        module, batch = self.module, self.batch
        std_desc = (
            "standardize the inputs with the training mean and std per "
            f"{'channel' if self.axis == 1 and self.X is not None else 'feature'} "
            f"(trainready.StandardScaler(axis={self.axis}) fitted on the training set only)"
        )
        if key in ("standardize", "standardize+auto"):
            batch = _standardized(batch, self.axis)
        if key != "standardize":
            module = copy.deepcopy(module)
        if key in ("auto", "standardize+auto"):
            init_(module, "auto", rng=self.rng)
            desc = (
                "re-initialize with trainready.torch.init_(model) (He before ReLU, LeCun "
                "elsewhere; zero biases)"
            )
            if key == "standardize+auto":
                desc = f"{std_desc}, and {desc}"
        elif key == "lsuv":
            lsuv_(module, batch, rng=self.rng)
            desc = "run trainready.torch.lsuv_(model, batch) (orthonormal, then unit variance)"
        elif key == "leaky_relu":
            init_(_with_leaky_relu(module), "auto", rng=self.rng)
            desc = "replace nn.ReLU by nn.LeakyReLU(0.01) and re-initialize with init_(model)"
        elif key == "standardize":
            desc = std_desc
        else:  # pragma: no cover - keys come from trainready.signal
            raise KeyError(key)
        result = (desc, record(module, batch, self.target, loss_fn=self.loss_fn, rng=self.rng))
        self.cache[key] = result
        return result


def diagnose(
    module: torch.nn.Module,
    batch: Any,
    target: Any = None,
    *,
    loss_fn: Callable[[Any, Any], torch.Tensor] | None = None,
    rng: RngLike = 0,
    thresholds: Thresholds | None = None,
    verify: bool = True,
) -> Diagnosis:
    """The signal doctor for any ``nn.Module``: what it does to the signal, layer by layer.

    1. :func:`record` through hooks: per Linear/Conv call, pre-activation and activation
       statistics, dead ReLUs, saturated tanh/sigmoid, duplicate units, ``||dLoss/dz||`` and
       weight-gradient norms (float64 copies; the module is restored bit-exactly).
    2. :func:`trainready.signal.judge`: the same findings as for the NumPy reference network --
       ``"vanishing"``/``"exploding"`` (accumulated ratio across depth, forward and backward),
       ``"dead_units"``, ``"saturation"``, ``"symmetry"``; :func:`trainready.normalize.audit` of
       the input (per channel for a CNN, per feature otherwise) for ``"unnormalized_input"``.
    3. Each finding's candidate fixes are tried on a deep copy (re-initialize with
       :func:`init_`, :func:`lsuv_`, standardized inputs, leaky ReLU) and the first that clears
       the line is reported with the numbers before and after.

    Args:
        module: any ``nn.Module``: a Sequential MLP, a CNN, residual blocks, transformer blocks
            (layers called as modules are recorded; attention's packed projections are not).
        batch: a representative input batch (tensor, tuple of positional inputs, or dict).
        target, loss_fn: start the backward pass from ``loss_fn(module(batch), target)``; both
            None: a seeded random probe gradient at the output.
        rng: seed of the probe gradient and of the re-initializations.
        thresholds: the lines (:class:`trainready.signal.Thresholds`).
        verify: False skips step 3.

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
    from ..normalize import audit

    th = thresholds or Thresholds()
    before = record(module, batch, target, loss_fn=loss_fn, rng=rng)
    first = next(m for n, m in module.named_modules() if isinstance(m, LAYER_TYPES))
    x0 = first_float(batch)
    axis = 1 if is_conv(first) else (x0.ndim - 1 if x0 is not None and x0.ndim else 1)
    X = _feature_view(x0, axis) if x0 is not None and x0.ndim >= 1 and x0.shape[0] >= 2 else None
    report = audit(X) if X is not None else None
    v = _Verifier(module, batch, target, loss_fn, rng, th, X, axis)
    raw = judge(before, th)
    findings = diagnosis_findings(raw, report, v, before, verify=verify)
    return Diagnosis(findings, before, report, th)
