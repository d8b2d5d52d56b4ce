"""Throughput and peak memory of trainready's scalers vs scikit-learn, side by side.

1e6 x 100 float32 (override with --rows/--features): fit on the whole array, partial_fit over
10k-row chunks, transform; StandardScaler and MinMaxScaler. Peak memory is the largest extra
allocation tracemalloc sees during the call (NumPy reports its buffers to tracemalloc). Then the
precision row: relative variance error at a mean offset of 1e9 (200k rows, std 1, 1000-row chunks)
against the exact value computed with integers.

Run: .venv/bin/python benchmarks/normalize_throughput.py   (about a minute)
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
import warnings
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import sklearn
from sklearn import preprocessing as skp

import trainready as tr


def measure(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Best wall time over ``repeat`` runs, and the peak extra memory (MiB) of one run."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return best, peak / 2**20


def exact_var(x: np.ndarray) -> Fraction:
    ratios = [float(v).as_integer_ratio() for v in x]
    shift = max(d for _, d in ratios).bit_length() - 1
    ints = [num * ((1 << shift) // den) for num, den in ratios]
    n, s1, s2 = len(ints), sum(ints), sum(i * i for i in ints)
    return Fraction(s2 * n - s1 * s1, n * n * (1 << (2 * shift)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--features", type=int, default=100)
    ap.add_argument("--chunk", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.rows, args.features), dtype=np.float32)
    X *= rng.uniform(0.1, 100, args.features).astype(np.float32)
    X += rng.uniform(-1e3, 1e3, args.features).astype(np.float32)
    n, c = args.rows, args.chunk
    chunks = [X[i : i + c] for i in range(0, n, c)]

    def stream(make: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            sc = make()
            for ch in chunks:
                sc.partial_fit(ch)
            return sc

        return run

    print(
        f"# {n} x {args.features} float32, {c}-row chunks; numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}, {platform.processor() or platform.machine()}"
    )
    print(
        "| scaler | operation | scikit-learn rows/s | trainready rows/s | speed-up |"
        " sklearn peak MiB | trainready peak MiB |"
    )
    print("|---|---|---|---|---|---|---|")
    pairs = [
        ("StandardScaler", skp.StandardScaler, tr.StandardScaler),
        ("MinMaxScaler", skp.MinMaxScaler, tr.MinMaxScaler),
    ]
    for name, sk_cls, tr_cls in pairs:
        sk_fitted, tr_fitted = sk_cls().fit(X), tr_cls().fit(X)
        ops = [
            ("fit", lambda k=sk_cls: k().fit(X), lambda k=tr_cls: k().fit(X)),
            ("partial_fit (chunks)", stream(sk_cls), stream(tr_cls)),
            ("transform", lambda s=sk_fitted: s.transform(X), lambda s=tr_fitted: s.transform(X)),
        ]
        for op, sk_fn, tr_fn in ops:
            sk_t, sk_m = measure(sk_fn, args.repeat)
            tr_t, tr_m = measure(tr_fn, args.repeat)
            print(
                f"| {name} | {op} | {n / sk_t / 1e6:.2f}M | {n / tr_t / 1e6:.2f}M | "
                f"{sk_t / tr_t:.2f}x | {sk_m:.1f} | {tr_m:.1f} |"
            )
    # precision at a mean offset of 1e9
    x = 1e9 + np.random.default_rng(42).standard_normal(200_000)
    exact = exact_var(x)
    ours, ref = tr.StandardScaler(), skp.StandardScaler()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(0, len(x), 1000):
            ours.partial_fit(x[i : i + 1000, None])
            ref.partial_fit(x[i : i + 1000, None])
    raw = (np.sum(x * x) - np.sum(x) ** 2 / len(x)) / len(x)

    def rel(v: float) -> str:
        return f"{abs(float((Fraction(v) - exact) / exact)):.1e}"

    print()
    print("| variance at mean offset 1e9 (200k rows, std 1, 1000-row chunks) | relative error |")
    print("|---|---|")
    print(f"| raw sums of squares | {rel(float(raw))} |")
    print(f"| scikit-learn StandardScaler.partial_fit | {rel(float(ref.var_[0]))} |")
    print(f"| trainready StandardScaler.partial_fit | {rel(float(ours.var_[0]))} |")


if __name__ == "__main__":
    main()
