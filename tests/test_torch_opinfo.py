"""PyTorch's own gradient test data (OpInfo) through ``tr.torch.check_function``.

A deterministic subset of ``op_db`` covering every op family — elementwise (smooth, kinked,
piecewise constant, domain-limited), reductions (nan-reductions included), linear algebra,
indexing and views (``as_strided`` with offsets), normalization (outputs that do not require
grad), conv/pool, losses — with up to three samples per op (the first, middle and last usable
one, as ``benchmarks/opinfo_sweep.py`` takes them). For each sample torch's slow-mode gradcheck
runs on the same function: where it passes, trainready must neither crash nor raise a false
alarm. The full sweep over all ops is ``benchmarks/opinfo_sweep.py`` (BENCHMARKS.md).
"""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("expecttest")

import trainready as tr  # noqa: E402
from opinfo_harness import cases, differentiable_ops, torch_slow_verdict  # noqa: E402

FAMILIES = {
    "elementwise": [
        "add", "mul", "sin", "exp", "log", "sqrt", "acos", "pow", "clamp", "where", "sigmoid",
        "tanh", "nn.functional.relu", "nn.functional.hardtanh", "abs", "floor", "round",
        "round.decimals_3", "ceil", "trunc", "sign", "sgn", "div.floor_rounding",
        "div.trunc_rounding", "nan_to_num", "__rpow__", "xlogy", "atan2", "erfinv",
    ],
    "reductions": [
        "sum", "mean", "prod", "amax", "std", "var", "nansum", "nanmean", "logsumexp",
        "norm", "cumsum", "cumprod", "corrcoef", "median",
    ],
    "linalg": [
        "matmul", "addmm", "cholesky", "cholesky_inverse", "linalg.inv", "linalg.det",
        "linalg.solve", "linalg.eigh", "linalg.svd", "svd", "cdist", "linalg.vector_norm",
    ],
    "indexing": [
        "index_select", "gather", "take", "narrow", "index_fill", "masked_fill", "as_strided",
        "as_strided_scatter", "scatter_add", "roll", "cat", "stack", "diag", "tril",
    ],
    "normalization": [
        "native_batch_norm", "native_layer_norm", "native_group_norm", "nn.functional.layer_norm",
        "nn.functional.batch_norm", "nn.functional.group_norm", "softmax", "log_softmax",
        "torch.ops.aten._safe_softmax.default",
    ],
    "conv_pool": [
        "nn.functional.conv1d", "nn.functional.conv2d", "nn.functional.max_pool2d",
        "nn.functional.avg_pool2d", "nn.functional.adaptive_avg_pool1d", "nn.functional.unfold",
        "max_pool2d_with_indices_backward",
    ],
    "losses": [
        "nn.functional.cross_entropy", "nn.functional.mse_loss",
        "nn.functional.binary_cross_entropy", "nn.functional.kl_div", "nn.functional.nll_loss",
        "nn.functional.huber_loss", "nn.functional.multi_margin_loss",
        "nn.functional.multilabel_margin_loss", "nn.functional.smooth_l1_loss", "cdist",
    ],
}

# Ops whose samples torch's own slow-mode check fails, and why (seen in the sweep,
# benchmarks/opinfo_sweep.py). Where the backward is wrong, trainready must say so too.
TORCH_FAILS = {
    "native_group_norm": "backward ignores the output's gradient when only mean/rstd get one "
    "(torch's slow mode checks each output alone)",
    "as_strided_scatter": "overlapping strided writes: torch's own OpInfo marks its gradcheck "
    "an expected failure",
    "__rpow__": "a negative base to a non-integer power: NaN outputs",
}
BACKWARD_WRONG = {"native_group_norm", "as_strided_scatter"}


def _full_name(op) -> str:  # type: ignore[no-untyped-def]
    return op.name + (f".{op.variant_test_name}" if op.variant_test_name else "")


def _subset():  # type: ignore[no-untyped-def]
    wanted = {name for names in FAMILIES.values() for name in names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ops = [op for op in differentiable_ops() if _full_name(op) in wanted]
        return list(cases(ops, per_op=3))


CASES = _subset()


def test_the_subset_covers_every_family() -> None:
    found = {c.op.name + (f".{c.op.variant_test_name}" if c.op.variant_test_name else "")
             for c in CASES}
    for family, names in FAMILIES.items():
        assert found & set(names), family
    assert len(CASES) > 150


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_no_crash_and_no_false_alarm_where_torch_passes(case, one_torch_thread) -> None:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch_ok = torch_slow_verdict(case)
        before = [a.detach().clone() for a in case.args]
        rep = tr.torch.check_function(case.fn, *case.args, mode="full")
    name = _full_name(case.op)
    if not torch_ok:
        assert name in TORCH_FAILS, f"{case.name}: torch fails it, and TORCH_FAILS says nothing"
        if name in BACKWARD_WRONG:
            assert not rep.passed, f"{case.name}: torch catches this backward, trainready not"
        pytest.skip(f"{case.name}: torch's slow mode fails: {TORCH_FAILS[name]}")
    assert rep.passed, f"{case.name} (N = {case.numel}): {rep}"
    for a, b in zip(case.args, before):  # inputs untouched, bit for bit
        assert a.dtype == b.dtype and a.stride() == b.stride()
        assert torch.equal(_bits(a.detach()), _bits(b))


def _bits(t):  # type: ignore[no-untyped-def]
    return t.contiguous().view(torch.int64) if t.numel() else t
