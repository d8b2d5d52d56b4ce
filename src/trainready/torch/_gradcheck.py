"""Gradient checks of PyTorch modules, tensors and custom autograd Functions.

The maths is :func:`trainready.gradcheck`'s: this module only turns tensors into named float64
NumPy arrays and back. The analytic gradient is autograd's (one ``torch.autograd.grad`` call on
the float64 copy, so a custom Function is checked through the backward its author wrote); the
numeric one comes from loss calls in float64 under ``torch.no_grad()``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch

from .._rng import as_generator
from ..errors import NondeterministicLossError
from ..gradcheck import GradcheckReport
from ..gradcheck import gradcheck as _numpy_gradcheck
from ._outputs import WeightedOutputs, check_each_output, float64_grads
from ._session import Float64Session, named_tensors

__all__ = ["check_function", "gradcheck"]

Mode = Literal["auto", "full", "sample", "probe"]
ProgressFn = Callable[[int, int], None]


def gradcheck(
    loss_fn: Callable[[], torch.Tensor],
    params: Any,
    *,
    mode: Mode = "auto",
    eps: float | None = None,
    rng: np.random.Generator | int | None = 0,
    samples: int = 10,
    probes: int = 3,
    progress: ProgressFn | None = None,
) -> GradcheckReport:
    """Check autograd's gradient of ``loss_fn()`` against numeric differences, in float64.

    For the check, every tensor in ``params`` (and, for a module, all its parameters and buffers,
    BatchNorm running statistics included) is converted to float64 on its own device, and
    floating inputs of the module's submodules are cast to float64 by forward pre-hooks. Then:
    one ``loss_fn()`` with autograd gives the analytic gradient (``torch.autograd.grad``, which
    runs the ``backward`` of any custom ``torch.autograd.Function`` in the graph); the numeric
    gradient comes from ``loss_fn()`` calls under ``torch.no_grad()`` with perturbed values, as
    in :func:`trainready.gradcheck` (same modes, report and hints). Afterwards every tensor gets
    back its original dtype, device, values (bit-exact, the same storage), ``requires_grad`` and
    ``.grad``, also when ``loss_fn`` raises or the check is interrupted (Ctrl-C).

    Args:
        loss_fn: ``loss_fn() -> scalar tensor``, the whole cost (regularization included),
            computed from the current values of the tensors in ``params`` (e.g.
            ``lambda: F.cross_entropy(model(X), y)``). Return the tensor, not ``.item()``.
        params: an ``nn.Module`` (its parameters that require grad, named by
            ``named_parameters()``), a dict name -> tensor, an iterable of tensors (named
            ``"0"``, ``"1"``, ...) or of ``(name, tensor)`` pairs. Leaf floating-point tensors.
        mode, eps, rng, samples, probes, progress: as in :func:`trainready.gradcheck`
            (``"auto"``: every element up to 2000 parameters, random directional probes with
            bisection above).

    Returns:
        A :class:`trainready.GradcheckReport` named by parameter (``"0.weight"``, ...).

    Raises:
        NondeterministicLossError: two calls at the same parameters differ (dropout in training
            mode): the message names the dropout modules; call ``model.eval()`` or fix the seed.
        TypeError, ValueError: bad ``params``, or ``loss_fn`` does not return a scalar tensor
            that depends on them.

    Example:
        >>> import torch, trainready as tr
        >>> _ = torch.manual_seed(0)
        >>> nn = torch.nn
        >>> model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
        >>> X, y = torch.randn(8, 3), torch.randn(8, 1)
        >>> rep = tr.torch.gradcheck(lambda: torch.nn.functional.mse_loss(model(X), y), model)
        >>> rep.verdict, list(rep.params)[:2], model[0].weight.dtype
        ('ok', ['0.weight', '0.bias'], torch.float32)
    """
    if not callable(loss_fn):
        raise TypeError(
            "loss_fn must be a callable taking no argument and returning a scalar tensor, e.g. "
            f"lambda: F.mse_loss(model(X), y); got {type(loss_fn).__name__}"
        )
    named, module = named_tensors(params)
    options = dict(mode=mode, eps=eps, rng=rng, samples=samples, probes=probes, progress=progress)
    return _check(loss_fn, named, module, (), options, "loss_fn")


def check_function(
    fn: Callable[..., Any],
    *inputs: Any,
    mode: Mode = "auto",
    eps: float | None = None,
    rng: np.random.Generator | int | None = 0,
    samples: int = 10,
    probes: int = 3,
    progress: ProgressFn | None = None,
) -> GradcheckReport:
    """Check the backward of ``fn`` (e.g. ``MyFunction.apply``) with respect to its inputs.

    The counterpart of ``torch.autograd.gradcheck(fn, inputs)``: the inputs that require grad are
    checked, through the scalar ``sum_k <R_k, out_k>`` with fixed Gaussian weights ``R_k`` of each
    floating output's shape (drawn once from ``rng``). Its gradient is ``J^T R``: one backward
    call exercises every output, and any wrong Jacobian entry shows up with probability one.
    Inputs are converted to float64 for the check and restored bit-exactly afterwards.

    Args:
        fn: called as ``fn(*inputs)``; returns a tensor or a tuple/list of tensors.
        *inputs: tensors (and any other arguments); floating tensors with ``requires_grad=True``
            are checked and named ``"input0"``, ``"input1"``, ... by position.
        mode, eps, rng, samples, probes, progress: as in :func:`trainready.gradcheck`.

    Returns:
        A :class:`trainready.GradcheckReport`.

    Example:
        >>> import torch, trainready as tr
        >>> class Cube(torch.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x**3
        ...     @staticmethod
        ...     def backward(ctx, g):
        ...         (x,) = ctx.saved_tensors
        ...         return 2 * x**2 * g  # wrong: should be 3 * x**2 * g
        >>> x = torch.linspace(-1, 1, 5, requires_grad=True)
        >>> rep = tr.torch.check_function(Cube.apply, x)
        >>> rep.verdict, rep.params["input0"].hint.split(" for")[0]
        ('wrong', 'analytic ≈ 0.67 × numeric')
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable (e.g. MyFunction.apply); got {type(fn).__name__}")
    checked = {
        f"input{i}": t
        for i, t in enumerate(inputs)
        if isinstance(t, torch.Tensor) and t.requires_grad
    }
    if not checked:
        raise ValueError(
            "inputs: none is a tensor with requires_grad=True, so there is nothing to check; "
            "create the inputs to check with requires_grad=True"
        )
    named, _ = named_tensors(checked, "inputs")
    extra = [
        t
        for t in inputs
        if isinstance(t, torch.Tensor) and t.is_floating_point() and not t.requires_grad
    ]
    gen = as_generator(rng)
    weighted = WeightedOutputs(fn, inputs, gen)
    options = dict(mode=mode, eps=eps, rng=gen, samples=samples, probes=probes, progress=progress)
    report = _check(weighted, named, None, extra, options, "fn")
    if weighted.count > 1 and report.verdict != "wrong":
        report = check_each_output(weighted, named, extra, options, report, _check)
    return dataclasses.replace(report, notes=report.notes + tuple(weighted.notes()))


def _dropout_in_training(module: torch.nn.Module | None) -> list[str]:
    if module is None:
        return []
    found = []
    for name, m in module.named_modules():
        if not m.training:
            continue
        p = None
        if isinstance(m, torch.nn.modules.dropout._DropoutNd):
            p = m.p
        elif isinstance(m, torch.nn.MultiheadAttention):
            p = m.dropout
        if p:
            found.append(f"{name or '(the model)'} ({type(m).__name__}, p={p:g})")
    return found


def _as_loss_tensor(value: Any, who: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{who} must return a scalar tensor with its autograd graph (return the tensor, "
            f"not .item()); got {type(value).__name__}"
        )
    if value.numel() != 1:
        raise ValueError(
            f"{who} must return a scalar tensor (the mean cost); got shape {tuple(value.shape)}. "
            "Reduce it, e.g. with .mean()"
        )
    if value.is_complex() or not value.is_floating_point():
        raise ValueError(f"{who} must return a real floating-point tensor; got {value.dtype}")
    if not value.requires_grad:
        raise ValueError(
            f"{who} returned a tensor that does not depend on the parameters (no autograd "
            "graph): was it computed under torch.no_grad(), detached, or from other tensors "
            "than the ones passed as params?"
        )
    return value.reshape(())


def _check(
    loss_fn: Callable[[], Any],
    named: dict[str, torch.Tensor],
    module: torch.nn.Module | None,
    extra: Sequence[torch.Tensor],
    options: dict[str, Any],
    who: str,
) -> GradcheckReport:
    notes: list[str] = []
    with Float64Session(named, module, extra) as session:
        with torch.enable_grad():
            try:
                out = _as_loss_tensor(loss_fn(), who)
            except RuntimeError as exc:
                if "type" in str(exc):  # dtype mismatches: "expected scalar type", "dtype"
                    exc.add_note(
                        "(trainready.torch: during the check the parameters are float64; a "
                        "float32 tensor the loss uses that is not a parameter, buffer or module "
                        "input stays float32 -- convert it with .double(), or pass the whole "
                        "module as params)"
                    )
                raise
            tensors = list(session.checked.values())
            try:
                grads = torch.autograd.grad(out, tensors, allow_unused=True)
            except RuntimeError as exc:
                if "backward through the graph a second time" not in str(exc):
                    raise
                raise RuntimeError(
                    f"{who} called .backward() itself (its graph was already used): a "
                    f"{who} for a gradient check only computes and returns the loss; trainready "
                    "calls autograd once. Remove the .backward() call (and optimizer steps)"
                ) from exc
        unused = [name for name, g in zip(session.checked, grads, strict=True) if g is None]
        grads_np = dict(zip(session.checked, float64_grads(grads, tensors), strict=True))
        out_dtype = out.dtype
        del grads, out  # free the graph before the numeric calls
        values = session.values()

        def loss(p: dict[str, np.ndarray]) -> Any:
            session.load(p)
            with torch.no_grad():
                value = loss_fn()
            if isinstance(value, torch.Tensor) and value.dtype == torch.float64:
                if value.numel() == 1:
                    return value.item()  # a Python float: the core's fast path
            return value

        try:
            report = _numpy_gradcheck(loss, values, grads_np, **options)
        except NondeterministicLossError as exc:
            dropouts = _dropout_in_training(module)
            where = (
                "dropout in training mode: " + ", ".join(dropouts)
                if dropouts
                else "dropout in training mode or other unseeded randomness"
            )
            raise NondeterministicLossError(
                f"{who} returned different values for the same parameters ({where}); no gradient "
                "check can be trusted on a random loss: call model.eval() or fix the seed "
                f"(torch.manual_seed(0) at the start of {who}). [{exc}]"
            ) from exc
        if session.converted_from:
            kinds = ", ".join(sorted(str(d).replace("torch.", "") for d in session.converted_from))
            notes.append(f"{kinds} tensors were checked in float64 and restored afterwards")
        if out_dtype != torch.float64:
            notes.append(
                f"{who} returned {str(out_dtype).replace('torch.', '')} although the parameters "
                "were float64: a lower-precision tensor it uses (a target, a constant) pulled the "
                "result down; convert it with .double() for a sharper check"
            )
        if unused:
            notes.append(
                f"no gradient reached {', '.join(unused)} (unused by {who}); checked as zero"
            )
    return dataclasses.replace(report, notes=report.notes + tuple(notes))
