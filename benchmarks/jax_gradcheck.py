"""trainready.jax.check_function vs jax.test_util.check_grads, side by side, in one process.

Two correct float32 functions, sum(sin x) and logsumexp(x) (float32 inside, whatever comes in),
at N = 47 ... 1e6, over several PRNG keys (x ~ N(0, 1) from jax.random.key(s)):

- false failures: check_grads raising / trainready saying "wrong" on the correct gradient
  ("check" verdicts are counted apart: "look again", not a failure);
- detection: a custom_vjp with the true VJP but ONE element 1% off (at a key-dependent
  position); "tr where": trainready said wrong AND named that element; "tr sees": the median
  relative error trainready's check could have seen (``report.resolution``: a float32
  function limits it);
- calls of fn (check_grads: a Python counter around it; trainready: the report's evaluations
  plus the one VJP, since it compiles fn after 0.1 s of eager calls) and wall time per check
  (compilation included).

check_grads runs as users run it on float32 code: x64 off, order=1, modes=("rev",). Fewer keys
at the large N keep the run within a few minutes on 2 cores (the table says how many).

Run: .venv/bin/python benchmarks/jax_gradcheck.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.test_util import check_grads

import trainready as tr

CALLS = [0]


def sum_sin(v: Any) -> Any:
    return jnp.sum(jnp.sin(v.astype(jnp.float32)))


def logsumexp(v: Any) -> Any:
    return jax.nn.logsumexp(v.astype(jnp.float32))


def counted(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def wrapper(v: Any) -> Any:
        CALLS[0] += 1
        return fn(v)

    return wrapper


def one_element_off(fn: Callable[[Any], Any], index: int) -> Callable[[Any], Any]:
    """fn with its true VJP, except element ``index`` of the cotangent 1% too large."""

    @jax.custom_vjp
    def f(v: Any) -> Any:
        return fn(v)

    def bwd(v: Any, g: Any) -> Any:
        (dv,) = jax.vjp(fn, v)[1](g)
        return (dv * jnp.ones_like(dv).at[index].set(1.01),)

    f.defvjp(lambda v: (fn(v), v), bwd)
    return f


def run_check_grads(fn: Callable[[Any], Any], x: Any) -> tuple[bool, int, float]:
    CALLS[0] = 0
    start = time.perf_counter()
    try:
        check_grads(counted(fn), (x,), order=1, modes=("rev",))
        raised = False
    except AssertionError:
        raised = True
    return raised, CALLS[0], time.perf_counter() - start


def run_trainready(fn: Callable[[Any], Any], x: Any) -> tuple[Any, int, float]:
    # trainready compiles fn after 0.1 s of eager calls, so a Python counter counts traces:
    # the report's own count of evaluations, plus the one VJP, is the number of calls
    start = time.perf_counter()
    rep = tr.jax.check_function(fn, x)
    return rep, rep.evaluations + 1, time.perf_counter() - start


def measure(name: str, fn: Callable[[Any], Any], n: int, keys: int) -> dict[str, Any]:
    row: dict[str, Any] = dict(fn=name, n=n, keys=keys, cg_false=0, tr_false=0, tr_check=0)
    row.update(cg_hit=0, tr_hit=0, tr_where=0)
    cg_calls, tr_calls, cg_time, tr_time, seen = [], [], [], [], []
    for s in range(keys):
        x = jax.random.normal(jax.random.key(s), (n,), dtype=jnp.float32)
        raised, calls, secs = run_check_grads(fn, x)
        row["cg_false"] += raised
        cg_calls.append(calls)
        cg_time.append(secs)
        rep, calls, secs = run_trainready(fn, x)
        row["tr_false"] += rep.verdict == "wrong"
        row["tr_check"] += rep.verdict == "check"
        tr_calls.append(calls)
        tr_time.append(secs)
        index = (s * 7919 + 3) % n
        bad = one_element_off(fn, index)
        row["cg_hit"] += run_check_grads(bad, x)[0]
        rep = run_trainready(bad, x)[0]
        row["tr_hit"] += rep.verdict == "wrong"
        row["tr_where"] += rep.verdict == "wrong" and rep.params["arg0"].worst_index == (index,)
        seen.append(rep.resolution)
    row.update(
        cg_calls=float(np.mean(cg_calls)),
        tr_calls=float(np.mean(tr_calls)),
        cg_time=float(np.mean(cg_time)),
        tr_time=float(np.mean(tr_time)),
        tr_sees=float(np.median(seen)),
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N up to 1e4, 5 keys")
    args = parser.parse_args()
    if args.quick:
        plan = [(47, 5), (1000, 5), (10_000, 3)]
    else:
        plan = [(47, 20), (1000, 20), (10_000, 10), (100_000, 4), (1_000_000, 2)]
    print(
        f"jax {jax.__version__}, trainready {tr.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs; x64 {jax.config.read('jax_enable_x64')}"
    )
    head = (
        f"{'fn':<10} {'N':>8} {'keys':>4} | {'false fail':>10} {'tr wrong':>8} {'tr check':>8}"
        f" | {'1% found':>8} {'tr found':>8} {'tr where':>8} {'tr sees':>7} | {'cg calls':>8} {'tr calls':>8}"
        f" {'ratio':>6} | {'cg s':>7} {'tr s':>7} {'ratio':>6}"
    )
    print(head)
    print("-" * len(head))
    for n, keys in plan:
        for name, fn in (("sum_sin", sum_sin), ("logsumexp", logsumexp)):
            r = measure(name, fn, n, keys)
            k = r["keys"]
            print(
                f"{r['fn']:<10} {r['n']:>8} {k:>4} | {r['cg_false']:>7}/{k:<2} "
                f"{r['tr_false']:>5}/{k:<2} {r['tr_check']:>5}/{k:<2} | {r['cg_hit']:>5}/{k:<2} "
                f"{r['tr_hit']:>5}/{k:<2} {r['tr_where']:>5}/{k:<2} {r['tr_sees']:>7.0e} | "
                f"{r['cg_calls']:>8.0f} "
                f"{r['tr_calls']:>8.0f} {r['tr_calls'] / r['cg_calls']:>6.0f} | "
                f"{r['cg_time']:>7.3f} {r['tr_time']:>7.3f} {r['tr_time'] / r['cg_time']:>6.1f}",
                flush=True,
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
