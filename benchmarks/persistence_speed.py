"""What the safe container costs: save and load of a large MLP and scaler, this version vs a commit.

The network is [1024] * 9 + [10] (8.4M float64 parameters, 67 MB); the scaler has 1e6 features.
Best of 3 wall times per operation, npz, on a local disk (``tempfile``). With ``--baseline COMMIT``
the same runs are made on that commit's ``src`` (``git archive``) in a subprocess.

Run: PYTHONPATH=src .venv/bin/python benchmarks/persistence_speed.py --baseline 190e813
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np
from _baseline import run_at_commit


def best(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure() -> dict[str, float]:
    import trainready as tr

    net = tr.nn.MLP([1024] * 9 + [10], output="softmax", rng=0)
    sc = tr.StandardScaler().fit(np.random.default_rng(0).normal(size=(4, 1_000_000)))
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, obj in (("MLP 8.4M params", net), ("StandardScaler 1e6 features", sc)):
            path = os.path.join(tmp, "x.npz")
            out[f"{name}: save"] = best(lambda o=obj, p=path: o.save(p))
            out[f"{name}: load"] = best(lambda o=obj, p=path: type(o).load(p))
    return out


def baseline(commit: str) -> dict[str, float]:
    result: dict[str, float] = run_at_commit(commit, __file__)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    now = measure()
    if args.json:
        print(json.dumps(now))
        return
    then = baseline(args.baseline) if args.baseline else {}
    print(f"| operation (npz) | this version (s) |{f' at {args.baseline} (s) |' if then else ''}")
    print("|---|---|" + ("---|" if then else ""))
    for k, v in now.items():
        print(f"| {k} | {v:.3f} |" + (f" {then[k]:.3f} |" if k in then else ""))


if __name__ == "__main__":
    main()
