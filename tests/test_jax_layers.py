"""The NNX layer finder and interceptor shared by tr.jax's init, LSUV and diagnose."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("flax")

import jax
import jax.numpy as jnp
from flax import nnx

from trainready.jax._layers import find_layers, flax_layout, intercept, torch_layout


class Net(nnx.Module):
    def __init__(self, rngs: nnx.Rngs) -> None:
        self.first = nnx.Linear(2, 8, rngs=rngs)
        self.blocks = nnx.List([nnx.Linear(8, 8, rngs=rngs), nnx.Linear(8, 4, rngs=rngs)])
        self.conv = nnx.Conv(1, 3, kernel_size=(3, 3), rngs=rngs)
        self.head = nnx.Linear(4, 1, use_bias=False, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = jax.nn.relu(self.first(x))
        h = jax.nn.relu(self.blocks[0](h))
        return self.head(self.blocks[1](h))


def test_layers_in_definition_order_with_fans() -> None:
    layers = find_layers(Net(nnx.Rngs(0)))
    assert [(lay.name, lay.kind, lay.fans, lay.has_bias) for lay in layers] == [
        ("first", "linear", (2, 8), True),
        ("blocks/0", "linear", (8, 8), True),
        ("blocks/1", "linear", (8, 4), True),
        ("conv", "conv", (9, 27), True),
        ("head", "linear", (4, 1), False),
    ]


def test_not_a_module_is_refused_with_the_fix() -> None:
    with pytest.raises(TypeError, match=r"(?s)^model: expected a flax\.nnx\.Module.*gradcheck"):
        find_layers({"w": jnp.ones(3)})


def test_intercept_sees_calls_in_order_under_jit_and_grad_and_restores() -> None:
    model = Net(nnx.Rngs(0))
    graphdef, state = nnx.split(model)
    seen: list[tuple[str, tuple[int, ...]]] = []

    def hook(name: str, x: jax.Array, y: jax.Array) -> jax.Array:
        seen.append((name, tuple(y.shape)))
        return y * 2.0 if name == "head" else y

    def loss(state: nnx.State, x: jax.Array) -> jax.Array:
        m = nnx.merge(graphdef, state)
        with intercept(find_layers(m), hook):
            return jnp.sum(m(x))

    x = jnp.ones((5, 2))
    value = jax.jit(loss)(state, x)
    assert seen == [("first", (5, 8)), ("blocks/0", (5, 8)), ("blocks/1", (5, 4)), ("head", (5, 1))]
    np.testing.assert_allclose(value, 2.0 * jnp.sum(model(x)), rtol=1e-6)
    assert "__call__" in nnx.Linear.__dict__ and nnx.Linear.__call__.__name__ == "__call__"
    seen.clear()
    model(x)  # outside the block: no hook
    assert seen == []


def test_intercept_restores_after_an_exception() -> None:
    model = Net(nnx.Rngs(0))
    original = nnx.Linear.__call__

    def boom(name: str, x: jax.Array, y: jax.Array) -> jax.Array:
        raise RuntimeError("hook failed")

    with pytest.raises(RuntimeError, match="hook failed"), intercept(find_layers(model), boom):
        model(jnp.ones((1, 2)))
    assert nnx.Linear.__call__ is original


def test_torch_and_flax_layouts_are_inverse_transposes() -> None:
    k = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)  # (kh, kw, in, out)
    w = torch_layout(k)
    assert w.shape == (5, 4, 2, 3) and w[1, 2, 0, 1] == k[0, 1, 2, 1]
    np.testing.assert_array_equal(flax_layout(w, jnp.float32), k)
    lin = np.arange(6.0).reshape(2, 3)  # (in, out)
    np.testing.assert_array_equal(torch_layout(lin), lin.T)
