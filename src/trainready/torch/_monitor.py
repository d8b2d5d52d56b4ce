"""A :class:`trainready.GradientMonitor` for PyTorch training loops (checks at chosen steps)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from ..gradcheck import GradcheckReport, GradientMonitor
from ._gradcheck import gradcheck

__all__ = ["gradient_monitor"]


def gradient_monitor(
    loss_fn: Callable[[], Any], module: torch.nn.Module, at: Iterable[int], **options: Any
) -> GradientMonitor:
    """Monitor a PyTorch module's gradients at chosen steps: ``loss_fn()`` computes the loss.

    Call ``monitor(step)`` in the loop (and ``monitor.start()`` before it for step 0). For each
    check the module is put in eval mode (dropout off) and torch's random states (CPU and CUDA)
    are saved and restored, so training sees exactly the numbers it would have seen without the
    check. ``options`` go to :func:`trainready.torch.gradcheck` (default ``mode="probe"``).

    Example:
        >>> import torch, trainready as tr
        >>> model = torch.nn.Linear(3, 1)
        >>> X = torch.randn(8, 3)
        >>> mon = tr.torch.gradient_monitor(lambda: model(X).pow(2).mean(), model, at=[0])
        >>> _ = mon.start(); mon(0)
        False
        >>> [(step, rep.verdict) for step, rep in mon.reports], mon.summary().split(":")[0]
        ([(0, 'ok')], 'step 0')
    """
    options.setdefault("mode", "probe")

    def check() -> GradcheckReport:
        was_training = module.training
        cpu_state = torch.random.get_rng_state()
        cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        try:
            module.eval()
            return gradcheck(loss_fn, module, **options)
        finally:
            module.train(was_training)
            torch.random.set_rng_state(cpu_state)
            if cuda_states is not None:
                torch.cuda.set_rng_state_all(cuda_states)

    return GradientMonitor(check, at, unit="step")
