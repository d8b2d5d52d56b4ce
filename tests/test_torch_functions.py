"""A bank of custom autograd Functions, correct and with injected backward bugs, checked by
trainready and by torch.autograd.gradcheck (slow and fast mode) side by side.

The bank (``BANK``, ``make``) is also imported by benchmarks/torch_gradcheck.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import trainready as tr  # noqa: E402

# ----------------------------------------------------------------------------- the bank
# Every Function takes ``bug`` (None or a kind) and ``pos`` (the flat element the "element" bug
# changes by 1%). Backward formulas are the textbook ones; each bug is one realistic slip.


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _element(g: torch.Tensor, pos: int) -> torch.Tensor:
    g = g.clone()
    g.view(-1)[pos % g.numel()] *= 1.01
    return g


def make_affine(bug: str | None, pos: int = 0) -> Callable[..., torch.Tensor]:
    """y = x @ W.T + b (a Linear layer). Bugs: factor (dW x2), sign (dx), element (dW)."""

    class Affine(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, W, b):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(x, W)
            return x @ W.T + b

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            x, W = ctx.saved_tensors
            gx, gW, gb = g @ W, g.T @ x, g.sum(0)
            if bug == "factor":
                gW = 2 * gW
            elif bug == "sign":
                gx = -gx
            elif bug == "element":
                gW = _element(gW, pos)
            return gx, gW, gb

    return Affine.apply


def make_scale_shift(bug: str | None, pos: int = 0) -> Callable[..., torch.Tensor]:
    """y = x * s + b on a square x (n, n), s and b per column. Bugs: bias_broadcast (db summed
    over the wrong axis: same shape, wrong values), factor (db x0.5), element (ds)."""

    class ScaleShift(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, s, b):  # type: ignore[no-untyped-def]
            ctx.save_for_backward(x, s)
            return x * s + b

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            x, s = ctx.saved_tensors
            gx, gs, gb = g * s, (g * x).sum(0), g.sum(0)
            if bug == "bias_broadcast":
                gb = g.sum(1)
            elif bug == "factor":
                gb = 0.5 * gb
            elif bug == "element":
                gs = _element(gs, pos)
            return gx, gs, gb

    return ScaleShift.apply


def make_tanh_product(bug: str | None, pos: int = 0) -> Callable[..., torch.Tensor]:
    """y = x * tanh(w * x), elementwise with a shared vector w. Bugs: missing (the product
    rule's second term), sign (dw), element (dx)."""

    class TanhProduct(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):  # type: ignore[no-untyped-def]
            t = torch.tanh(w * x)
            ctx.save_for_backward(x, w, t)
            return x * t

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            x, w, t = ctx.saved_tensors
            sech2 = 1 - t * t
            gx = g * (t + x * w * sech2)
            if bug == "missing":
                gx = g * t
            gw = (g * x * x * sech2).sum(0)
            if bug == "sign":
                gw = -gw
            elif bug == "element":
                gx = _element(gx, pos)
            return gx, gw

    return TanhProduct.apply


def make_layernorm(bug: str | None, pos: int = 0) -> Callable[..., torch.Tensor]:
    """Row normalization y = (x - mean) / sqrt(var + 1e-5) times gamma. Bugs: missing (the
    variance term of dx), factor (dgamma x2), element (dx)."""

    class RowNorm(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, gamma):  # type: ignore[no-untyped-def]
            mu = x.mean(1, keepdim=True)
            inv = 1 / torch.sqrt(x.var(1, unbiased=False, keepdim=True) + 1e-5)
            xh = (x - mu) * inv
            ctx.save_for_backward(xh, inv, gamma)
            return xh * gamma

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            xh, inv, gamma = ctx.saved_tensors
            gxh = g * gamma
            if bug == "missing":
                gx = inv * (gxh - gxh.mean(1, keepdim=True))
            else:
                gx = inv * (gxh - gxh.mean(1, keepdim=True) - xh * (gxh * xh).mean(1, keepdim=True))
            ggamma = (g * xh).sum(0)
            if bug == "factor":
                ggamma = 2 * ggamma
            elif bug == "element":
                gx = _element(gx, pos)
            return gx, ggamma

    return RowNorm.apply


def make_logsumexp(bug: str | None, pos: int = 0) -> Callable[..., torch.Tensor]:
    """y_i = log sum_j exp(x_ij). Bugs: sign, element."""

    class LogSumExp(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # type: ignore[no-untyped-def]
            y = torch.logsumexp(x, 1)
            ctx.save_for_backward(x, y)
            return y

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            x, y = ctx.saved_tensors
            gx = g[:, None] * torch.exp(x - y[:, None])
            if bug == "sign":
                gx = -gx
            elif bug == "element":
                gx = _element(gx, pos)
            return (gx,)

    return LogSumExp.apply


@dataclass(frozen=True)
class Entry:
    """A Function of the bank: its factory, the bugs it can carry and its inputs."""

    name: str
    factory: Callable[[str | None, int], Callable[..., torch.Tensor]]
    bugs: tuple[str, ...]
    inputs: Callable[[int, np.random.Generator], tuple[torch.Tensor, ...]]


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64)).requires_grad_(True)


