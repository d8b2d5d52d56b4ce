"""Per-layer signal records of any ``nn.Module`` through hooks (judged in ``_diagnose``).

Recording is the only PyTorch-specific part. A forward hook on every Linear/Conv call keeps the
statistics of its output ``z`` and puts a tensor hook on it for ``dLoss/dz``; a
``TorchFunctionMode`` sees the first activation applied after that layer (a module such as
``nn.ReLU`` or a functional ``F.relu`` alike) and keeps the statistics of its input and output.
Every statistic is computed by :class:`trainready.signal.LayerStats` on NumPy views of the
tensors (the same routine the reference network's recorder uses), so records agree field by
field with the NumPy doctor's, and the findings and fix verification are its code.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch.overrides import TorchFunctionMode

from .._rng import RngLike, as_generator
from .._stats import moments
from .._validation import invalid
from ..signal import LayerStats, SignalRecord, probe_gradient
from ._init import LAYER_TYPES, as_batch, bias_of, run_module, weight_of
from ._loss import LossLike, resolve_loss
from ._session import Float64Session

__all__ = ["first_float", "is_conv", "record"]

_ACT_FUNCS: dict[Any, str] = {}
for _name, _fns in {
    "relu": ("relu", "relu_"),
    "relu6": ("relu6",),
    "leaky_relu": ("leaky_relu", "leaky_relu_"),
    "tanh": ("tanh", "tanh_", "hardtanh", "hardtanh_", "softsign"),
    "sigmoid": ("sigmoid", "sigmoid_", "hardsigmoid", "logsigmoid"),
    "gelu": ("gelu",),
    "silu": ("silu",),
    "elu": ("elu", "elu_"),
    "selu": ("selu", "selu_"),
    "celu": ("celu", "celu_"),
    "mish": ("mish",),
    "softplus": ("softplus",),
    "hardswish": ("hardswish",),
    "softmax": ("softmax", "log_softmax"),
}.items():
    for _fn in _fns:
        for _owner in (F, torch, torch.Tensor):
            _obj = getattr(_owner, _fn, None)
            if _obj is not None:
                _ACT_FUNCS[_obj] = _name


def _np(x: torch.Tensor) -> NDArray[Any]:
    """A float64 NumPy view (a copy off the CPU or in another dtype) of a tensor."""
    return np.asarray(x.detach().to(torch.float64).cpu().numpy())


@dataclass
class _Call:
    """One call of a Linear/Conv layer, filled in during forward and backward."""

    stats: LayerStats
    base: str
    unit_axis: int
    delta: torch.Tensor | None = None


class _Recorder(TorchFunctionMode):
    def __init__(self, names: dict[int, str]) -> None:
        super().__init__()
        self.names = names
        self.calls: list[_Call] = []
        self.pending: _Call | None = None
        self.count: dict[str, int] = {}

    # -- forward hook on each layer
    def layer_hook(self, m: torch.nn.Module, args: Any, z: Any) -> None:
        if not isinstance(z, torch.Tensor):
            return
        base = self.names[id(m)]
        k = self.count.get(base, 0) + 1
        self.count[base] = k
        bias = bias_of(m)
        unit_axis = 1 if is_conv(m) else z.ndim - 1
        stats = LayerStats(
            index=len(self.calls) + 1,
            name=base if k == 1 else f"{base}#{k}",
            W=_np(weight_of(m)),
            b=None if bias is None else _np(bias),
            hidden=True,
            unit_axis=unit_axis,
        )
        with torch.no_grad():
            stats.dense(_np(z))
        call = _Call(stats, base, unit_axis)
        if z.requires_grad:
            z.register_hook(lambda g, c=call: _keep_delta(c, g))  # type: ignore[no-untyped-call]
        self.calls.append(call)
        self.pending = call

    def attention_hook(self, m: torch.nn.Module, args: Any) -> None:
        self.pending = None  # the softmax inside attention follows no recorded layer

    # -- functional activations (modules call them too)
    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        try:
            name = _ACT_FUNCS.get(func)
        except TypeError:  # unhashable callables
            name = None
        call = self.pending
        if name is None or call is None:
            return func(*args, **kwargs)
        x = args[0] if args else kwargs.get("input")
        if isinstance(x, torch.Tensor):
            with torch.no_grad():
                call.stats.activation_input(_np(x), name)  # before an in-place activation
        out = func(*args, **kwargs)
        self.pending = None
        if isinstance(out, torch.Tensor):
            with torch.no_grad():
                call.stats.activation_output(_np(out), name)
        return out


def _keep_delta(call: _Call, g: torch.Tensor) -> None:
    call.delta = g.detach() if call.delta is None else call.delta + g.detach()


def is_conv(m: torch.nn.Module) -> bool:
    return isinstance(m, torch.nn.Conv1d | torch.nn.Conv2d | torch.nn.Conv3d)


def _leaf_inputs(batch: Any) -> Any:
    if isinstance(batch, torch.Tensor):
        if batch.is_floating_point():
            return batch.detach().to(torch.float64).requires_grad_(True)
        return batch
    if isinstance(batch, tuple):
        return tuple(_leaf_inputs(b) for b in batch)
    if isinstance(batch, dict):
        return {k: _leaf_inputs(v) for k, v in batch.items()}
    return batch


def first_float(batch: Any) -> torch.Tensor | None:
    """The first floating tensor of a batch (a tensor, tuple or dict), or None."""
    if isinstance(batch, torch.Tensor):
        return batch if batch.is_floating_point() else None
    values = (
        batch.values() if isinstance(batch, dict) else batch if isinstance(batch, tuple) else ()
    )
    for v in values:
        found = first_float(v)
        if found is not None:
            return found
    return None


def _checked_module(module: Any) -> dict[int, str]:
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    layers = {
        id(m): n or "(the model)" for n, m in module.named_modules() if isinstance(m, LAYER_TYPES)
    }
    if not layers:
        raise ValueError(f"module: {type(module).__name__} has no Linear or Conv layer to record")
    for n, p in module.named_parameters():
        if p.is_complex():
            raise invalid(
                f"module parameter {n!r}",
                "a real floating tensor",
                f"dtype {p.dtype}",
                "the signal statistics need real weights (complex values would lose their "
                "imaginary part)",
                kind=TypeError,
            )
    return layers


def deprecated_aliases(y: Any, loss: Any, target: Any, loss_fn: Any) -> tuple[Any, Any]:
    """``target=``/``loss_fn=`` (the old names) as ``y``/``loss``, with a DeprecationWarning;
    NumPy targets become tensors."""
    if target is not None:
        warnings.warn(
            "target= is deprecated: pass the targets as y (the third argument)",
            DeprecationWarning,
            stacklevel=3,
        )
        y = target if y is None else y
    if loss_fn is not None:
        warnings.warn("loss_fn= is deprecated: pass loss=", DeprecationWarning, stacklevel=3)
        loss = loss_fn if loss is None else loss
    if isinstance(y, np.ndarray):
        y = torch.from_numpy(np.ascontiguousarray(y))
    return y, loss


def record(
    model: torch.nn.Module,
    X: Any,
    y: Any = None,
    *,
    loss: LossLike = None,
    rng: RngLike = 0,
    target: Any = None,
    loss_fn: Callable[[Any, Any], torch.Tensor] | None = None,
) -> SignalRecord:
    """Per-layer statistics of ``model`` on the batch ``X``, forward and backward, in float64.

    Every Linear/Conv layer call is one :class:`trainready.signal.LayerRecord` (in call order,
    named by module path; a second call of the same layer gets ``"#2"``). The module runs in
    its current train/eval mode on float64 copies of its parameters and buffers (restored
    bit-exactly afterwards, BatchNorm running statistics included); ``.grad`` is not touched.
    Same arguments as :func:`trainready.signal.record`.

    Args:
        model: any ``nn.Module`` (Sequential MLP, CNN, residual blocks, transformer blocks).
        X: the input: a tensor (or NumPy array), a tuple (positional inputs) or a dict (keyword
            inputs); at least 2 rows.
        y: targets: the backward pass starts from ``loss(model(X), y)``; None: from a seeded
            standard normal probe gradient ``G`` at the output (``loss = mean over rows of
            <G_i, out_i>``), as in :func:`trainready.signal.record`.
        loss: ``loss(output, y) -> scalar tensor`` (e.g. ``nn.CrossEntropyLoss()``), one of
            ``"cross_entropy"``, ``"mse"``, ``"bce"``, or None: picked from ``y``
            (:func:`pick_loss`).
        rng: seed of the probe gradient.
        target, loss_fn: deprecated names of ``y`` and ``loss``.

    Returns:
        A :class:`trainready.signal.SignalRecord`.
    """
    y, loss = deprecated_aliases(y, loss, target, loss_fn)
    layers = _checked_module(model)
    batch = as_batch(X, model, min_rows=2)
    gen = as_generator(rng)
    params = {
        f"{n}.{p}": getattr(m, p)
        for n, m in model.named_modules()
        if isinstance(m, LAYER_TYPES)
        for p in ("weight", "bias")
        if getattr(m, p, None) is not None
    }
    rec = _Recorder(layers)
    handles = []
    with Float64Session(params, model) as session:
        try:
            for m in model.modules():
                if isinstance(m, LAYER_TYPES):
                    handles.append(m.register_forward_hook(rec.layer_hook))
                elif isinstance(m, torch.nn.MultiheadAttention) or "Attention" in type(m).__name__:
                    handles.append(m.register_forward_pre_hook(rec.attention_hook))
            inputs = _leaf_inputs(batch)
            with torch.enable_grad(), rec:
                out = run_module(model, inputs)
            for h in handles:
                h.remove()
            handles.clear()
            if not rec.calls:
                raise ValueError(
                    "module: the forward pass called none of its Linear/Conv layers as modules"
                )
            if y is not None:
                fn = resolve_loss(loss, out, y)
                t = (
                    y.to(torch.float64)
                    if isinstance(y, torch.Tensor) and y.is_floating_point()
                    else y
                )
                value, source = fn(out, t), "loss"
            else:
                if not isinstance(out, torch.Tensor) or not out.is_floating_point():
                    raise TypeError(
                        f"module returned {type(out).__name__}, not a floating tensor: pass "
                        "y (and loss) to start the backward pass from a loss"
                    )
                G = torch.from_numpy(probe_gradient(tuple(out.shape), gen)).to(out.device)
                value, source = (G * out).sum(), "probe"
            wrt = list(session.checked.values())
            names = list(session.checked)
            x_leaf = first_float(inputs)
            extra = [x_leaf] if x_leaf is not None and x_leaf.requires_grad else []
            grads = torch.autograd.grad(value, wrt + extra, allow_unused=True)
            gmap = dict(zip(names, grads[: len(names)], strict=True))
            rec.calls[-1].stats.hidden = False
            records = []
            for c in rec.calls:
                c.stats.delta(None if c.delta is None else _np(c.delta))
                gW, gb = gmap.get(f"{c.base}.weight"), gmap.get(f"{c.base}.bias")
                records.append(
                    c.stats.finish(
                        weight_grad_norm=float(torch.linalg.vector_norm(gW))
                        if gW is not None
                        else 0.0,
                        bias_grad_norm=float(torch.linalg.vector_norm(gb))
                        if gb is not None
                        else 0.0,
                    )
                )
            x0 = first_float(batch)
            x_std, x_rms = (moments(_np(x0))[1:]) if x0 is not None else (math.nan, math.nan)
            n_samples = int(out.shape[0]) if isinstance(out, torch.Tensor) and out.ndim else 1
        finally:
            for h in handles:
                h.remove()
    return SignalRecord(
        layers=tuple(records),
        n_samples=n_samples,
        input_std=x_std,
        input_rms=x_rms,
        gradient_source=source,
    )
