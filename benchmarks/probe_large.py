"""Probe mode at N = 1e6 and 1e7: one median-magnitude element 1% wrong, found or not.

The loss is ``sum(sin(x))`` (its gradient ``cos(x)``); the bug multiplies one element of
median |cos| by 1.01 — a directional derivative moves by about 1e-2 / sqrt(N) of itself, which
only an error estimate (not a fixed tolerance) can tell from noise. Per seed: the verdict, the
element found, loss calls, seconds, and peak memory traced during the check, as a multiple of
the parameter vector: the check's own allocations (measured with a loss that allocates
nothing: ``np.sin(x, out=buffer)``), and with the everyday loss ``np.sum(np.sin(x))`` whose
temporary adds one vector.

    .venv/bin/python benchmarks/probe_large.py            # N = 1e6 and 1e7, 3 seeds each
"""

from __future__ import annotations

import sys
import time
import tracemalloc

import numpy as np

import trainready as tr


def run(n: int, seed: int, allocating: bool) -> tuple[str, bool, int, float, float]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    g = np.cos(x)
    k = int(np.argsort(np.abs(g))[n // 2])
    g[k] *= 1.01
    buf = np.empty(n)

    def loss(p: dict[str, np.ndarray]) -> float:
        if allocating:
            return float(np.sum(np.sin(p["x"])))
        np.sin(p["x"], out=buf)
        return float(buf.sum())

    tracemalloc.start()
    t = time.perf_counter()
    rep = tr.gradcheck(loss, {"x": x}, {"x": g}, mode="probe", rng=seed)
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / x.nbytes
    tracemalloc.stop()
    found = rep.params["x"].worst_index == (k,)
    return rep.verdict, found, rep.evaluations, seconds, peak


def main() -> None:
    sizes = [int(float(a)) for a in sys.argv[1:]] or [10**6, 10**7]
    print("| N | seed | verdict | 1% element found | loss calls | s | peak memory (own) | "
          "peak memory (with np.sum(np.sin(x))) |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        for seed in range(3):
            verdict, found, calls, seconds, own = run(n, seed, allocating=False)
            _, _, _, _, total = run(n, seed, allocating=True)
            print(f"| {n:.0e} | {seed} | {verdict} | {found} | {calls} | {seconds:.1f} | "
                  f"{own:.1f}× | {total:.1f}× |")


if __name__ == "__main__":
    main()
