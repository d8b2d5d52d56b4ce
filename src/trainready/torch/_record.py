"""Per-layer signal records of any ``nn.Module`` through hooks (judged in ``_diagnose``).

Recording is the only PyTorch-specific part. A forward hook on every Linear/Conv call keeps the
statistics of its output ``z`` and puts a tensor hook on it for ``dLoss/dz``; a
``TorchFunctionMode`` sees the first activation applied after that layer (a module such as
``nn.ReLU`` or a functional ``F.relu`` alike) and keeps the statistics of its input and output.
The records are :class:`trainready.signal.LayerRecord` objects, so the findings (vanishing,
exploding, dead units, saturation, symmetry) and the verification of fixes are the NumPy
doctor's own code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from ..init import RngLike, as_generator
from ..signal import LayerRecord, SignalRecord
from ..signal._record import SAMPLE_SIZE, SATURATION_Z
from ._init import LAYER_TYPES, bias_of, run_module, weight_of
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
_DEAD = ("relu", "relu6")
_SATURATING = ("tanh", "sigmoid")


def _moments(x: torch.Tensor) -> tuple[float, float, float]:
    x = x.detach().to(torch.float64)
    mean = float(x.mean())
    ms = float((x * x).mean())
    return mean, math.sqrt(max(ms - mean * mean, 0.0)), math.sqrt(ms)


def _units_first(x: torch.Tensor, unit_axis: int) -> torch.Tensor:
    """``(units, everything else)`` view of a layer's output."""
    return x.detach().movedim(unit_axis, 0).reshape(x.shape[unit_axis], -1)


def _sample(x: torch.Tensor) -> np.ndarray:
    flat = x.detach().reshape(-1)
    step = max(1, math.ceil(flat.numel() / SAMPLE_SIZE))
    return flat[::step].to(torch.float64).cpu().numpy().copy()


@dataclass
class _Call:
    """One call of a Linear/Conv layer, filled in during forward and backward."""

    name: str
    layer: torch.nn.Module
    unit_axis: int
    stats: dict[str, Any] = field(default_factory=dict)
    activation: str = "linear"
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
        call = _Call(base if k == 1 else f"{base}#{k}", m, 1 if is_conv(m) else z.ndim - 1)
        with torch.no_grad():
            zm, zs, zr = _moments(z)
            call.stats.update(z_mean=zm, z_std=zs, z_rms=zr, a_mean=zm, a_std=zs, a_rms=zr)
            call.stats["sample"] = _sample(z)
        call.stats.update(dead_fraction=0.0, saturated_fraction=0.0)
        call.stats["nonfinite"] = not math.isfinite(zr)
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
        sat = 0.0
        if name in _SATURATING and isinstance(x, torch.Tensor):
            with torch.no_grad():
                sat = float((x.detach().abs() > SATURATION_Z).to(torch.float64).mean())
        out = func(*args, **kwargs)
        self.pending = None
        if isinstance(out, torch.Tensor):
            with torch.no_grad():
                am, as_, ar = _moments(out)
                call.stats.update(a_mean=am, a_std=as_, a_rms=ar, sample=_sample(out))
                call.stats["saturated_fraction"] = sat
                if name in _DEAD:
                    units = _units_first(out, call.unit_axis)
                    alive = (units > 0).any(dim=1)
                    call.stats["dead_fraction"] = float((~alive).to(torch.float64).mean())
                call.stats["nonfinite"] = call.stats["nonfinite"] or not math.isfinite(ar)
            call.activation = name
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


def _duplicates(layer: torch.nn.Module, delta: torch.Tensor | None, unit_axis: int) -> float:
    """Fraction of units that duplicate another: same incoming weights and bias, same dL/dz."""
    w = weight_of(layer)
    W = w.detach().to(torch.float64).reshape(w.shape[0], -1).cpu().numpy()
    n = W.shape[0]
    if n < 2 or len(np.unique(W, axis=0)) == n:
        return 0.0
    cols = [W]
    bias = bias_of(layer)
    if bias is not None:
        cols.append(bias.detach().to(torch.float64).cpu().numpy()[:, None])
    if delta is None or delta.shape[unit_axis] != n:  # no gradient reached this layer
        return 0.0
    cols.append(_units_first(delta, unit_axis).to(torch.float64).cpu().numpy())
    distinct: int = len(np.unique(np.concatenate(cols, axis=1), axis=0))
    return float((n - distinct) / n)


