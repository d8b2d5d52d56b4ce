"""trainready.jax.gradient_monitor: checks at chosen steps of a JAX loop that change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402

import trainready as tr  # noqa: E402

_R = np.random.default_rng(0)
_X = jnp.asarray(_R.standard_normal((32, 4)), jnp.float32)
_Y = jnp.asarray(_R.standard_normal((32, 1)), jnp.float32)


def _tanh_wrong_after_a_change() -> Callable[[Any], Any]:
    @jax.custom_vjp
    def act(z: Any) -> Any:
        return jnp.tanh(z)

    act.defvjp(lambda z: (jnp.tanh(z), z), lambda z, g: (g * (1 - jnp.tanh(z)),))  # not ** 2
    return act


def _loss(params: dict[str, Any], x: Any, y: Any, key: Any, act: Callable[[Any], Any]) -> Any:
    keep = jax.random.bernoulli(key, 0.9, (x.shape[0], params["W1"].shape[1]))
    h = act(x @ params["W1"] + params["b1"]) * keep / 0.9  # dropout with the step's key
    return jnp.mean((h @ params["W2"] + params["b2"] - y) ** 2)


def _train(monitor: Any | None, steps: int = 12, switch: int = 7) -> tuple[Any, Any]:
    """Plain SGD (jax.grad + tree_map); from step ``switch`` on the activation's rule is wrong."""
    key = jax.random.key(42)
    r = np.random.default_rng(1)
    params = {
        "W1": jnp.asarray(r.standard_normal((4, 8)) * 0.5, jnp.float32),
        "b1": jnp.zeros(8, jnp.float32),
        "W2": jnp.asarray(r.standard_normal((8, 1)) * 0.5, jnp.float32),
        "b2": jnp.zeros(1, jnp.float32),
    }
    right, wrong = jnp.tanh, _tanh_wrong_after_a_change()
    for step in range(steps):
        key, sub = jax.random.split(key)
        act = right if step < switch else wrong
        if monitor is not None:
            params_bits = {k: np.asarray(v).copy() for k, v in params.items()}
            sub_bits = np.asarray(jax.random.key_data(sub)).copy()
            assert monitor(step, params, _X, _Y, sub, act) is False  # never stops training
            for k, v in params.items():  # the loop's arrays and key, bit for bit
                np.testing.assert_array_equal(np.asarray(v), params_bits[k])
            np.testing.assert_array_equal(np.asarray(jax.random.key_data(sub)), sub_bits)
        grads = jax.grad(_loss)(params, _X, _Y, sub, act)
        params = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
    return params, key


def test_training_bit_identical_and_the_wrong_step_reported() -> None:
    plain, plain_key = _train(None)
    mon = tr.jax.gradient_monitor(_loss, at=[0, 5, 9])
    watched, watched_key = _train(mon)
    for name in plain:
        assert np.array_equal(np.asarray(plain[name]), np.asarray(watched[name])), name
    assert np.array_equal(jax.random.key_data(plain_key), jax.random.key_data(watched_key))
    assert [(step, rep.verdict) for step, rep in mon.reports] == [
        (0, "ok"),
        (5, "ok"),
        (9, "wrong"),
    ]
    assert not mon.passed
    bad = mon.reports[-1][1]
    assert bad.mode == "probe"  # the default: cheap at any size
    assert {bad.params["W1"].verdict, bad.params["b1"].verdict} == {"wrong"}
    assert "passed at step 0, fails at step 9" in mon.summary()


def test_monitor_on_an_nnx_module_and_options_forwarded() -> None:
    nnx = pytest.importorskip("flax.nnx")
    model = nnx.Linear(4, 1, rngs=nnx.Rngs(0))
    mon = tr.jax.gradient_monitor(lambda m, x: jnp.mean(m(x) ** 2), at=[0], mode="full")
    mon.start(model, _X)
    mon(0, model, _X)  # checked once only
    assert [(s, r.verdict, r.mode) for s, r in mon.reports] == [(0, "ok", "full")]
    assert set(mon.reports[0][1].params) == {"kernel", "bias"}


def test_core_monitor_forwards_arguments_and_keeps_the_old_call() -> None:
    seen: list[Any] = []

    def check(*args: Any) -> tr.GradcheckReport:
        seen.append(args)
        w = np.asarray(args[0] if args else [1.0, 2.0])
        return tr.gradcheck(
            lambda p: float(np.sum(p["w"] ** 2)), {"w": w}, lambda p: {"w": 2 * p["w"]}
        )

    mon = tr.GradientMonitor(check, at=[0, 3], unit="step").start(np.ones(2))
    mon(1, np.ones(2))
    mon(3, np.full(2, 3.0))
    old = tr.GradientMonitor(check, at=[0]).start()
    assert seen[0][0].tolist() == [1.0, 1.0] and seen[1][0].tolist() == [3.0, 3.0]
    assert seen[2] == () and len(mon.reports) == 2 and old.passed


def test_bad_input_named() -> None:
    with pytest.raises(TypeError, match="loss_fn: expected a callable"):
        tr.jax.gradient_monitor(3, at=[0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at: expected"):
        tr.jax.gradient_monitor(_loss, at=[-1])
    mon = tr.jax.gradient_monitor(_loss, at=[0])
    with pytest.raises(TypeError, match=r"monitor\(step, params"):
        mon(0)
