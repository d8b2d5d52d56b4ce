"""The command line's timing claims: CSV reading and writing (when a progress bar appears) and
the demo's duration (what ``trainready demo --help`` says).

CSV: a generated file (an ID column of text plus --features numeric columns, written with repr),
read by ``trainready normalize``'s reader (Python's csv module, then NumPy's string-to-float
conversion per column) and written back (shortest round-trip text, csv module) -- beside
``numpy.loadtxt`` and ``pandas.read_csv`` (which drop or mangle the quoted text column: read
here with the ID column skipped) as the peers. Demo: ``python -m trainready demo`` and
``demo --quick`` in a subprocess, wall time, with OMP_NUM_THREADS=1 as in the tests.

Run: .venv/bin/python benchmarks/cli_timings.py [--rows 60000] [--features 8] [--demo]
(about 10 s; --demo adds about a minute).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from trainready.cli._table import read_table


def best(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Best wall time of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def csv_rows(rows: int, features: int, folder: Path) -> None:
    X = np.random.default_rng(0).normal(50.0, 10.0, (rows, features))
    path = folder / "data.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id"] + [f"f{i}" for i in range(features)])
        for i, r in enumerate(X.tolist()):
            w.writerow([f"p{i}"] + [repr(v) for v in r])
    mb = path.stat().st_size / 2**20
    cols = tuple(range(1, features + 1))
    table = read_table(str(path))
    values = table.numeric(cols)

    def ours_read() -> None:
        read_table(str(path)).numeric(cols)

    def ours_write() -> None:
        table.write(folder / "out.csv", cols, values)

    def loadtxt() -> None:
        np.loadtxt(path, delimiter=",", skiprows=1, usecols=cols)

    print(f"| CSV, {rows:,} rows x {features + 1} columns ({mb:.1f} MB) | s | MB/s |")
    print("|---|---|---|")
    for name, fn in [
        ("trainready read (csv module + NumPy conversion)", ours_read),
        ("trainready write (shortest round-trip text, atomic)", ours_write),
        ("numpy.loadtxt (numbers only)", loadtxt),
    ]:
        s = best(fn)
        print(f"| {name} | {s:.2f} | {mb / s:.1f} |")
    try:
        import pandas as pd
    except ImportError:
        return
    s = best(lambda: pd.read_csv(path, usecols=list(range(1, features + 1))))
    print(f"| pandas.read_csv (numbers only) | {s:.2f} | {mb / s:.1f} |")


def demo(folder: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    print("\n| command | wall s |")
    print("|---|---|")
    for args in (["demo", "--quick"], ["demo"]):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "trainready", *args, "--out", str(folder / "report")],
            check=True,
            capture_output=True,
            env=env,
        )
        print(f"| trainready {' '.join(args)} | {time.perf_counter() - t0:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--demo", action="store_true", help="also time the demo (a minute)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_rows(args.rows, args.features, Path(tmp))
        if args.demo:
            demo(Path(tmp))


if __name__ == "__main__":
    main()
