"""The numeric side compiles the user's function after a few eager calls, and stays right."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jax")

import jax
import jax.numpy as jnp

import trainready as tr
from trainready.errors import NondeterministicLossError
from trainready.jax import _compiled
from trainready.jax._compiled import Compiled


def test_compiled_calls_equal_eager_calls_and_convert_only_what_changed() -> None:
    seen: list[object] = []

    def fn(xs: list[jax.Array]) -> jax.Array:
        seen.append(type(xs[0]))
        return jnp.sum(jnp.tanh(xs[0]) * xs[1])

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(50), rng.standard_normal(50)
    with jax.enable_x64(True):
        f = Compiled(fn, ["a", "b"], min_eager=3, budget=0.0)
        values = []
        for k in range(8):
            a2 = a.copy()
            a2[k] += 1e-3
            values.append(float(f({"a": a2, "b": b})))
        eager = [float(fn([jnp.asarray(a_k), jnp.asarray(b)])) for a_k in
                 [a + 1e-3 * np.eye(50)[k] for k in range(8)]]
    assert f.compiled
    np.testing.assert_allclose(values, eager, rtol=1e-14)
    # 3 eager calls, one trace, the 8 oracle calls: the compiled calls run no Python
    assert len(seen) == 3 + 1 + 8


def test_a_function_jit_cannot_trace_stays_eager_with_the_same_values() -> None:
    def fn(xs: list[jax.Array]) -> jax.Array:
        if float(jnp.sum(xs[0])) > 0:  # Python control flow on a value: no jax.jit
            return jnp.sum(jnp.sin(xs[0]))
        return jnp.sum(xs[0] ** 2)

    with jax.enable_x64(True):
        f = Compiled(fn, ["x"], min_eager=1, budget=0.0)
        got = [float(f({"x": np.full(4, v)})) for v in (0.5, 0.25, -1.0)]
    assert not f.compiled
    np.testing.assert_allclose(got, [4 * np.sin(0.5), 4 * np.sin(0.25), 4.0], rtol=1e-15)


@pytest.mark.parametrize("budget", [0.0, 1e9])  # compiled after 2 calls / always eager
def test_a_bug_is_caught_and_localized_compiled_or_eager(
    budget: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_compiled, "EAGER_SECONDS", budget)
    python_calls = [0]

    @jax.custom_vjp
    def f(x: jax.Array) -> jax.Array:
        python_calls[0] += 1
        return jnp.sin(x)

    def bwd(x: jax.Array, g: jax.Array) -> tuple[jax.Array]:
        return (g * jnp.cos(x) * jnp.where(jnp.arange(x.size) == 70, 1.01, 1.0),)

    f.defvjp(lambda x: (jnp.sin(x), x), bwd)
    x = jnp.linspace(-2.0, 2.0, 100)
    before = np.asarray(x).copy()
    rep = tr.jax.check_function(f, x, mode="full")
    assert rep.verdict == "wrong" and rep.params["arg0"].worst_index == (70,)
    np.testing.assert_array_equal(np.asarray(x), before)
    if budget == 0.0:  # 2 eager calls and a trace run Python; the compiled calls do not
        assert python_calls[0] < 10 < rep.evaluations
    else:
        assert python_calls[0] >= rep.evaluations


def test_a_key_split_on_every_call_is_still_refused() -> None:
    state = {"key": jax.random.key(0)}

    def noisy(w: jax.Array) -> jax.Array:
        state["key"], sub = jax.random.split(state["key"])
        return jnp.sum(w**2) + 1e-3 * jax.random.normal(sub)

    with pytest.raises(NondeterministicLossError, match="PRNG key"):
        tr.jax.gradcheck(noisy, jnp.ones(100), mode="full")


def test_probe_checks_stay_eager_element_checks_may_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    """A probe check makes 30-40 calls, too few to repay compiling a large model."""
    monkeypatch.setattr(_compiled, "EAGER_SECONDS", 0.0)
    calls = [0]

    def loss(w: jax.Array) -> jax.Array:
        calls[0] += 1
        return jnp.sum(jnp.sin(w))

    rep = tr.jax.gradcheck(loss, jnp.linspace(-1.0, 1.0, 3000))  # auto: probes above 2000
    assert rep.mode == "probe" and rep.passed
    assert calls[0] >= rep.evaluations  # every numeric call ran Python: never compiled
    assert [_compiled.worth_compiling(m, n) for m, n in
            [("full", 10**6), ("sample", 10), ("auto", 2000), ("auto", 2001), ("probe", 10)]] == [
        True, True, True, False, False]
