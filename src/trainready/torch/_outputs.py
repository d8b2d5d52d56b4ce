"""A function's outputs as one scalar for the check: ``sum_k <R_k, out_k>`` (all outputs
together, or one alone), and the check of every output's backward path."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..gradcheck import GradcheckReport
from ._session import Float64Session

__all__ = ["WeightedOutputs", "check_each_output", "float64_grads"]

CheckFn = Callable[..., GradcheckReport]


class WeightedOutputs:
    """``sum_k <R_k, out_k>`` over the differentiable floating outputs of ``fn(*inputs)``.

    The weights ``R_k`` are Gaussian, drawn on the first call (made with autograd on), which
    also decides which outputs count: those that require grad (as torch's gradcheck, outputs
    such as batch norm's saved mean are not differentiable and are skipped), and of those the
    elements that are finite at the given inputs (NaN outputs compare as NaN == NaN in torch's
    check; here they are left out). ``only`` restricts the sum to one output.
    """

    def __init__(
        self, fn: Callable[..., Any], inputs: tuple[Any, ...], gen: np.random.Generator
    ) -> None:
        self.fn, self.inputs, self.gen = fn, inputs, gen
        self.weights: list[torch.Tensor | None] = []
        self.masks: list[torch.Tensor | None] = []
        self.only: int | None = None
        self._zero = torch.zeros((), dtype=torch.float64)
        self.skipped = 0
        self.nonfinite = 0

    @property
    def count(self) -> int:
        """Number of differentiable outputs."""
        return sum(w is not None for w in self.weights)

    def __call__(self) -> torch.Tensor:
        outs = _floating_outputs(self.fn(*self.inputs))
        if not self.weights:
            self._draw(outs)
        if len(outs) != len(self.weights) or any(
            w is not None and o.shape != w.shape for o, w in zip(outs, self.weights, strict=False)
        ):
            raise ValueError(
                "fn returned outputs of different shapes for the same inputs; a checked function "
                "must keep its output shapes"
            )
        total: torch.Tensor | None = None
        for k, (o, w, m) in enumerate(zip(outs, self.weights, self.masks, strict=True)):
            if w is None or (self.only is not None and k != self.only):
                continue
            value = o.to(torch.float64)
            if m is not None:
                value = torch.where(m, value, self._zero)
            term = torch.dot(w.reshape(-1), value.reshape(-1))  # one kernel: sum(w * value)
            total = term if total is None else total + term
        if total is None:  # nothing differentiable: a constant zero that still has a graph
            total = sum((o.to(torch.float64).sum() * 0.0 for o in outs), torch.zeros(()))
        return total

    def _draw(self, outs: list[torch.Tensor]) -> None:
        differentiable = [o.requires_grad for o in outs]
        if torch.is_grad_enabled() and any(differentiable):
            self.skipped = differentiable.count(False)
        else:
            differentiable = [True] * len(outs)
        for o, d in zip(outs, differentiable, strict=True):
            if not d:
                self.weights.append(None)
                self.masks.append(None)
                continue
            w = torch.from_numpy(self.gen.standard_normal(tuple(o.shape))).to(o.device)
            finite = torch.isfinite(o.detach())
            bad = int(finite.numel() - finite.sum())
            self.nonfinite += bad
            self.weights.append(w)
            self.masks.append(finite if bad else None)

    def notes(self) -> list[str]:
        out = []
        if self.skipped:
            out.append(
                f"{self.skipped} output(s) of fn do not require grad (e.g. saved statistics): "
                "not checked, as in torch.autograd.gradcheck"
            )
        if self.nonfinite:
            out.append(
                f"{self.nonfinite} output element(s) are NaN or inf at the given inputs: left "
                "out of the check"
            )
        return out


def check_each_output(
    weighted: WeightedOutputs,
    named: dict[str, torch.Tensor],
    extra: Sequence[torch.Tensor],
    options: dict[str, Any],
    together: GradcheckReport,
    check: CheckFn,
) -> GradcheckReport:
    """Every output's backward path: one backward with only output k's gradient (the others
    undefined, as torch's one-hot checks do). By linearity their sum must equal the gradient of
    the whole sum, which the main check verified; an output whose path disagrees is checked on
    its own against numeric differences, and named."""
    indices = [k for k, w in enumerate(weighted.weights) if w is not None]
    with Float64Session(named, None, extra) as session:
        tensors = list(session.checked.values())
        with torch.enable_grad():
            whole = float64_grads(
                torch.autograd.grad(weighted(), tensors, allow_unused=True), tensors
            )
            parts = []
            for k in indices:
                weighted.only = k
                try:
                    out = weighted()
                finally:
                    weighted.only = None
                parts.append(
                    float64_grads(torch.autograd.grad(out, tensors, allow_unused=True), tensors)
                )
    total = [sum(p[i] for p in parts) for i in range(len(tensors))]
    agree = all(
        np.allclose(t, w, rtol=1e-10, atol=1e-12 * max(1.0, float(np.max(np.abs(w), initial=0))))
        for t, w in zip(total, whole, strict=True)
    )
    if agree:
        return together
    for k in indices:
        weighted.only = k
        try:
            alone = check(weighted, named, None, extra, options, "fn")
        finally:
            weighted.only = None
        if not alone.passed:
            note = (
                f"output {k} alone (the other outputs given no gradient) is wrong: the backward "
                "takes a different path when some outputs have no gradient, and that path is "
                f"wrong; the check of all outputs together said: {together.summary()}"
            )
            return dataclasses.replace(alone, notes=(note, *alone.notes))
    return together


def _floating_outputs(out: Any) -> list[torch.Tensor]:
    items = list(out) if isinstance(out, tuple | list) else [out]
    tensors = [o for o in items if isinstance(o, torch.Tensor) and o.is_floating_point()]
    if not tensors:
        raise TypeError(
            "fn must return a floating-point tensor or a tuple of tensors; got "
            f"{type(out).__name__}"
        )
    return tensors


def float64_grads(
    grads: Sequence[torch.Tensor | None], tensors: list[torch.Tensor]
) -> list[np.ndarray]:
    """Autograd's gradients as float64 arrays: None and efficient zero tensors become zeros."""
    out = []
    for g, t in zip(grads, tensors, strict=True):
        if g is None or g._is_zerotensor():
            out.append(np.zeros(tuple(t.shape)))
        else:
            out.append(g.detach().to(torch.float64).cpu().numpy())
    return out