def record(
    module: torch.nn.Module,
    batch: Any,
    target: Any = None,
    *,
    loss_fn: Callable[[Any, Any], torch.Tensor] | None = None,
    rng: RngLike = 0,
) -> SignalRecord:
    """Per-layer statistics of ``module`` on ``batch``, forward and backward, in float64.

    Every Linear/Conv layer call is one :class:`trainready.signal.LayerRecord` (in call order,
    named by module path; a second call of the same layer gets ``"#2"``). The module runs in
    its current train/eval mode on float64 copies of its parameters and buffers (restored
    bit-exactly afterwards, BatchNorm running statistics included); ``.grad`` is not touched.

    Args:
        module: any ``nn.Module`` (Sequential MLP, CNN, residual blocks, transformer blocks).
        batch: the input: a tensor, a tuple (positional inputs) or a dict (keyword inputs).
        target: with ``loss_fn``, the backward pass starts from ``loss_fn(module(batch), target)``;
            without, from a seeded standard normal probe gradient ``G`` at the output
            (``loss = mean over rows of <G_i, out_i>``), as in :func:`trainready.signal.record`.
        loss_fn: ``loss_fn(output, target) -> scalar tensor`` (e.g. ``nn.CrossEntropyLoss()``).
        rng: seed of the probe gradient.

    Returns:
        A :class:`trainready.signal.SignalRecord`.
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    if (target is None) != (loss_fn is None):
        raise ValueError(
            "target and loss_fn go together: pass both (the backward starts from "
            "loss_fn(module(batch), target)) or neither (a random probe gradient)"
        )
    layers = {
        id(m): n or "(the model)" for n, m in module.named_modules() if isinstance(m, LAYER_TYPES)
    }
    if not layers:
        raise ValueError(f"module: {type(module).__name__} has no Linear or Conv layer to record")
    gen = as_generator(rng)
    params = {
        f"{n}.{p}": getattr(m, p)
        for n, m in module.named_modules()
        if isinstance(m, LAYER_TYPES)
        for p in ("weight", "bias")
        if getattr(m, p, None) is not None
    }
    rec = _Recorder(layers)
    handles = []
    with Float64Session(params, module) as session:
        try:
            for m in module.modules():
                if isinstance(m, LAYER_TYPES):
                    handles.append(m.register_forward_hook(rec.layer_hook))
                elif isinstance(m, torch.nn.MultiheadAttention) or "Attention" in type(m).__name__:
                    handles.append(m.register_forward_pre_hook(rec.attention_hook))
            inputs = _leaf_inputs(batch)
            with torch.enable_grad(), rec:
                out = run_module(module, inputs)
            for h in handles:
                h.remove()
            handles.clear()
            if not rec.calls:
                raise ValueError(
                    "module: the forward pass called none of its Linear/Conv layers as modules"
                )
            if loss_fn is not None:
                t = (
                    target.to(torch.float64)
                    if isinstance(target, torch.Tensor) and target.is_floating_point()
                    else target
                )
                loss = loss_fn(out, t)
                source, scale = "loss", 1.0
            else:
                if not isinstance(out, torch.Tensor) or not out.is_floating_point():
                    raise TypeError(
                        f"module returned {type(out).__name__}, not a floating tensor: pass "
                        "target and loss_fn to start the backward pass from a loss"
                    )
                # as trainready.signal: loss = mean_i <G_i, out_i>, G ~ N(0, 1)
                G = torch.from_numpy(gen.standard_normal(tuple(out.shape))).to(out.device)
                loss = (G * out).sum() / (out.shape[0] if out.ndim else 1)
                source, scale = "probe", 1.0
            wrt = list(session.checked.values())
            names = list(session.checked)
            x_leaf = first_float(inputs)
            extra = [x_leaf] if x_leaf is not None and x_leaf.requires_grad else []
            grads = torch.autograd.grad(loss, wrt + extra, allow_unused=True)
            gmap = dict(zip(names, grads[: len(names)], strict=True))
            records = [
                _layer_record(i + 1, c, gmap, scale, rec, len(rec.calls))
                for i, c in enumerate(rec.calls)
            ]
            x0 = first_float(batch)
            if x0 is not None:
                _, x_std, x_rms = _moments(x0)
            else:
                x_std = x_rms = math.nan
            n_samples = int(out.shape[0]) if isinstance(out, torch.Tensor) and out.ndim else 1
        finally:
            for h in handles:
                h.remove()
    return SignalRecord(tuple(records), n_samples, x_std, x_rms, source)


def _layer_record(
    index: int, c: _Call, gmap: dict[str, Any], scale: float, rec: _Recorder, depth: int
) -> LayerRecord:
    base = c.name.split("#")[0]
    W = weight_of(c.layer).detach()
    gW = gmap.get(f"{base}.weight")
    gb = gmap.get(f"{base}.bias")
    wn = float(torch.linalg.vector_norm(W.to(torch.float64)))
    gwn = float(torch.linalg.vector_norm(gW)) * scale if gW is not None else 0.0
    gbn = float(torch.linalg.vector_norm(gb)) * scale if gb is not None else 0.0
    dn = float(torch.linalg.vector_norm(c.delta.to(torch.float64))) if c.delta is not None else 0.0
    return LayerRecord.from_norms(
        index=index,
        name=c.name,
        activation=c.activation,
        fan_in=int(math.prod(W.shape[1:])),
        fan_out=int(W.shape[0]),
        n_weights=int(W.numel()),
        stats=c.stats,
        duplicate_fraction=_duplicates(c.layer, c.delta, c.unit_axis) if index < depth else 0.0,
        weight_norm=wn,
        weight_grad_norm=gwn,
        bias_grad_norm=gbn,
        delta_norm=dn,
        delta_size=int(c.delta.numel()) if c.delta is not None else 0,
    )
