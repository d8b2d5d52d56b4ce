"""Time per training step and peak memory of trainready.nn.MLP.fit against PyTorch CPU and a
minimal hand-written NumPy loop, side by side in one process.

The network: 784-256-256-10, ReLU, softmax cross-entropy, mini-batches of 128 reshuffled every
epoch, plain gradient descent, float32 and float64. All three do the same arithmetic per step
(gather the batch, forward, loss value, backward, update) and reach the same loss (checked).
Time per step is taken per epoch of 4 steps; reported is the fastest epoch (the machine is
shared: preemption only ever adds time) and the median, over rounds of the three interleaved.

Peak memory: each contender trains two epochs in a fresh subprocess; reported is the peak
resident memory during training minus the resident memory just before it (data, model and
imports excluded), and for the NumPy contenders also tracemalloc's peak of NumPy allocations.

Run: ``.venv/bin/python benchmarks/nn_train_step.py`` (under a minute on an idle machine;
``--quick`` for less).
Prints markdown table rows.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import subprocess
import sys
import time
import tracemalloc

import numpy as np

DIMS = [784, 256, 256, 10]
BATCH = 128
LR = 0.01


def flops_per_step(batch: int = BATCH) -> int:
    """Multiply-adds x 2 of the matrix products: forward, dW of every layer, dX of layers 2..L."""
    pairs = list(itertools.pairwise(DIMS))
    fwd = sum(2 * batch * a * b for a, b in pairs)
    dx = sum(2 * batch * a * b for a, b in pairs[1:])
    return 2 * fwd + dx


def make_data(n: int, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, DIMS[0])).astype(dtype)
    y = rng.integers(0, DIMS[-1], n)
    return X, y


def init_params(dtype: type) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    p = {}
    for l in range(1, len(DIMS)):
        p[f"W{l}"] = (
            rng.standard_normal((DIMS[l], DIMS[l - 1])) * np.sqrt(2 / DIMS[l - 1])
        ).astype(dtype)
        p[f"b{l}"] = np.zeros(DIMS[l], dtype)
    return p


# ------------------------------------------------------------------ the contenders


def run_trainready(X, y, params, epochs: int, ends: list[float]) -> float:
    import trainready as tr

    net = tr.nn.MLP(DIMS, activation="relu", output="softmax", init=params, dtype=X.dtype)
    hist = net.fit(
        X,
        y,
        lr=LR,
        epochs=epochs,
        batch_size=BATCH,
        optimizer="gd",
        rng=0,
        callback=lambda info: ends.append(time.perf_counter()),  # a callback is part of the cost
    )
    return hist.loss[-1]


def run_numpy_loop(X, y, params, epochs: int, ends: list[float]) -> float:
    """The minimal loop: what one writes by hand, with the same arithmetic."""
    W1, b1, W2, b2, W3, b3 = (params[k].copy() for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    rng = np.random.default_rng(0)
    m = X.shape[0]
    loss = 0.0
    for _ in range(epochs):
        perm = rng.permutation(m)
        total = 0.0
        for i in range(0, m, BATCH):
            idx = perm[i : i + BATCH]
            xb, yb = X[idx], y[idx]
            n = xb.shape[0]
            rows = np.arange(n)
            z1 = xb @ W1.T + b1
            a1 = np.maximum(z1, 0)
            z2 = a1 @ W2.T + b2
            a2 = np.maximum(z2, 0)
            z3 = a2 @ W3.T + b3
            z3 -= z3.max(axis=1, keepdims=True)
            e = np.exp(z3)
            s = e.sum(axis=1, keepdims=True)
            total += float(np.sum(np.log(s[:, 0]) - z3[rows, yb]))
            dz3 = e / s
            dz3[rows, yb] -= 1
            dz3 /= n
            dW3, db3 = dz3.T @ a2, dz3.sum(axis=0)
            dz2 = (dz3 @ W3) * (a2 > 0)
            dW2, db2 = dz2.T @ a1, dz2.sum(axis=0)
            dz1 = (dz2 @ W2) * (a1 > 0)
            dW1, db1 = dz1.T @ xb, dz1.sum(axis=0)
            W1 -= LR * dW1
            b1 -= LR * db1
            W2 -= LR * dW2
            b2 -= LR * db2
            W3 -= LR * dW3
            b3 -= LR * db3
        loss = total / m  # the epoch's mean batch loss, as History.loss
        ends.append(time.perf_counter())
    return loss


def run_torch(X, y, params, epochs: int, ends: list[float]) -> float:
    import torch

    torch.set_num_threads(2)
    dt = torch.float32 if X.dtype == np.float32 else torch.float64
    layers = []
    for l in range(1, len(DIMS)):
        lin = torch.nn.Linear(DIMS[l - 1], DIMS[l], dtype=dt)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(params[f"W{l}"]))
            lin.bias.copy_(torch.from_numpy(params[f"b{l}"]))
        layers += [lin, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    lossf = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    rng = np.random.default_rng(0)
    m = X.shape[0]
    loss = 0.0
    for _ in range(epochs):
        perm = torch.from_numpy(rng.permutation(m))
        total = 0.0
        for i in range(0, m, BATCH):
            idx = perm[i : i + BATCH]
            opt.zero_grad(set_to_none=False)
            out = lossf(model(Xt[idx]), yt[idx])
            out.backward()
            opt.step()
            total += float(out.item()) * idx.shape[0]
        loss = total / m
        ends.append(time.perf_counter())
    return loss


CONTENDERS = {"trainready": run_trainready, "numpy_loop": run_numpy_loop, "torch": run_torch}


# ------------------------------------------------------------------ measurement


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(name: str, dtype_name: str, n: int) -> None:
    """Run in a subprocess: print JSON with the peak RSS increase over the first two epochs
    (model and data built, imports done; Linux: the high-water mark is reset through
    /proc/self/clear_refs) and, for the NumPy contenders, tracemalloc's peak of one epoch."""
    dtype = np.dtype(dtype_name).type
    X, y = make_data(n, dtype)
    params = init_params(dtype)
    if name == "torch":  # imports before the baseline; the first epochs are measured
        import torch

        torch.set_num_threads(2)
    else:
        import trainready  # noqa: F401
    gc.collect()
    before = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    CONTENDERS[name](X, y, params, 2, [])
    rss_increase = _status_kib("VmHWM") - before
    traced = None
    if name != "torch":
        tracemalloc.start()
        CONTENDERS[name](X, y, params, 1, [])
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(json.dumps({"rss": rss_increase, "traced": traced}))


