"""PyTorch's OpInfo gradient samples as checked functions, built as torch's TestGradients does.

Shared by ``tests/test_opinfo.py`` (a deterministic subset inside ``make test``) and
``benchmarks/opinfo_sweep.py`` (every op). For each op with ``supports_autograd`` and float64
support on the CPU, ``op.sample_inputs("cpu", float64, requires_grad=True)`` yields samples; the
checked function takes only the tensors that require grad and rebuilds the call around them,
applying ``op.gradcheck_wrapper`` and ``sample.output_process_fn_grad``
(``torch.testing._internal.common_utils.TestGradients._check_helper``).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["Case", "cases", "differentiable_ops", "torch_slow_verdict"]


@dataclass
class Case:
    op: Any  # the OpInfo
    index: int  # sample number
    fn: Callable[..., Any]
    args: tuple[torch.Tensor, ...]

    @property
    def name(self) -> str:
        variant = f".{self.op.variant_test_name}" if self.op.variant_test_name else ""
        return f"{self.op.name}{variant}[{self.index}]"

    @property
    def numel(self) -> int:
        return sum(a.numel() for a in self.args)


def differentiable_ops() -> list[Any]:
    """Every OpInfo that supports autograd in float64 on the CPU."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.testing._internal.common_methods_invocations import op_db
    return [
        op
        for op in op_db
        if op.supports_autograd and op.supports_dtype(torch.float64, "cpu")
    ]


def _is_tensor_list(x: Any) -> bool:
    return isinstance(x, list | tuple) and len(x) > 0 and all(isinstance(t, torch.Tensor) for t in x)


def build(op: Any, sample: Any) -> tuple[Callable[..., Any], tuple[torch.Tensor, ...]]:
    """The checked function and its arguments (the tensors that require grad)."""
    if _is_tensor_list(sample.input):
        flat = itertools.chain(sample.input, sample.args, sample.kwargs.values())
    else:
        flat = itertools.chain((sample.input,), sample.args, sample.kwargs.values())
    args = tuple(x for x in flat if isinstance(x, torch.Tensor) and x.requires_grad)

    def recompose(inputs: tuple[torch.Tensor, ...], x: Any, i: int) -> tuple[Any, int]:
        if _is_tensor_list(x):
            out = []
            for t in x:
                if t.requires_grad:
                    out.append(inputs[i])
                    i += 1
                else:
                    out.append(t)
            return out, i
        if isinstance(x, torch.Tensor) and x.requires_grad:
            return inputs[i], i + 1
        return x, i

    def fn(*inputs: torch.Tensor) -> Any:
        i = 0
        first, i = recompose(inputs, sample.input, i)
        positional = [first]
        for a in sample.args:
            v, i = recompose(inputs, a, i)
            positional.append(v)
        kwargs = {}
        for k, a in sample.kwargs.items():
            kwargs[k], i = recompose(inputs, a, i)
        out = op.gradcheck_wrapper(op.get_op(), *positional, **kwargs)
        if sample.output_process_fn_grad is not None:
            return sample.output_process_fn_grad(out)
        return out

    return fn, args


def _has_complex_output(fn: Callable[..., Any], args: tuple[torch.Tensor, ...]) -> bool:
    with torch.no_grad():
        out = fn(*args)
    outs = out if isinstance(out, list | tuple) else [out]
    return any(isinstance(o, torch.Tensor) and o.is_complex() for o in outs)


def cases(ops: list[Any], per_op: int = 3) -> Iterator[Case]:
    """Up to ``per_op`` samples of each op: the first, middle and last usable ones."""
    for op in ops:
        try:
            samples = list(op.sample_inputs("cpu", torch.float64, requires_grad=True))
        except Exception:
            continue
        usable = []
        for k, s in enumerate(samples):
            fn, args = build(op, s)
            if args and not any(a.is_complex() for a in args):
                usable.append((k, fn, args))
        if not usable:
            continue
        picks = sorted({0, len(usable) // 2, len(usable) - 1})[:per_op]
        for j in picks:
            k, fn, args = usable[j]
            try:
                if _has_complex_output(fn, args):
                    continue
            except Exception:
                continue
            yield Case(op, k, fn, args)


def torch_slow_verdict(
    case: Case, *, fast: bool = False, fn: Callable[..., Any] | None = None
) -> bool | None:
    """torch.autograd.gradcheck in slow mode (the verdict to agree with; ``fast`` for fast
    mode) on ``fn`` (default the case's function); None if torch raises on the sample."""
    try:
        return bool(
            torch.autograd.gradcheck(
                case.fn if fn is None else fn,
                case.args,
                raise_exception=False,
                fast_mode=fast,
                check_batched_grad=False,
                check_undefined_grad=False,
                nondet_tol=case.op.gradcheck_nondet_tol,
            )
        )
    except Exception:  # torch refuses the sample (sparse inputs, ...)
        return None