def _affine_inputs(n: int, gen: np.random.Generator) -> tuple[torch.Tensor, ...]:
    """About n parameters in all: batch 4, square W of side ~sqrt(n)."""
    k = max(2, round(float(np.sqrt(n))))
    return (
        _t(gen.standard_normal((4, k))),
        _t(gen.standard_normal((k, k)) / np.sqrt(k)),
        _t(gen.standard_normal(k)),
    )


def _square_inputs(n: int, gen: np.random.Generator) -> tuple[torch.Tensor, ...]:
    k = max(2, round(float(np.sqrt(n))))
    return _t(gen.standard_normal((k, k))), _t(1 + gen.random(k)), _t(gen.standard_normal(k))


def _tanh_inputs(n: int, gen: np.random.Generator) -> tuple[torch.Tensor, ...]:
    k = max(2, n // 4)
    return _t(gen.standard_normal((4, k))), _t(gen.uniform(0.5, 1.5, k))


def _norm_inputs(n: int, gen: np.random.Generator) -> tuple[torch.Tensor, ...]:
    k = max(2, n // 4)
    return _t(gen.standard_normal((4, k)) * 2 + 1), _t(1 + gen.random(k))


def _lse_inputs(n: int, gen: np.random.Generator) -> tuple[torch.Tensor, ...]:
    k = max(2, n // 4)
    return (_t(gen.standard_normal((4, k))),)


BANK: tuple[Entry, ...] = (
    Entry("affine", make_affine, ("factor", "sign", "element"), _affine_inputs),
    Entry("scale_shift", make_scale_shift, ("bias_broadcast", "factor", "element"), _square_inputs),
    Entry("tanh_product", make_tanh_product, ("missing", "sign", "element"), _tanh_inputs),
    Entry("layernorm", make_layernorm, ("missing", "factor", "element"), _norm_inputs),
    Entry("logsumexp", make_logsumexp, ("sign", "element"), _lse_inputs),
)


def torch_gradcheck(fn: Callable[..., torch.Tensor], inputs: tuple, fast: bool) -> bool:
    """torch.autograd.gradcheck with its defaults; True when it passes."""
    return bool(torch.autograd.gradcheck(fn, inputs, fast_mode=fast, raise_exception=False))


def _cases() -> list[tuple[str, str | None]]:
    return [(e.name, None) for e in BANK] + [(e.name, b) for e in BANK for b in e.bugs]


_BY_NAME = {e.name: e for e in BANK}


# ----------------------------------------------------------------------------- tests
@pytest.mark.parametrize(("name", "bug"), _cases())
def test_agrees_with_torch_slow_mode(name: str, bug: str | None) -> None:
    entry = _BY_NAME[name]
    gen = np.random.default_rng(1)
    inputs = entry.inputs(60, gen)
    n = sum(t.numel() for t in inputs)
    pos = int(gen.integers(0, 10**6))
    fn = entry.factory(bug, pos)
    slow_ok = torch_gradcheck(fn, inputs, fast=False)
    rep = tr.torch.check_function(fn, *inputs)
    assert rep.mode == "full" and rep.n_checked == n
    # every Function of the bank is right without a bug and caught by slow mode with one
    assert slow_ok == (bug is None)
    assert rep.passed == slow_ok, str(rep)
    if bug is not None:
        assert rep.verdict == "wrong", str(rep)


def test_catches_single_element_bugs_that_fast_mode_misses() -> None:
    """One gradient element 1% off: slow mode and trainready catch every one (and trainready
    names the element); fast mode misses most, in the same run."""
    fast_missed = 0
    cases = 0
    for entry in BANK:
        for rep_i in range(3):
            gen = np.random.default_rng(100 + rep_i)
            inputs = entry.inputs(60, gen)
            pos = int(gen.integers(0, 10**6))
            fn = entry.factory("element", pos)
            slow_ok = torch_gradcheck(fn, inputs, fast=False)
            fast_ok = torch_gradcheck(fn, inputs, fast=True)
            rep = tr.torch.check_function(fn, *inputs)
            cases += 1
            assert not slow_ok
            assert rep.verdict == "wrong", str(rep)
            # the wrong element is the worst one reported
            bad = next(iter(rep.failing))
            t = inputs[int(bad.name.removeprefix("input"))]
            flat = int(np.ravel_multi_index(bad.worst_index, tuple(t.shape)))
            assert flat == pos % t.numel(), str(rep)
            fast_missed += fast_ok
    assert fast_missed >= cases // 2, f"fast mode missed only {fast_missed} of {cases}"


@pytest.mark.parametrize("name", [e.name for e in BANK])
def test_probe_mode_finds_one_element_in_tens_of_thousands(name: str) -> None:
    entry = _BY_NAME[name]
    gen = np.random.default_rng(7)
    inputs = entry.inputs(20_000, gen)
    n = sum(t.numel() for t in inputs)
    assert n > 15_000
    ok = tr.torch.check_function(entry.factory(None), *inputs)
    assert ok.mode == "probe" and ok.passed, str(ok)
    pos = int(gen.integers(0, 10**6))
    rep = tr.torch.check_function(entry.factory("element", pos), *inputs)
    assert rep.verdict == "wrong", str(rep)
    bad = rep.failing[0]
    t = inputs[int(bad.name.removeprefix("input"))]
    assert int(np.ravel_multi_index(bad.worst_index, tuple(t.shape))) == pos % t.numel()
    assert rep.evaluations < 300


def test_hint_names_the_factor_and_sign() -> None:
    inputs = _affine_inputs(60, np.random.default_rng(0))
    rep = tr.torch.check_function(make_affine("factor"), *inputs)
    assert rep.params["input1"].verdict == "wrong"
    assert "2.00" in rep.params["input1"].hint
    assert rep.params["input0"].passed and rep.params["input2"].passed
    rep = tr.torch.check_function(make_affine("sign"), *inputs)
    assert "sign" in rep.params["input0"].hint.lower(), rep.params["input0"].hint


def test_float32_inputs_are_checked_in_float64_and_restored() -> None:
    gen = np.random.default_rng(3)
    inputs = tuple(t.detach().float().requires_grad_(True) for t in _tanh_inputs(40, gen))
    before = [t.detach().clone() for t in inputs]
    rep = tr.torch.check_function(make_tanh_product(None), *inputs)
    assert rep.passed and rep.noise < 1e-14  # float64 noise, not float32's
    for t, b in zip(inputs, before, strict=True):
        assert t.dtype == torch.float32 and t.requires_grad and t.grad is None
        assert torch.equal(t.detach().view(torch.int32), b.view(torch.int32))


def test_non_differentiable_inputs_are_passed_through() -> None:
    gen = np.random.default_rng(4)
    x, W, b = _affine_inputs(30, gen)
    x = x.detach().float()  # a float32 input that is not checked: converted, restored
    rep = tr.torch.check_function(make_affine(None), x, W, b)
    assert rep.passed and set(rep.params) == {"input1", "input2"}
    assert x.dtype == torch.float32 and not x.requires_grad


def test_check_function_errors() -> None:
    x = torch.randn(3)
    with pytest.raises(ValueError, match="requires_grad"):
        tr.torch.check_function(torch.sin, x)
    with pytest.raises(TypeError, match="callable"):
        tr.torch.check_function("sin", x.requires_grad_())
    with pytest.raises(TypeError, match="floating-point tensor"):
        tr.torch.check_function(lambda t: "no", torch.randn(3, requires_grad=True))
