"""trainready.jax.init_ and lsuv_: jax.nn.initializers as the oracle, theory, the torch twin."""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import numpy as np
import pytest

pytest.importorskip("flax")

import jax
import jax.numpy as jnp
from flax import nnx

import trainready as tr
from trainready.errors import TrainreadyWarning
from trainready.jax._layers import find_layers, flax_layout, torch_layout


def _kernels(model: nnx.Module) -> list[np.ndarray]:
    return [np.asarray(layer.kernel) for layer in find_layers(model)]


def _variables(model: nnx.Module) -> list[tuple[str, np.ndarray]]:
    return [
        ("/".join(map(str, path)), np.array(node.get_value()))
        for path, node in nnx.iter_graph(model)
        if isinstance(node, nnx.Variable) and not str(node.get_value().dtype).startswith("key")
    ]


def _jax_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """jax.nn.initializers' fans (in_axis=-2, out_axis=-1): the receptive field multiplies both."""
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


# ------------------------------------------------------------------------- activations
def test_auto_reads_the_activation_from_a_sequential() -> None:
    r = nnx.Rngs(0)
    model = nnx.Sequential(
        nnx.Conv(3, 8, (3, 3), padding="VALID", rngs=r),
        nnx.BatchNorm(8, rngs=r),  # not an activation: the relu after it counts
        nnx.relu,
        nnx.Conv(8, 8, (3, 3), feature_group_count=2, padding="VALID", rngs=r),
        functools.partial(jax.nn.leaky_relu, negative_slope=0.2),
        lambda h: h.reshape(h.shape[0], -1),
        nnx.Linear(128, 32, rngs=r),
        jax.nn.tanh,
        nnx.Linear(32, 16, rngs=r),
        nnx.gelu,
        nnx.Linear(16, 3, rngs=r),
    )
    table = tr.jax.init_(model, rng=0)
    got = [(row.name, row.type, row.activation, row.scheme, row.shape) for row in table]
    assert got == [
        ("layers/0", "Conv", "relu", "he", (8, 3, 3, 3)),
        ("layers/3", "Conv", "leaky_relu", "he", (8, 4, 3, 3)),
        ("layers/6", "Linear", "tanh", "lecun", (32, 128)),
        ("layers/8", "Linear", "gelu", "he", (16, 32)),
        ("layers/10", "Linear", "linear", "lecun", (3, 16)),
    ]
    assert table[0].std == pytest.approx(math.sqrt(2 / 27), rel=1e-12)
    assert table[1].fan_in == 4 * 9  # grouped conv: in / groups * window
    assert table[1].std == pytest.approx(math.sqrt(2 / (1 + 0.2**2)) / 6, rel=1e-12)
    for layer in find_layers(model):
        assert layer.kernel.dtype == jnp.float32
        assert not np.any(np.asarray(layer.module.bias[...]))  # type: ignore[attr-defined]


