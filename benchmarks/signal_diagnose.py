"""Cost of ``trainready.diagnose`` against one forward and backward pass, side by side.

The claim (issue 15): on a 50-layer, width-1024 MLP with a batch of 256, a ``diagnose`` that
verifies one fix costs at most 2x one forward and backward pass (issue 4 said 3x). Measured in one process, interleaved, median of
``--repeat`` runs each:

* ``net.gradients(X, y)``: the reference MLP's own forward + backward (the baseline);
* ``torch``: the same network in PyTorch (float64, CPU), forward + ``loss.backward()``;
* ``diagnose(net, X, y)`` on the healthy (He) network: record + judge + input audit;
* ``diagnose(net, X)`` with the probe gradient (no labels);
* ``diagnose`` on the LeCun-initialized (vanishing) network: one extra pass verifies the fix.

Run: ``.venv/bin/python benchmarks/signal_diagnose.py [--width 1024 --depth 50 --repeat 3]``.
Prints markdown table rows.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

import trainready as tr


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--depth", type=int, default=50)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (default: library's)")
    args = ap.parse_args()
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.threads)
    rng = np.random.default_rng(0)
    dims = [args.width] * args.depth + [1]
    X = rng.standard_normal((args.batch, args.width))
    y = (rng.random(args.batch) > 0.5).astype(float)
    he = tr.nn.MLP(dims, activation="relu", output="sigmoid", init="he", rng=0)
    lecun = tr.nn.MLP(dims, activation="relu", output="sigmoid", init="lecun", rng=0)

    import torch

    layers: list[torch.nn.Module] = []
    for l in range(1, len(dims)):
        lin = torch.nn.Linear(dims[l - 1], dims[l], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(he.params[f"W{l}"]))
            lin.bias.zero_()
        layers += [lin, torch.nn.ReLU()] if l < len(dims) - 1 else [lin]
    tnet = torch.nn.Sequential(*layers)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y).reshape(-1, 1)

    def torch_pass() -> None:
        tnet.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(tnet(tX), ty)
        loss.backward()

    cases: dict[str, Callable[[], object]] = {
        "MLP.gradients (1 forward + backward)": lambda: he.gradients(X, y),
        "torch forward + backward (float64)": torch_pass,
        "diagnose(net, X, y), He": lambda: tr.diagnose(he, X, y),
        "diagnose(net, X), He, probe gradient": lambda: tr.diagnose(he, X),
        "diagnose(net, X, y), LeCun (1 fix verified)": lambda: tr.diagnose(lecun, X, y),
    }
    for fn in cases.values():  # warm up (allocations, BLAS threads)
        fn()
    # interleave the repeats so that load changes hit every case alike
    wall: dict[str, list[float]] = {k: [] for k in cases}
    cpu: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.repeat):
        for k, fn in cases.items():
            w, c = timed(fn)
            wall[k].append(w)
            cpu[k].append(c)
    ref = "MLP.gradients (1 forward + backward)"
    base_w, base_c = statistics.median(wall[ref]), statistics.median(cpu[ref])
    d = tr.diagnose(lecun, X, y)
    print(
        f"<!-- {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"numpy {np.__version__}, torch {torch.__version__}; depth {args.depth}, width "
        f"{args.width}, batch {args.batch}, BLAS threads {args.threads or 'default'}, "
        f"median of {args.repeat} -->"
    )
    print("| case | wall (s) | x one fwd+bwd (wall) | CPU (s) | x one fwd+bwd (CPU) |")
    print("|---|---:|---:|---:|---:|")
    for k in cases:
        w, c = statistics.median(wall[k]), statistics.median(cpu[k])
        print(f"| {k} | {w:.3f} | {w / base_w:.2f} | {c:.3f} | {c / base_c:.2f} |")
    print(f"\nLeCun findings: {d.kinds()}; fix: {d.findings[0].fix}")


if __name__ == "__main__":
    main()
