"""LSUV for PyTorch modules (Mishkin & Matas 2016), with trainready.init's orthonormal start."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from .. import init as _init
from ..init import RngLike, as_generator
from ._init import bias_of, layers_with_activations, run_module, weight_of

__all__ = ["LsuvRow", "LsuvTable", "lsuv_"]


@dataclass(frozen=True)
class LsuvRow:
    """What :func:`lsuv_` did to one layer (in forward order).

    Attributes:
        name: the module path.
        iterations: rescalings made (0 when the variance was already within ``tol``).
        variance_before: variance of the layer's output before rescaling (after the
            orthonormal start when ``orthonormal=True``).
        variance_after: variance of the layer's output at the end.
        scale: the factor the weights were multiplied by in total.
    """

    name: str
    iterations: int
    variance_before: float
    variance_after: float
    scale: float


@dataclass(frozen=True)
class LsuvTable:
    """The rows :func:`lsuv_` returns; ``skipped`` names layers the forward pass never called."""

    rows: tuple[LsuvRow, ...]
    skipped: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[LsuvRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> LsuvRow:
        return self.rows[i]


class _Stop(Exception):
    """Raised by a hook to end a forward pass once the layer of interest has run."""


def _call_order(module: torch.nn.Module, batch: Any) -> list[str]:
    names = {id(m): n for n, m, *_ in layers_with_activations(module)}
    order: list[str] = []
    handles = []

    def hook(m: torch.nn.Module, args: Any, out: Any) -> None:
        n = names[id(m)]
        if n not in order:
            order.append(n)

    for _, m, *_ in layers_with_activations(module):
        handles.append(m.register_forward_hook(hook))
    try:
        run_module(module, batch)
    finally:
        for h in handles:
            h.remove()
    return order


def _output_variance(module: torch.nn.Module, layer: torch.nn.Module, batch: Any) -> float:
    seen: list[float] = []

    def hook(m: torch.nn.Module, args: Any, out: Any) -> None:
        seen.append(float(out.detach().to(torch.float64).var(unbiased=False)))
        raise _Stop

    h = layer.register_forward_hook(hook)
    try:
        run_module(module, batch)
    except _Stop:
        pass
    finally:
        h.remove()
    return seen[0]


def lsuv_(
    module: torch.nn.Module,
    batch: Any,
    *,
    tol: float = 0.1,
    max_iter: int = 10,
    rng: RngLike = None,
    orthonormal: bool = True,
) -> LsuvTable:
    """Layer-sequential unit-variance initialization (Mishkin & Matas 2016) in place.

    1. Every Linear/Conv weight becomes an orthonormal matrix (:func:`trainready.init.orthogonal`,
       gain 1), every bias 0 (skipped with ``orthonormal=False``: the current weights are
       rescaled).
    2. Layer by layer in the order the forward pass calls them: run ``batch`` forward (stopped
       right after that layer), divide the weight by the square root of the variance of the
       layer's output, until ``|Var - 1| < tol`` or ``max_iter`` rescalings.

    The passes run under ``torch.no_grad()`` in eval mode (no dropout; BatchNorm uses its running
    statistics); training flags and every buffer are restored afterwards, so only the Linear and
    Conv weights and biases change.

    Args:
        module: any ``nn.Module``.
        batch: a representative input batch: a tensor (``module(batch)``), a tuple (positional
            inputs) or a dict (keyword inputs).
        tol: stop when ``|Var - 1| < tol``.
        max_iter: at most this many rescalings per layer.
        rng: for the orthonormal matrices.
        orthonormal: start from orthonormal weights.

    Returns:
        An :class:`LsuvTable` (one :class:`LsuvRow` per layer the forward pass called).

    Example:
        >>> import torch, trainready as tr
        >>> nn = torch.nn
        >>> model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 1))
        >>> table = tr.torch.lsuv_(model, torch.randn(256, 16), rng=0)
        >>> all(abs(r.variance_after - 1) < 0.1 for r in table)
        True
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    if not (isinstance(tol, int | float) and not isinstance(tol, bool) and 0 < tol < math.inf):
        raise ValueError(f"tol: expected a positive number such as 0.1, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter: expected an int >= 1 such as 10, got {max_iter!r}")
    gen = as_generator(rng)
    layers = {n: m for n, m, *_ in layers_with_activations(module)}
    if not layers:
        raise ValueError(f"module: {type(module).__name__} has no Linear or Conv layer")
    modes = [(m, m.training) for m in module.modules()]
    buffers = [(b, b.detach().clone()) for b in module.buffers()]
    rows = []
    try:
        module.eval()
        with torch.no_grad():
            if orthonormal:
                for m in layers.values():
                    w, b = weight_of(m), bias_of(m)
                    w.copy_(torch.from_numpy(_init.orthogonal(tuple(w.shape), rng=gen)))
                    if b is not None:
                        b.zero_()
            order = _call_order(module, batch)
            for name in order:
                layer = layers[name]
                var0 = var = _output_variance(module, layer, batch)
                total, it = 1.0, 0
                while it < max_iter and abs(var - 1.0) >= tol and 0 < var < math.inf:
                    factor = 1.0 / math.sqrt(var)
                    weight_of(layer).mul_(factor)
                    total *= factor
                    it += 1
                    var = _output_variance(module, layer, batch)
                rows.append(LsuvRow(name, it, var0, var, total))
    finally:
        for m, flag in modes:
            m.training = flag
        with torch.no_grad():
            for b, saved in buffers:
                if not torch.equal(b, saved):
                    b.copy_(saved)
    skipped = tuple(n for n in layers if n not in {r.name for r in rows})
    return LsuvTable(tuple(rows), skipped)