class _Custom(nnx.Module):
    """Activations only a trace can see: functional calls, a norm, dropout, a residual add."""

    def __init__(self, rngs: nnx.Rngs) -> None:
        self.conv = nnx.Conv(3, 8, (3, 3), rngs=rngs)
        self.bn = nnx.BatchNorm(8, rngs=rngs)
        self.drop = nnx.Dropout(0.3, rngs=rngs)
        self.conv2 = nnx.Conv(8, 8, (3, 3), rngs=rngs)
        self.fc = nnx.Linear(8 * 6 * 6, 16, rngs=rngs)
        self.fc2 = nnx.Linear(16, 16, rngs=rngs)
        self.fc3 = nnx.Linear(16, 16, rngs=rngs)
        self.fc4 = nnx.Linear(16, 16, rngs=rngs)
        self.head = nnx.Linear(16, 4, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = nnx.relu(self.bn(self.conv(x)))
        h = jnp.tanh(self.drop(self.conv2(h)) + h)
        h = nnx.max_pool(h, (1, 1)).reshape(x.shape[0], -1)
        h = jax.nn.leaky_relu(self.fc(h), 0.3)
        h = jax.nn.sigmoid(self.fc2(h))
        h = jnp.maximum(self.fc3(h), 0.0)
        h = jax.nn.gelu(self.fc4(h), approximate=False)
        return jax.nn.log_softmax(self.head(h))


def test_a_trace_finds_functional_activations_and_changes_nothing_else() -> None:
    model = _Custom(nnx.Rngs(1))
    X = np.random.default_rng(0).standard_normal((4, 6, 6, 3)).astype(np.float32)
    X0 = X.copy()
    before = {k: v for k, v in _variables(model) if not k.endswith(("kernel", "bias"))}
    table = tr.jax.init_(model, rng=0, X=X)
    assert [(r.name, r.activation, r.scheme) for r in table] == [
        ("conv", "relu", "he"),
        ("conv2", "tanh", "lecun"),
        ("fc", "leaky_relu", "he"),
        ("fc2", "sigmoid", "lecun"),
        ("fc3", "relu", "he"),
        ("fc4", "gelu", "he"),
        ("head", "softmax", "lecun"),
    ]
    assert table[2].std == pytest.approx(math.sqrt(2 / (1 + 0.3**2) / 288), rel=1e-12)
    np.testing.assert_array_equal(X, X0)
    after = dict(_variables(model))
    for k, v in before.items():  # batch statistics, RNG counts: bit-identical
        np.testing.assert_array_equal(after[k], v)
    assert not model.drop.deterministic and not model.bn.use_running_average  # modes restored


def test_without_an_example_input_undecided_layers_are_named_in_a_warning() -> None:
    model = _Custom(nnx.Rngs(1))
    with pytest.warns(TrainreadyWarning, match=r"assumed no activation.*conv, conv2.*pass"):
        table = tr.jax.init_(model, rng=0)
    assert {r.activation for r in table} == {"linear"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # all given: no trace, no warning
        given = tr.jax.init_(model, activation="relu", rng=0)
    assert {r.scheme for r in given} == {"he"}


def test_a_plain_mlp_is_traced_without_x() -> None:
    class MLP(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.a = nnx.Linear(5, 20, rngs=rngs)
            self.b = nnx.Linear(20, 1, rngs=rngs)

        def __call__(self, x: jax.Array) -> jax.Array:
            return self.b(jax.nn.silu(self.a(x)))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = tr.jax.init_(MLP(nnx.Rngs(0)), rng=0)
    assert [(r.activation, r.scheme) for r in table] == [("silu", "he"), ("linear", "lecun")]


# ----------------------------------------------------- the oracle: jax.nn.initializers
ORACLE_SHAPES = [(1024, 512), (3, 3, 128, 256), (5, 96, 300)]  # Linear, Conv2d, Conv1d (flax)


def _layer_of(shape: tuple[int, ...], dtype: Any = jnp.float32) -> nnx.Module:
    r = nnx.Rngs(0)
    if len(shape) == 2:
        return nnx.Linear(shape[0], shape[1], param_dtype=dtype, rngs=r)
    return nnx.Conv(shape[-2], shape[-1], shape[:-2], param_dtype=dtype, rngs=r)


@pytest.mark.parametrize("shape", ORACLE_SHAPES)
@pytest.mark.parametrize(
    ("scheme", "jax_names", "scale", "mode"),
    [
        ("he", ("he_normal", "he_uniform"), 2.0, "fan_in"),
        ("lecun", ("lecun_normal", "lecun_uniform"), 1.0, "fan_in"),
        ("glorot", ("glorot_normal", "glorot_uniform"), 1.0, "fan_avg"),
        ("xavier", ("glorot_normal",), 1.0, "fan_avg"),
    ],
)
def test_variance_equals_jax_initializers(
    shape: tuple[int, ...], scheme: str, jax_names: tuple[str, ...], scale: float, mode: str
) -> None:
    layer = _layer_of(shape)
    row = tr.jax.init_(layer, scheme, rng=0)[0]
    fan_in, fan_out = _jax_fans(shape)
    assert (row.fan_in, row.fan_out) == (fan_in, fan_out)
    closed = scale / {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[mode]
    assert row.std**2 == pytest.approx(closed, rel=1e-12)  # JAX's documented variance
    n = math.prod(shape)
    tol = 6 * math.sqrt(2 / n)  # 6 sd of a sample variance (kurtosis <= 3 for all of these)
    ours = np.asarray(layer.kernel[...], dtype=np.float64)  # type: ignore[attr-defined]
    assert abs(np.mean(ours**2) / closed - 1) < tol  # theory: Var(W) of the scheme
    for name in jax_names:
        init = getattr(jax.nn.initializers, name)()
        theirs = np.asarray(init(jax.random.key(0), shape, jnp.float32), dtype=np.float64)
        assert abs(np.var(theirs) / row.std**2 - 1) < tol, name
        explicit = jax.nn.initializers.variance_scaling(
            scale, mode, "uniform" if name.endswith("uniform") else "truncated_normal"
        )(jax.random.key(1), shape, jnp.float32)
        assert abs(np.var(np.asarray(explicit, np.float64)) / row.std**2 - 1) < tol


def test_auto_matches_he_and_lecun_of_jax_and_keeps_the_dtype() -> None:
    layer = nnx.Linear(300, 200, param_dtype=jnp.bfloat16, rngs=nnx.Rngs(0))
    row = tr.jax.init_(layer, activation="relu", rng=0)[0]
    assert layer.kernel[...].dtype == jnp.bfloat16
    assert row.std**2 == pytest.approx(2 / 300, rel=1e-12)
    row = tr.jax.init_(layer, activation="tanh", rng=0)[0]
    assert row.std**2 == pytest.approx(1 / 300, rel=1e-12)


@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (3, 3, 8, 16), (3, 3, 16, 8)])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_orthogonal_is_orthogonal_in_torch_layout_like_jax(
    shape: tuple[int, ...], activation: str
) -> None:
    with jax.enable_x64(True):
        layer = _layer_of(shape, jnp.float64)
        row = tr.jax.init_(layer, "orthogonal", activation=activation, rng=0)[0]
        kernel = np.asarray(layer.kernel[...])  # type: ignore[attr-defined]
    g2 = 2.0 if activation == "relu" else 1.0
    W = torch_layout(kernel).reshape(shape[-1], -1)  # (out, in * window)
    gram = W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W
    np.testing.assert_allclose(gram, g2 * np.eye(min(W.shape)), atol=1e-12)
    assert row.std == pytest.approx(math.sqrt(g2 / max(W.shape)), rel=1e-12)
    # JAX's orthogonal initializer on the Flax kernel has the same orientation
    theirs = np.asarray(jax.nn.initializers.orthogonal()(jax.random.key(0), shape), np.float64)
    K, T = kernel.reshape(-1, shape[-1]), theirs.reshape(-1, shape[-1])  # (in * window, out)
    jax_gram = T.T @ T if T.shape[0] >= T.shape[1] else T @ T.T
    our_gram = K.T @ K if K.shape[0] >= K.shape[1] else K @ K.T
    np.testing.assert_allclose(jax_gram, np.eye(min(T.shape)), atol=1e-5)
    np.testing.assert_allclose(our_gram, g2 * np.eye(min(K.shape)), atol=1e-12)


# ----------------------------------------------------------------- the torch twin
def _twins() -> tuple[nnx.Module, Any]:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    r = nnx.Rngs(0)
    flax_model = nnx.Sequential(
        nnx.Conv(3, 8, (3, 3), padding="VALID", rngs=r),
        nnx.relu,
        nnx.Conv(8, 8, (3, 3), feature_group_count=2, padding="VALID", rngs=r),
        functools.partial(jax.nn.leaky_relu, negative_slope=0.2),
        lambda h: jnp.moveaxis(h, -1, 1).reshape(h.shape[0], -1),  # torch's (C, H, W) flatten
        nnx.Linear(128, 32, rngs=r),
        jnp.tanh,
        nnx.Linear(32, 3, rngs=r),
    )
    torch_model = nn.Sequential(
        nn.Conv2d(3, 8, 3),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, groups=2),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(128, 32),
        nn.Tanh(),
        nn.Linear(32, 3),
    )
    return flax_model, torch_model


@pytest.mark.parametrize("scheme", ["auto", "he", "lecun", "xavier", "orthogonal"])
def test_same_rng_same_weights_as_the_torch_adapter(scheme: str) -> None:
    flax_model, torch_model = _twins()
    a = tr.jax.init_(flax_model, scheme, rng=7)
    b = tr.torch.init_(torch_model, scheme, rng=7)
    keep = ("shape", "activation", "scheme", "std", "fan_in", "fan_out", "bias")
    assert [[getattr(r, k) for k in keep] for r in a] == [[getattr(r, k) for k in keep] for r in b]
    torch_weights = [m.weight.detach().numpy() for m in torch_model if hasattr(m, "weight")]
    for kernel, weight in zip(_kernels(flax_model), torch_weights, strict=True):
        np.testing.assert_array_equal(torch_layout(kernel), weight)


# ------------------------------------------------------------------------------ LSUV
def _layer_outputs(model: nnx.Sequential, X: jax.Array) -> dict[str, float]:
    """Each layer's output variance, computed here by applying the Sequential's items."""
    out, h = {}, X
    for i, item in enumerate(model.layers):
        h = item(h)
        if isinstance(item, nnx.Linear | nnx.Conv):
            out[f"layers/{i}"] = float(np.var(np.asarray(h, np.float64)))
    return out


@pytest.mark.parametrize("act", [jnp.tanh, nnx.relu])
def test_lsuv_gives_unit_variance_in_a_deep_mlp(act: Any) -> None:
    r = nnx.Rngs(0)
    model = nnx.Sequential(*[f for _ in range(12) for f in (nnx.Linear(48, 48, rngs=r), act)])
    X = jnp.asarray(np.random.default_rng(0).standard_normal((256, 48)) * 4 + 2, jnp.float32)
    table = tr.jax.lsuv_(model, X, tol=0.05, rng=0)
    seen = _layer_outputs(model, X)
    assert table.ok and [r.name for r in table] == list(seen)
    for row in table:
        assert abs(seen[row.name] - 1) < 0.05
        assert row.variance_after == pytest.approx(seen[row.name], rel=1e-4)


class _CNN(nnx.Module):
    def __init__(self, rngs: nnx.Rngs) -> None:
        self.conv = nnx.Conv(3, 8, (3, 3), rngs=rngs)
        self.bn = nnx.BatchNorm(8, rngs=rngs)
        self.drop = nnx.Dropout(0.5, rngs=rngs)
        self.conv2 = nnx.Conv(8, 8, (3, 3), rngs=rngs)
        self.fc = nnx.Linear(8 * 8 * 8, 4, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = self.drop(nnx.relu(self.bn(self.conv(x))))
        h = jnp.tanh(self.conv2(h))
        return self.fc(h.reshape(h.shape[0], -1))


def test_lsuv_on_a_cnn_in_eval_mode_leaves_the_rest_alone() -> None:
    model = _CNN(nnx.Rngs(1))
    model(jnp.ones((2, 8, 8, 3)))  # train mode: batch statistics move, the RNG count too
    before = {k: v for k, v in _variables(model) if not k.endswith(("kernel", "bias"))}
    X = np.random.default_rng(0).standard_normal((32, 8, 8, 3)) * 5  # NHWC
    X0 = X.copy()
    table = tr.jax.lsuv_(model, X, tol=0.05, rng=0)
    np.testing.assert_array_equal(X, X0)
    assert not model.drop.deterministic and not model.bn.use_running_average
    after = dict(_variables(model))
    for k, v in before.items():
        np.testing.assert_array_equal(after[k], v)
    # an independent measurement, in eval mode as LSUV ran
    model.eval()
    x = jnp.asarray(X, jnp.float32)
    z1 = model.conv(x)
    z2 = model.conv2(model.drop(nnx.relu(model.bn(z1))))
    z3 = model.fc(jnp.tanh(z2).reshape(32, -1))
    model.train()
    for row, z in zip(table, (z1, z2, z3), strict=True):
        assert abs(float(jnp.var(z)) - 1) < 0.05
        assert row.variance_after == pytest.approx(float(jnp.var(z)), rel=1e-4)


def test_lsuv_with_nan_data_raises_and_changes_nothing() -> None:
    model = nnx.Sequential(
        nnx.Linear(4, 8, rngs=nnx.Rngs(0)), nnx.relu, nnx.Linear(8, 1, rngs=nnx.Rngs(1))
    )
    X = np.random.default_rng(0).standard_normal((32, 4))
    X[3, 1] = np.nan
    before = _variables(model)
    with pytest.raises(ValueError, match=r"^X: expected finite values"):
        tr.jax.lsuv_(model, X)
    for (k, v), (k2, v2) in zip(before, _variables(model), strict=True):
        assert k == k2
        np.testing.assert_array_equal(v, v2)


def test_lsuv_that_fails_midway_restores_the_kernels_bit_for_bit() -> None:
    class Sqrt(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.a = nnx.Linear(4, 8, rngs=rngs)
            self.b = nnx.Linear(8, 1, rngs=rngs)

        def __call__(self, x: jax.Array) -> jax.Array:
            return self.b(jnp.sqrt(self.a(x)))  # NaN wherever a's output is negative

    model = Sqrt(nnx.Rngs(0))
    before = _variables(model)
    with pytest.raises(ValueError, match=r"^X: expected a batch on which layer b gives finite"):
        tr.jax.lsuv_(model, np.random.default_rng(0).standard_normal((32, 4)), rng=0)
    for (_, v), (_, v2) in zip(before, _variables(model), strict=True):
        np.testing.assert_array_equal(v, v2)


def test_lsuv_reaches_unit_variance_on_1e300_data() -> None:
    with jax.enable_x64(True):
        r = nnx.Rngs(0)
        model = nnx.Sequential(
            nnx.Linear(4, 8, param_dtype=jnp.float64, rngs=r),
            jnp.tanh,
            nnx.Linear(8, 1, param_dtype=jnp.float64, rngs=r),
        )
        X = np.random.default_rng(0).standard_normal((64, 4)) * 1e300
        table = tr.jax.lsuv_(model, X, rng=0)
    assert table.ok and all(abs(r.variance_after - 1) < 0.1 for r in table)
    assert math.isinf(table[0].variance_before) or table[0].variance_before > 1e500 / 1e300


@pytest.mark.parametrize("orthonormal", [True, False])
def test_lsuv_equals_the_torch_adapter_on_the_same_weights(orthonormal: bool) -> None:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    dims = [12, 40, 30, 20, 1]
    with jax.enable_x64(True):
        r = nnx.Rngs(3)
        items: list[Any] = []
        mods: list[Any] = []
        for i in range(1, len(dims)):
            items.append(nnx.Linear(dims[i - 1], dims[i], param_dtype=jnp.float64, rngs=r))
            lin = nn.Linear(dims[i - 1], dims[i]).double()
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.array(torch_layout(items[-1].kernel[...]))))
                lin.bias.copy_(torch.from_numpy(np.asarray(items[-1].bias[...]) + 0.1))
                items[-1].bias[...] = items[-1].bias[...] + 0.1
            mods.append(lin)
            if i < len(dims) - 1:
                items.append(nnx.relu if i % 2 else jnp.tanh)
                mods.append(nn.ReLU() if i % 2 else nn.Tanh())
        model, twin = nnx.Sequential(*items), nn.Sequential(*mods)
        X = np.random.default_rng(4).standard_normal((200, 12)) * 3 + 1
        a = tr.jax.lsuv_(model, X, rng=9, orthonormal=orthonormal)
        kernels = _kernels(model)
    b = tr.torch.lsuv_(twin, torch.from_numpy(X), rng=9, orthonormal=orthonormal)
    for ra, rb in zip(a, b, strict=True):  # the one algorithm: the same table on both halves
        assert (ra.iterations, ra.converged) == (rb.iterations, rb.converged)
        assert ra.variance_after == pytest.approx(rb.variance_after, rel=1e-9)
        assert ra.scale == pytest.approx(rb.scale, rel=1e-9)
    for kernel, lin in zip(kernels, twin[::2], strict=True):
        np.testing.assert_allclose(torch_layout(kernel), lin.weight.detach().numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------- errors
def test_init_errors() -> None:
    lin = nnx.Linear(2, 2, rngs=nnx.Rngs(0))
    with pytest.raises(
        TypeError, match=r"(?s)^model: expected a flax\.nnx\.Module.*trainready\.torch"
    ):
        tr.jax.init_({"kernel": jnp.ones((2, 2))})
    with pytest.raises(
        ValueError, match=r"^model: expected .* got BatchNorm with no Linear or Conv"
    ):
        tr.jax.init_(nnx.BatchNorm(3, rngs=nnx.Rngs(0)))
    with pytest.raises(ValueError, match="^scheme: unknown scheme 'kaiming'"):
        tr.jax.init_(lin, "kaiming")
    with pytest.raises(ValueError, match="no Linear/Conv layer named"):
        tr.jax.init_(lin, activation={"nope": "relu"})
    with pytest.raises(ValueError, match="unknown activation"):
        tr.jax.init_(lin, activation="swish2")
    with pytest.raises(TypeError, match="^activation: expected None"):
        tr.jax.init_(lin, activation=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^X: expected an example batch that the model accepts"):
        tr.jax.init_(_Custom(nnx.Rngs(0)), X=np.ones((2, 5)))


def test_lsuv_errors_and_the_given_x_is_not_changed() -> None:
    model = nnx.Sequential(
        nnx.Linear(3, 4, rngs=nnx.Rngs(0)), nnx.relu, nnx.Linear(4, 1, rngs=nnx.Rngs(1))
    )
    before = _variables(model)
    with pytest.raises(ValueError, match="^tol"):
        tr.jax.lsuv_(model, jnp.ones((4, 3)), tol=0)
    with pytest.raises(ValueError, match="^max_iter"):
        tr.jax.lsuv_(model, jnp.ones((4, 3)), max_iter=0)
    with pytest.raises(ValueError, match=r"^X: expected a batch of 2 rows or more"):
        tr.jax.lsuv_(model, jnp.ones((1, 3)))
    with pytest.raises(
        ValueError,
        match=r"^X: expected a batch that the model accepts \(its "
        r"first layer layers/0 takes 3 features\)",
    ):
        tr.jax.lsuv_(model, jnp.ones((8, 5)))
    with pytest.raises(TypeError, match=r"^X: expected a batch as a JAX or NumPy array"):
        tr.jax.lsuv_(model, [[1.0, 2.0, 3.0]] * 4)
    with pytest.raises(TypeError, match=r"^model: expected a flax\.nnx\.Module"):
        tr.jax.lsuv_("model", jnp.ones((4, 3)))
    for (_, v), (_, v2) in zip(before, _variables(model), strict=True):
        np.testing.assert_array_equal(v, v2)


def test_lsuv_refuses_a_forward_pass_that_hides_its_layers() -> None:
    class Jitted(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.a = nnx.Linear(3, 4, rngs=rngs)

        @nnx.jit
        def __call__(self, x: jax.Array) -> jax.Array:
            return self.a(x)

    with pytest.raises(ValueError, match=r"^model: expected a forward pass that calls.*nnx\.jit"):
        tr.jax.lsuv_(Jitted(nnx.Rngs(0)), jnp.ones((4, 3)))


def test_flax_layout_round_trip_is_the_documented_transpose() -> None:
    W = np.arange(24.0).reshape(4, 3, 2)  # torch (out, in, k)
    K = np.asarray(flax_layout(W, jnp.float32))
    assert K.shape == (2, 3, 4) and K[1, 2, 3] == W[3, 2, 1]
    np.testing.assert_array_equal(torch_layout(K), W)
