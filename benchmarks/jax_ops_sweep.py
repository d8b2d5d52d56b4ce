"""trainready vs jax.test_util.check_grads on JAX's own ops, every sample in every variant.

The samples of ``tests/test_jax_ops.py`` (``tests/jax_ops_harness.py``): JAX's op table
(``lax_test_util.lax_ops()``, float64, inputs from each op's ``rng_factory`` at shapes (3,) and
(3, 4)/(3, 1)/(1, 4)), ``jax.nn``, ``jax.scipy.special``, ``jnp.linalg`` (3x3 and 4x4). Each
sample in three variants -- reverse mode (``check_function`` defaults), forward and reverse
(``modes=("fwd", "rev")``), order 2 -- each against ``check_grads`` with the same order and
modes. Prints markdown: per family, samples and checks, trainready ok / check / wrong / crash,
check_grads pass / fail / raise, the false alarms (check_grads passes, trainready not ok) and
crashes (trainready raises where check_grads does not); then every check where check_grads did not pass, with what trainready said.

    .venv/bin/python benchmarks/jax_ops_sweep.py
    .venv/bin/python benchmarks/jax_ops_sweep.py --variants rev --jsonl out.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from jax_ops_harness import all_cases, oracle, run_trainready

VARIANTS: dict[str, tuple[dict[str, Any], int, tuple[str, ...]]] = {
    "rev": ({}, 1, ("rev",)),
    "fwd+rev": ({"modes": ("fwd", "rev")}, 1, ("fwd", "rev")),
    "order2": ({"order": 2}, 2, ("rev",)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--jsonl", type=Path, help="one JSON line per check")
    ns = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = all_cases()
    start = time.perf_counter()
    rows = []
    for case in cases:
        no_derivative = False
        for variant in ns.variants:
            if no_derivative:
                break  # check_grads cannot differentiate it at all: nothing more to compare
            options, order, modes = VARIANTS[variant]
            cg, why = oracle(case, order, modes)
            no_derivative = variant == "rev" and cg == "raise"
            verdict, summary = run_trainready(case, **options)
            rows.append(
                dict(
                    family=case.family,
                    op=case.name,
                    label=case.label,
                    variant=variant,
                    cg=cg,
                    cg_why=why,
                    tr=verdict,
                    tr_summary=summary,
                )
            )
    wall = time.perf_counter() - start
    if ns.jsonl:
        ns.jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))

    print(f"{len(cases)} samples, {len(rows)} checks, {wall:.0f} s\n")
    print(
        "| family | ops | samples | checks | trainready ok / check / wrong / raise "
        "| check_grads pass / fail / raise | false alarms | crashes |"
    )
    print("|---|---:|---:|---:|---|---|---:|---:|")
    for family in ("lax", "nn", "special", "linalg", None):
        sel = [r for r in rows if family is None or r["family"] == family]
        fam_cases = [c for c in cases if family is None or c.family == family]
        t, c = Counter(r["tr"] for r in sel), Counter(r["cg"] for r in sel)
        false = sum(r["cg"] == "pass" and r["tr"] != "ok" for r in sel)
        crash = sum(r["cg"] != "raise" and r["tr"] == "crash" for r in sel)
        print(
            f"| {family or '**all**'} | {len({x.name for x in fam_cases})} | {len(fam_cases)} "
            f"| {len(sel)} | {t['ok']} / {t['check']} / {t['wrong']} / {t['crash']} "
            f"| {c['pass']} / {c['fail']} / {c['raise']} | {false} | {crash} |"
        )
    print("\nWhere check_grads does not pass (op: variants, check_grads -> trainready):\n")
    seen: dict[str, list[str]] = {}
    for r in rows:
        if r["cg"] != "pass" or r["tr"] != "ok":
            said = "raise" if r["tr"] == "crash" else r["tr"]
            seen.setdefault(r["op"], []).append(f"{r['variant']} {r['cg']} -> {said}")
    for op, items in seen.items():
        tally = Counter(items)
        print(f"- {op}: " + ", ".join(f"{k} ×{n}" for k, n in tally.items()))
    print("\n(raise: the function has no derivative JAX can compute that way; trainready raises")
    print("JAX's own error, as check_grads does.)")


if __name__ == "__main__":
    main()
