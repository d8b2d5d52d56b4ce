"""Gradient checks as one-line assertions in a test suite.

``assert_gradients`` (NumPy) and ``assert_torch_gradients`` / ``assert_function_gradients``
(PyTorch) raise :class:`AssertionError` whose message is the short per-parameter table of the
check — which parameter, worst element, ratio, hint — never a Jacobian dump.

Example: a pytest test for a custom autograd Function::

    import torch
    from trainready.testing import assert_function_gradients

    class Swish(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * torch.sigmoid(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            s = torch.sigmoid(x)
            return g * (s + x * s * (1 - s))

    def test_swish_backward():
        x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
        assert_function_gradients(Swish.apply, x)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .gradcheck import GradcheckReport, gradcheck

__all__ = ["assert_function_gradients", "assert_gradients", "assert_torch_gradients"]


def _assert(report: GradcheckReport, allow_check: bool) -> GradcheckReport:
    __tracebackhide__ = True  # pytest shows the caller's line, not this frame
    if report.passed or (allow_check and report.verdict == "check"):
        return report
    raise AssertionError("gradients are wrong\n" + str(report))


def assert_gradients(
    loss: Callable[[dict[str, Any]], Any],
    params: Mapping[str, Any],
    grads: Any,
    *,
    allow_check: bool = False,
    **options: Any,
) -> GradcheckReport:
    """Assert that ``grads`` is the gradient of ``loss`` at ``params``.

    Args:
        loss, params, grads, **options: as for :func:`trainready.gradcheck`.
        allow_check: also accept the verdict "check" (mismatch between 1e-7 and 1e-5).

    Returns:
        The report, when the check passes.

    Raises:
        AssertionError: the message is the report's short table, e.g.
            ``W1 ... WRONG W1[3, 3] ... analytic ≈ 2.00 × numeric for every element``.

    Example:
        >>> import numpy as np
        >>> _ = assert_gradients(lambda p: float(np.sum(p["x"] ** 2)), {"x": np.ones(3)},
        ...                      {"x": 2 * np.ones(3)})
    """
    __tracebackhide__ = True
    return _assert(gradcheck(loss, params, grads, **options), allow_check)


def assert_torch_gradients(
    loss_fn: Callable[[], Any], params: Any, *, allow_check: bool = False, **options: Any
) -> GradcheckReport:
    """Assert autograd's gradient of ``loss_fn()`` with respect to ``params`` (a module, a dict
    or tensors) is right; see :func:`trainready.torch.gradcheck`."""
    __tracebackhide__ = True
    from . import torch as tr_torch

    return _assert(tr_torch.gradcheck(loss_fn, params, **options), allow_check)


def assert_function_gradients(
    fn: Callable[..., Any], *inputs: Any, allow_check: bool = False, **options: Any
) -> GradcheckReport:
    """Assert the backward of ``fn`` (e.g. ``MyFunction.apply``) is right for ``inputs``; see
    :func:`trainready.torch.check_function`."""
    __tracebackhide__ = True
    from . import torch as tr_torch

    return _assert(tr_torch.check_function(fn, *inputs, **options), allow_check)
