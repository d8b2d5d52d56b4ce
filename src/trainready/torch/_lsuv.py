"""LSUV for PyTorch modules: forward hooks give :func:`trainready.init.run_lsuv` its layer-wise
view of any ``nn.Module`` (the algorithm itself is written once, in :mod:`trainready.init`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from .._rng import RngLike
from .._stats import robust_std
from ..init import LsuvRow, LsuvTable, run_lsuv
from ._init import as_batch, bias_of, layers_with_activations, run_module, weight_of

__all__ = ["LsuvRow", "LsuvTable", "ModuleLayers", "lsuv_"]


class _Stop(Exception):
    """Raised by a hook to end a forward pass once the layer of interest has run."""


class ModuleLayers:
    """The Linear/Conv layers of a module on a batch: :class:`trainready.init.LayerwiseModel`.

    Runs in eval mode under ``no_grad`` (no dropout; BatchNorm uses its running statistics);
    ``commit()`` restores the training flags and every buffer, so only the Linear/Conv weights
    and biases change.
    """

    def __init__(self, module: torch.nn.Module, batch: Any) -> None:
        self.module, self.batch = module, batch
        self.layers = {n: m for n, m, *_ in layers_with_activations(module)}
        if not self.layers:
            raise ValueError(f"module: {type(module).__name__} has no Linear or Conv layer")
        self._modes = [(m, m.training) for m in module.modules()]
        self._buffers = [(b, b.detach().clone()) for b in module.buffers()]
        self._weights = [
            (t, t.detach().clone())
            for m in self.layers.values()
            for t in (weight_of(m), bias_of(m))
            if t is not None
        ]
        self._grad = torch.no_grad()
        self._grad.__enter__()
        module.eval()

    def layer_names(self) -> list[str]:
        return list(self.layers)

    def call_order(self) -> list[str]:
        names = {id(m): n for n, m in self.layers.items()}
        order: list[str] = []

        def hook(m: torch.nn.Module, args: Any, out: Any) -> None:
            if names[id(m)] not in order:
                order.append(names[id(m)])

        handles = [m.register_forward_hook(hook) for m in self.layers.values()]
        try:
            run_module(self.module, self.batch)
        finally:
            for h in handles:
                h.remove()
        return order

    def weight_shape(self, name: str) -> tuple[int, ...]:
        return tuple(int(s) for s in weight_of(self.layers[name]).shape)

    def set_weight(self, name: str, W: NDArray[np.float64]) -> None:
        weight_of(self.layers[name]).copy_(torch.from_numpy(np.ascontiguousarray(W)))

    def zero_bias(self, name: str) -> None:
        b = bias_of(self.layers[name])
        if b is not None:
            b.zero_()

    def scale_weight(self, name: str, factor: float) -> None:
        weight_of(self.layers[name]).mul_(factor)

    def output_std(self, name: str) -> float:
        seen: list[float] = []

        def hook(m: torch.nn.Module, args: Any, out: Any) -> None:
            seen.append(robust_std(out.detach().to(torch.float64).cpu().numpy()))
            raise _Stop

        h = self.layers[name].register_forward_hook(hook)
        try:
            run_module(self.module, self.batch)
        except _Stop:
            pass
        finally:
            h.remove()
        return seen[0]

    def commit(self, ok: bool) -> None:
        if not ok:
            for t, saved in self._weights:
                t.copy_(saved)
        for m, flag in self._modes:
            m.training = flag
        for b, saved in self._buffers:
            if not torch.equal(b, saved):
                b.copy_(saved)
        self._grad.__exit__(None, None, None)


def lsuv_(
    module: torch.nn.Module,
    X: Any,
    *,
    tol: float = 0.1,
    max_iter: int = 10,
    rng: RngLike = None,
    orthonormal: bool = True,
) -> LsuvTable:
    """Layer-sequential unit-variance initialization (Mishkin & Matas 2016) in place.

    :func:`trainready.init.lsuv_` for any ``nn.Module`` (the same algorithm,
    :func:`trainready.init.run_lsuv`, and the same arguments): orthonormal Linear/Conv weights
    and zero biases, then, layer by layer in the order the forward pass calls them, the weight
    divided by the std of its output on ``X`` until ``|Var - 1| < tol``. The passes run under
    ``no_grad`` in eval mode (no dropout; BatchNorm uses its running statistics); training
    flags and buffers are restored, so only the Linear/Conv weights and biases change (nothing
    on an error). ``X`` is a tensor (a NumPy array is converted to the module's dtype), a tuple
    of positional inputs or a dict of keyword inputs.

    Returns:
        An :class:`trainready.init.LsuvTable` (one row per layer the forward pass called).

    Example:
        >>> import torch, trainready as tr
        >>> nn = torch.nn
        >>> model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 1))
        >>> table = tr.torch.lsuv_(model, torch.randn(256, 16), rng=0)
        >>> table.ok and all(abs(r.variance_after - 1) < 0.1 for r in table)
        True
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    view = ModuleLayers(module, as_batch(X, module))
    return run_lsuv(view, tol=tol, max_iter=max_iter, rng=rng, orthonormal=orthonormal)
