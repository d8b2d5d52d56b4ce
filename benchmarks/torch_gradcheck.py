"""trainready.torch vs torch.autograd.gradcheck (slow and fast mode), side by side.

Same custom autograd Functions (the bank of tests/test_torch_functions.py) and a small module,
N parameters from 1e2 to 1e6. For each: forward and backward calls, wall time, and the
detection rate of a backward with ONE gradient element 1% off, over repetitions with different
bug positions (plus a false-alarm check on the correct backward). torch's slow mode builds the
dense Jacobian with 2N forward calls: run only up to N = 1e4.

Run: .venv/bin/python benchmarks/torch_gradcheck.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import trainready as tr
from test_torch_functions import make_affine, make_layernorm

COUNT = {"fwd": 0, "bwd": 0}


def counted(apply: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """Count forward calls of fn and backward calls through a pass-through Function."""

    class Tap(torch.autograd.Function):
        @staticmethod
        def forward(ctx, y):  # type: ignore[no-untyped-def]
            return y.view_as(y)

        @staticmethod
        def backward(ctx, g):  # type: ignore[no-untyped-def]
            COUNT["bwd"] += 1
            return g

    def fn(*inputs: torch.Tensor) -> torch.Tensor:
        COUNT["fwd"] += 1
        return Tap.apply(apply(*inputs))

    return fn


def make_mlp(bug: str | None, pos: int = 0) -> Callable[..., torch.Tensor]:
    """A two-layer MLP as a function of (x, W1, b1, W2, b2): the first layer is the Affine
    Function of the bank (the bug lives in its dW), then tanh and a second dense layer."""
    affine = make_affine(bug, pos)

    def mlp(
        x: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor, b2: torch.Tensor
    ) -> torch.Tensor:
        return torch.tanh(affine(x, W1, b1)) @ W2.T + b2

    return mlp


def inputs_for(kind: str, n: int, gen: np.random.Generator) -> tuple[torch.Tensor, ...]:
    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).requires_grad_(True)

    if kind == "affine":  # x (4, k) is an input too: N = 4k + k^2 + k
        k = max(2, round(float(np.sqrt(n))))
        return (
            t(gen.standard_normal((4, k))),
            t(gen.standard_normal((k, k)) / np.sqrt(k)),
            t(gen.standard_normal(k)),
        )
    if kind == "layernorm":
        k = max(2, n // 5)
        return t(gen.standard_normal((4, k)) * 2 + 1), t(1 + gen.random(k))
    k = max(2, round(float(np.sqrt(n / 2))))  # mlp: W1 (k, k), W2 (k, k)
    x = gen.standard_normal((4, k))
    return (
        torch.from_numpy(x),  # data, not checked
        t(gen.standard_normal((k, k)) / np.sqrt(k)),
        t(np.zeros(k)),
        t(gen.standard_normal((k, k)) / np.sqrt(k)),
        t(np.zeros(k)),
    )


FACTORIES = {"affine": make_affine, "layernorm": make_layernorm, "mlp": make_mlp}
# which input carries the element bug (its size decides the position)
BUGGY_INPUT = {"affine": 1, "layernorm": 0, "mlp": 1}


def run_torch(fn: Callable[..., torch.Tensor], inputs: tuple, fast: bool) -> tuple[bool, float]:
    t0 = time.perf_counter()
    ok = torch.autograd.gradcheck(fn, inputs, fast_mode=fast, raise_exception=False)
    return bool(ok), time.perf_counter() - t0


def run_ours(fn: Callable[..., torch.Tensor], inputs: tuple) -> tuple[bool, float, int]:
    t0 = time.perf_counter()
    rep = tr.torch.check_function(fn, *inputs, rng=0)
    return rep.passed, time.perf_counter() - t0, rep.mode == "probe"


def bench(kind: str, n: int, reps: int, slow_max: int, slow_reps: int) -> list[str]:
    gen = np.random.default_rng(n)
    inputs = inputs_for(kind, n, gen)
    n_params = sum(t.numel() for t in inputs if t.requires_grad)
    size = inputs[BUGGY_INPUT[kind]].numel()
    positions = [int(p) for p in gen.choice(size, size=reps, replace=False)]
    rows = []
    tools: list[tuple[str, Callable[[Callable[..., torch.Tensor]], tuple], int]] = []
    if n_params <= slow_max:
        tools.append(("torch slow", lambda f: run_torch(f, inputs, False), slow_reps))
    tools.append(("torch fast", lambda f: run_torch(f, inputs, True), reps))
    tools.append(("trainready", lambda f: run_ours(f, inputs), reps))
    for name, run, k in tools:
        COUNT.update(fwd=0, bwd=0)
        ok_correct, t_correct, *_ = run(counted(FACTORIES[kind](None)))
        calls = f"{COUNT['fwd']:,} / {COUNT['bwd']:,}"
        caught, wall, fwd, bwd = 0, [], [], []
        for pos in positions[:k]:
            COUNT.update(fwd=0, bwd=0)
            passed, dt, *_ = run(counted(FACTORIES[kind]("element", pos)))
            caught += not passed
            wall.append(dt)
            fwd.append(COUNT["fwd"])
            bwd.append(COUNT["bwd"])
        label = name
        if name == "trainready":
            label = f"trainready ({'probe' if n_params > 2000 else 'full'})"
        rows.append(
            f"| {kind} | {n_params:,} | {label} | {calls} | {t_correct:.3g} | "
            f"{'pass' if ok_correct else 'FALSE ALARM'} | {caught}/{k} | "
            f"{int(np.median(fwd)):,} / {int(np.median(bwd)):,} | {np.median(wall):.3g} |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="N up to 1e4, 2 repetitions")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)  # benchmarks only; the library never changes it
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads, numpy {np.__version__}"
    )
    print(
        "| function | N | checker | fwd / bwd calls (correct) | wall s (correct) | verdict on "
        "correct | 1% element bug caught | fwd / bwd calls (bug, median) | wall s (bug, median) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    sizes = [100, 1_000, 10_000] if args.quick else [100, 1_000, 10_000, 100_000, 1_000_000]
    warm = inputs_for("affine", 20, np.random.default_rng(0))  # first-call costs out of the rows
    for fast in (False, True):
        run_torch(make_affine(None), warm, fast)
    run_ours(make_affine(None), warm)
    t0 = time.perf_counter()
    for kind in ("affine", "layernorm", "mlp"):
        for n in sizes:
            if kind != "affine" and n > 100_000:
                continue
            reps = 2 if args.quick else (5 if n <= 10_000 else 3)
            bench(kind, n, reps, slow_max=12_000, slow_reps=min(reps, 1 if n >= 10_000 else 5))
    print(f"# total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
