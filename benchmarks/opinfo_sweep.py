"""trainready vs torch.autograd.gradcheck on PyTorch's own gradient test data (OpInfo).

Every op of ``op_db`` that supports autograd in float64 on the CPU, up to ``--per-op`` samples
each (the first, middle and last usable one), the checked function built as torch's
``TestGradients`` builds it (``tests/opinfo_harness.py``). For each sample, in one process:
torch's slow mode (``fast_mode=False``: the verdict to agree with), torch's fast mode, and
``tr.torch.check_function`` (mode "full" up to 2,000 elements, "auto" above), each under a
per-sample timeout. Prints markdown: verdict counts (crashes, false alarms where torch's slow
mode passes), then forward calls and wall time per size bucket, medians and the median of the
per-sample ratio trainready / torch slow.

    .venv/bin/python benchmarks/opinfo_sweep.py            # all ops, 3 samples each
    .venv/bin/python benchmarks/opinfo_sweep.py --per-op 1 --jsonl out.jsonl
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import torch

import trainready as tr
from opinfo_harness import Case, cases, differentiable_ops, torch_slow_verdict

BUCKETS = [(0, 0), (1, 10), (11, 100), (101, 500), (501, 2000), (2001, 10**9)]


class Timeout(BaseException):  # not swallowed by the checkers
    pass


def _alarm(*_: Any) -> None:
    raise Timeout


def _counted(case: Case) -> tuple[Any, list[int]]:
    calls = [0]

    def fn(*args: Any) -> Any:
        calls[0] += 1
        return case.fn(*args)

    return fn, calls


def run_torch(case: Case, fast: bool) -> tuple[bool | None, int, float]:
    fn, calls = _counted(case)
    t = time.perf_counter()
    ok = torch_slow_verdict(case, fast=fast, fn=fn)
    return ok, calls[0], time.perf_counter() - t


def run_ours(case: Case) -> tuple[str, int, float, str]:
    fn, calls = _counted(case)
    mode = "full" if case.numel <= 2000 else "auto"
    t = time.perf_counter()
    try:
        rep = tr.torch.check_function(fn, *case.args, mode=mode)
    except Timeout:
        raise
    except Exception as exc:
        return "crash", calls[0], time.perf_counter() - t, f"{type(exc).__name__}: {exc}"[:300]
    detail = "" if rep.passed else rep.summary()[:300]
    return rep.verdict, calls[0], time.perf_counter() - t, detail


def sweep(per_op: int, timeout: int, out: Any) -> list[dict[str, Any]]:
    records = []
    signal.signal(signal.SIGALRM, _alarm)
    for case in cases(differentiable_ops(), per_op):
        rec: dict[str, Any] = {"name": case.name, "numel": case.numel}
        signal.alarm(timeout)
        try:
            rec["torch"], rec["torch_calls"], rec["torch_s"] = run_torch(case, fast=False)
            rec["fast"], rec["fast_calls"], rec["fast_s"] = run_torch(case, fast=True)
            rec["tr"], rec["tr_calls"], rec["tr_s"], rec["detail"] = run_ours(case)
        except Timeout:
            rec.setdefault("tr", "timeout")
        finally:
            signal.alarm(0)
        records.append(rec)
        if out is not None:
            out.write(json.dumps(rec) + "\n")
            out.flush()
    return records


def report(records: list[dict[str, Any]]) -> str:
    lines = []
    verdicts = Counter((r.get("torch"), r["tr"]) for r in records)
    passes = [r for r in records if r.get("torch") is True]
    crashes = [r for r in records if r["tr"] in ("crash", "timeout")]
    false_alarms = [r for r in passes if r["tr"] not in ("ok", "crash", "timeout")]
    lines.append(f"samples: {len(records)}, ops: {len({r['name'].split('[')[0] for r in records})}")
    lines.append(f"torch slow mode passes: {len(passes)}; trainready on those: "
                 f"{sum(r['tr'] == 'ok' for r in passes)} ok, {len(false_alarms)} false alarms, "
                 f"{sum(r['tr'] in ('crash', 'timeout') for r in passes)} crashes/timeouts")
    lines.append(f"all crashes/timeouts (any torch verdict): {len(crashes)}")
    lines.append("")
    lines.append("| torch slow | trainready | samples |")
    lines.append("|---|---|---|")
    for (tv, ours), k in sorted(verdicts.items(), key=lambda x: -x[1]):
        lines.append(f"| {tv} | {ours} | {k} |")
    lines.append("")
    lines.append("| elements | samples | forward calls torch slow / ours (median) | wall s torch slow "
                 "/ ours (median) | median ratio ours / torch slow (wall) | torch fast wall s |")
    lines.append("|---|---|---|---|---|---|")
    for lo, hi in BUCKETS:
        rs = [r for r in passes if lo <= r["numel"] <= hi and "tr_s" in r and r["tr"] == "ok"]
        if not rs:
            continue
        ratio = statistics.median(r["tr_s"] / max(r["torch_s"], 1e-9) for r in rs)
        label = f"{lo}" if lo == hi else (f"{lo}-{hi}" if hi < 10**9 else f"> {lo - 1}")
        lines.append(
            f"| {label} | {len(rs)} | {statistics.median(r['torch_calls'] for r in rs):.0f} / "
            f"{statistics.median(r['tr_calls'] for r in rs):.0f} | "
            f"{statistics.median(r['torch_s'] for r in rs):.4f} / "
            f"{statistics.median(r['tr_s'] for r in rs):.4f} | {ratio:.2f} | "
            f"{statistics.median(r['fast_s'] for r in rs):.4f} |"
        )
    for r in crashes + false_alarms:
        lines.append(f"- {r['name']} (N = {r['numel']}): {r['tr']} {r.get('detail', '')}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-op", type=int, default=3)
    parser.add_argument("--timeout", type=int, default=120, help="seconds per sample")
    parser.add_argument("--jsonl", type=Path, help="also write one JSON record per sample")
    parser.add_argument("--from-jsonl", type=Path, help="only print the report of a past run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    if args.from_jsonl:
        records = [json.loads(line) for line in args.from_jsonl.read_text().splitlines()]
    else:
        out = args.jsonl.open("w") if args.jsonl else None
        records = sweep(args.per_op, args.timeout, out)
    print(report(records))


if __name__ == "__main__":
    main()
