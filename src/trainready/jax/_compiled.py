"""The numeric side's calls of a JAX function: eager at first, then through ``jax.jit``.

A gradient check calls the function 2N + 2 times for N elements; called eagerly, each call pays
JAX's per-operation dispatch, so a 1,000-element check of a 3-op loss spends about 1 s where
the compiled function needs a tenth of that. Compiling costs time too (0.05-0.2 s for a small
function), more than a short check (probes, samples, a few dozen elements) spends in all.
:class:`Compiled` therefore calls the function eagerly until the eager calls have taken
:data:`EAGER_SECONDS` (the rent-or-buy rule: at most twice the better choice's time), and
never before :data:`MIN_EAGER` calls -- the core's determinism test, two calls at the same
parameters, must see a loss that splits a closed-over key differently on every call, which a
trace would freeze. A function ``jax.jit`` cannot trace (Python control flow on values, NumPy
calls on arrays) stays eager, with the same results. Compiled and eager results may differ in
the last bits (XLA fuses and reorders); that is within the rounding noise the core assumes for
the loss's type.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from ..gradcheck import AUTO_FULL_MAX
from ._tree import to_jax

__all__ = ["EAGER_SECONDS", "MIN_EAGER", "Compiled", "worth_compiling"]

#: Eager time spent before compiling: about what compiling a small function costs.
EAGER_SECONDS = 0.1
#: Calls always made eagerly (the core's determinism test is the first two).
MIN_EAGER = 2


def worth_compiling(mode: str, n_elements: int) -> bool:
    """Whether a check in ``mode`` of ``n_elements`` may make enough calls to repay a
    compilation: element checks do (2N + 2 calls), probe checks (30-40 calls, on models large
    enough that compiling them can take seconds) are left eager."""
    return mode in ("full", "sample") or (mode == "auto" and n_elements <= AUTO_FULL_MAX)


class Compiled:
    """``fn(leaves)`` of the core's named float64 arrays: eager until the eager calls took
    ``budget`` seconds (default :data:`EAGER_SECONDS`) and at least ``min_eager`` calls were
    made, then ``jax.jit(fn)`` if it traces (never with ``compile=False``).

    Eager calls get JAX arrays, converting only the arrays that changed since the last call (an
    element check changes one element of one array; a conversion costs about 40 us). Compiled
    calls get NumPy copies, which the compiled function takes in about a third of that time.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> with jax.enable_x64(True):
        ...     f = Compiled(lambda xs: jnp.sum(jnp.sin(xs[0])), ["x"], min_eager=1, budget=0)
        ...     values = [round(float(f({"x": np.ones(3)})), 6) for _ in range(3)]
        >>> values, f.compiled
        ([2.524413, 2.524413, 2.524413], True)
    """

    def __init__(
        self,
        fn: Callable[[list[Any]], Any],
        names: list[str],
        *,
        min_eager: int = MIN_EAGER,
        budget: float | None = None,
        compile: bool = True,
    ) -> None:
        self._fn = fn
        self._names = names
        self._min_eager = min_eager
        self._budget = EAGER_SECONDS if budget is None else budget
        self._calls = 0
        self._eager_seconds = 0.0
        self._jitted: Callable[..., Any] | None = None
        self._traceable = compile  # False: always eager
        self._bits: dict[str, np.ndarray] = {}
        self._arrays: dict[str, jax.Array] = {}

    @property
    def compiled(self) -> bool:
        """Whether later calls run the compiled function."""
        return self._jitted is not None

    def __call__(self, values: dict[str, np.ndarray]) -> Any:
        self._calls += 1
        if self._jitted is not None:
            return self._jitted([np.array(values[n], np.float64) for n in self._names])
        if (
            not self._traceable
            or self._calls <= self._min_eager
            or self._eager_seconds < self._budget
        ):
            start = time.perf_counter()
            out = self._fn(self._changed(values))
            self._eager_seconds += time.perf_counter() - start
            return out
        jitted = jax.jit(self._fn)
        try:
            out = jitted([np.array(values[n], np.float64) for n in self._names])
            out = jax.block_until_ready(out)  # type: ignore[no-untyped-call]
        except Exception:  # not traceable: stay eager (a real error re-raises there)
            self._traceable = False
            return self._fn(self._changed(values))
        self._jitted = jitted
        return out

    def _changed(self, values: dict[str, np.ndarray]) -> list[jax.Array]:
        """JAX copies of ``values``, converting only those whose bits changed (a NaN or a -0.0
        is never mistaken for its neighbour)."""
        out: list[jax.Array] = []
        for name in self._names:
            bits = np.ascontiguousarray(values[name], dtype=np.float64).view(np.uint64)
            last = self._bits.get(name)
            if last is None or last.shape != bits.shape or not np.array_equal(last, bits):
                self._bits[name] = bits.copy()
                self._arrays[name] = to_jax(values[name])
            out.append(self._arrays[name])
        return out
