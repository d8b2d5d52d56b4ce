"""A :class:`trainready.GradientMonitor` for JAX training loops (checks at chosen steps).

JAX parameters are values: a loop makes new ones every step, so the monitor cannot hold them.
It is called with them instead -- ``monitor(step, params, *batch)`` -- and checks
``loss_fn(params, *batch)`` at the steps in ``at``; at every other step it returns at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._validation import describe, invalid
from ..gradcheck import GradcheckReport, GradientMonitor
from ._gradcheck import gradcheck

__all__ = ["gradient_monitor"]


def gradient_monitor(
    loss_fn: Callable[..., Any], at: Iterable[int], **options: Any
) -> GradientMonitor:
    """Monitor a JAX loop's gradients: ``monitor(step, params, *batch)`` in the loop.

    At each step in ``at`` (once per step; ``monitor.start(params, *batch)`` runs step 0),
    ``jax.grad`` of ``loss_fn(params, *batch)`` is checked by :func:`trainready.jax.gradcheck`
    (``options`` go there; default ``mode="probe"``, cheap at any size) and the report kept in
    ``monitor.reports``. ``params`` is any pytree or a Flax ``nnx.Module``. Nothing the loop
    uses is changed: the check works on float64 copies, draws its random numbers from its own
    NumPy generator (never from a JAX key of yours), and JAX arrays are immutable, so training
    runs bit-identically with and without the monitor. It never stops training.

    Args:
        loss_fn: ``loss_fn(params, *batch) -> scalar``, a pure function (``jax.jit`` is fine).
        at: steps to check at (0 = before the first update), e.g. ``[0, 100, 1000]``.
        **options: for :func:`trainready.jax.gradcheck` (``mode``, ``rng``, ``probes``, ...).

    Returns:
        A :class:`trainready.GradientMonitor` (``unit="step"``): ``reports`` (step, report),
        ``passed``, ``summary()``.

    Example:
        >>> import jax, jax.numpy as jnp, trainready as tr
        >>> loss = lambda p, x: jnp.mean((x @ p["w"]) ** 2)
        >>> x, params = jnp.ones((4, 3)), {"w": jnp.full(3, 0.5)}
        >>> mon = tr.jax.gradient_monitor(loss, at=[0, 2])
        >>> for step in range(3):
        ...     _ = mon(step, params, x)
        ...     params = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params,
        ...                                     jax.grad(loss)(params, x))
        >>> [(step, rep.verdict) for step, rep in mon.reports]
        [(0, 'ok'), (2, 'ok')]
    """
    if not callable(loss_fn):
        raise invalid(
            "loss_fn",
            "a callable loss_fn(params, *batch) -> scalar",
            describe(loss_fn),
            "pass the loss your loop differentiates",
            kind=TypeError,
        )
    options.setdefault("mode", "probe")

    def check(*args: Any) -> GradcheckReport:
        if not args:
            raise TypeError(
                "monitor: expected monitor(step, params, *batch), got no params; JAX params "
                "are values, so pass the current ones at each call, e.g. monitor(step, params)"
            )
        params, batch = args[0], args[1:]
        return gradcheck(lambda p: loss_fn(p, *batch), params, **options)

    return GradientMonitor(check, at, unit="step")