def measure_memory(name: str, dtype_name: str, n: int) -> dict[str, int | None]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", name, dtype_name, str(n)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds")
    ap.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child[0], args.memory_child[1], int(args.memory_child[2]))
        return

    import torch

    torch.set_num_threads(2)
    steps_per_epoch = 4
    n = BATCH * steps_per_epoch
    epochs = 10 if args.quick else 20
    rounds = 2 if args.quick else 3
    gflop = flops_per_step() / 1e9
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, numpy "
        f"{np.__version__} (OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
        f"), torch {torch.__version__} (2 threads); {DIMS}, batch {BATCH}; time per step = the fastest epoch of "
        f"{steps_per_epoch} steps among {rounds} interleaved rounds x {epochs - 1} epochs "
        "(median in parentheses)"
    )
    print()
    print(
        "| dtype | trainready ms/step | minimal NumPy ms/step | PyTorch ms/step | trainready / "
        "NumPy | trainready / PyTorch | trainready GFLOP/s | peak extra memory (trainready / "
        "NumPy / PyTorch) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for dtype in (np.float32, np.float64):
        X, y = make_data(n, dtype)
        params = init_params(dtype)
        losses = {name: f(X, y, params, 2, []) for name, f in CONTENDERS.items()}  # warm-up
        per_step: dict[str, list[float]] = {name: [] for name in CONTENDERS}
        for _ in range(rounds):
            for name, f in CONTENDERS.items():
                ends: list[float] = []
                losses[name] = f(X, y, params, epochs, ends)
                per_step[name] += [(b - a) / steps_per_epoch for a, b in itertools.pairwise(ends)]
        best = {k: min(v) for k, v in per_step.items()}
        med = {k: float(np.median(v)) for k, v in per_step.items()}
        # same arithmetic: the three reach the same loss
        spread = max(losses.values()) - min(losses.values())
        tol = 1e-3 if dtype == np.float32 else 1e-9
        if spread > tol:
            raise SystemExit(f"contenders disagree on the final loss: {losses}")
        mem = {name: measure_memory(name, np.dtype(dtype).name, n) for name in CONTENDERS}

        def mib(v: int | None) -> str:
            return "n/a" if v is None else f"{v / 2**20:.1f}"

        mem_cell = (
            " / ".join(
                f"{mib(mem[k]['rss'])}"
                + (f" (traced {mib(mem[k]['traced'])})" if mem[k]["traced"] else "")
                for k in CONTENDERS
            )
            + " MiB"
        )
        t, npl, pt = (best[k] * 1e3 for k in ("trainready", "numpy_loop", "torch"))
        tm, nm, pm = (med[k] * 1e3 for k in ("trainready", "numpy_loop", "torch"))
        print(
            f"| {np.dtype(dtype).name} | {t:.2f} ({tm:.2f}) | {npl:.2f} ({nm:.2f}) | "
            f"{pt:.2f} ({pm:.2f}) | {t / npl:.3f}x ({tm / nm:.3f}x) | {t / pt:.3f}x "
            f"({tm / pm:.3f}x) | {gflop / (t / 1e3):.1f} | {mem_cell} |"
        )


if __name__ == "__main__":
    main()
