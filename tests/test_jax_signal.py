"""trainready.jax.record/diagnose: Flax NNX models give the NumPy reference's and torch's records."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np
import pytest

pytest.importorskip("flax")
torch = pytest.importorskip("torch")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from flax import nnx  # noqa: E402

import trainready as tr  # noqa: E402
from trainready.jax._layers import flax_layout  # noqa: E402
from trainready.signal import Fix, Kind  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SKIP = {"index", "name", "sample"}
HEAD_ONLY = {"a_mean", "a_std", "a_rms", "saturated_fraction"}  # the reference's output head
ACT = {"relu": jax.nn.relu, "tanh": jnp.tanh}


def _nnx_mlp(net: tr.nn.MLP, act: str) -> nnx.Sequential:
    """The reference network as an NNX Sequential in float64 (kernel = W.T)."""
    L = len(net.params) // 2
    mods: list[Any] = []
    with jax.enable_x64(True):
        for l in range(1, L + 1):
            W, b = net.params[f"W{l}"], net.params[f"b{l}"]
            lin = nnx.Linear(W.shape[1], W.shape[0], rngs=nnx.Rngs(l), param_dtype=jnp.float64)
            lin.kernel[...] = jnp.asarray(W.T)
            lin.bias[...] = jnp.asarray(b)
            mods.append(lin)
            if l < L:
                mods.append(ACT[act])
    return nnx.Sequential(*mods)


def _torch_mlp(net: tr.nn.MLP, act: str) -> torch.nn.Sequential:
    L = len(net.params) // 2
    mods: list[torch.nn.Module] = []
    for l in range(1, L + 1):
        W = net.params[f"W{l}"]
        lin = torch.nn.Linear(W.shape[1], W.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(net.params[f"b{l}"]))
        mods += [lin] + ([torch.nn.ReLU() if act == "relu" else torch.nn.Tanh()] if l < L else [])
    return torch.nn.Sequential(*mods)


def _max_rel(a: tr.signal.SignalRecord, b: tr.signal.SignalRecord, *, head: bool) -> float:
    """Assert the records equal field by field (``dataclasses.fields``); the worst rel. gap."""
    assert (a.depth, a.gradient_source, a.n_samples) == (b.depth, b.gradient_source, b.n_samples)
    worst = abs(b.input_std - a.input_std) / a.input_std
    for ra, rb in zip(a.layers, b.layers, strict=True):
        for f in dataclasses.fields(ra):
            if f.name in SKIP or (head and ra.index == a.depth and f.name in HEAD_ONLY):
                continue
            va, vb = getattr(ra, f.name), getattr(rb, f.name)
            if f.name == "activation" and ra.index == a.depth:
                continue  # the reference names its output head; the models end in logits
            if isinstance(va, str | bool):
                assert va == vb, (ra.index, f.name, va, vb)
                continue
            assert vb == pytest.approx(va, rel=1e-12, abs=1e-300), (ra.index, f.name, va, vb)
            if va != vb:
                worst = max(worst, abs(vb - va) / max(abs(va), 1e-300))
    return worst


def _planted(out: str, act: str = "relu") -> tr.nn.MLP:
    net = tr.nn.MLP(
        [6, 12, 12, 12, 3 if out == "softmax" else 1], activation=act, output=out, rng=0
    )
    p = net.params
    p["b1"][:4] = -50.0  # four dead units in layer 1
    p["W2"][3], p["b2"][3] = p["W2"][2], p["b2"][2]  # unit 3 of layer 2 copies unit 2 ...
    p["W3"][:, 3] = p["W3"][:, 2]  # ... incoming and outgoing
    net.params = p
    return net


@pytest.mark.parametrize("out", ["linear", "sigmoid", "softmax"])
def test_numpy_torch_and_nnx_records_agree_field_by_field(out: str) -> None:
    net = _planted(out)
    X = np.random.default_rng(1).standard_normal((40, 6))
    y = None
    if out == "sigmoid":
        y = (np.random.default_rng(2).random((40, 1)) > 0.5).astype(np.float64)
    elif out == "softmax":
        y = np.random.default_rng(2).integers(0, 3, 40)
    ref = tr.signal.record(net, X, y)
    ty = None if y is None else torch.from_numpy(y)
    rt = tr.torch.record(_torch_mlp(net, "relu"), torch.from_numpy(X), ty)
    rj = tr.jax.record(_nnx_mlp(net, "relu"), X, y)
    assert ref.layers[0].dead_fraction == pytest.approx(4 / 12)
    assert ref.layers[1].duplicate_fraction == pytest.approx(1 / 12)
    assert rj.layers[0].dead_fraction == pytest.approx(4 / 12)
    assert rj.layers[1].duplicate_fraction == pytest.approx(1 / 12)
    head = y is not None
    assert _max_rel(ref, rj, head=head) < 1e-12
    assert _max_rel(rt, rj, head=False) < 1e-12
    assert [r.name for r in rj.layers] == ["layers/0", "layers/2", "layers/4", "layers/6"]
    # findings: same kinds, layers, measures and values as the reference and torch
    da, dt = (
        tr.diagnose(net, X, y),
        tr.torch.diagnose(_torch_mlp(net, "relu"), torch.from_numpy(X), ty),
    )
    dj = tr.jax.diagnose(_nnx_mlp(net, "relu"), X, y)
    assert Kind.SYMMETRY in dj.kinds() and dj.kinds() == da.kinds() == dt.kinds()
    for fa, ft, fj in zip(da.findings, dt.findings, dj.findings, strict=True):
        assert (fj.kind, fj.layer, fj.measure) == (fa.kind, fa.layer, fa.measure)
        assert (fj.kind, fj.layer, fj.measure) == (ft.kind, ft.layer, ft.measure)
        assert fj.value == pytest.approx(fa.value, rel=1e-9)


@pytest.mark.parametrize(
    ("init", "act", "bias"),
    [("lecun", "relu", 0.0), ("random", "tanh", 0.0), ("he", "relu", -3.0), ("zeros", "relu", 0.0)],
)
def test_findings_equal_the_reference_on_the_problem_bank(init: str, act: str, bias: float) -> None:
    net = tr.nn.MLP([10] + [24] * 16 + [1], activation=act, output="linear", init=init, rng=0)
    if bias:
        net.params = {
            k: v + bias if k[0] == "b" and k != "b17" else v for k, v in net.params.items()
        }
    X = np.random.default_rng(1).standard_normal((64, 10))
    da, dj = tr.diagnose(net, X), tr.jax.diagnose(_nnx_mlp(net, act), X)
    assert da.findings and dj.kinds() == da.kinds()
    for fa, fj in zip(da.findings, dj.findings, strict=True):
        assert (fj.layer, fj.measure) == (fa.layer, fa.measure)
        assert fj.value == pytest.approx(fa.value, rel=1e-9)
    assert _max_rel(da.record, dj.record, head=False) < 1e-12


def test_deep_tanh_with_tiny_init_vanishes_and_the_fix_is_verified() -> None:
    rngs = nnx.Rngs(0)
    tiny = nnx.initializers.normal(0.01)
    body = [
        m for _ in range(20) for m in (nnx.Linear(32, 32, kernel_init=tiny, rngs=rngs), jnp.tanh)
    ]
    model = nnx.Sequential(*body, nnx.Linear(32, 1, rngs=rngs))
    X = np.random.default_rng(0).standard_normal((200, 32))
    diag = tr.jax.diagnose(model, X)
    vanishing = [f for f in diag.findings if f.kind is Kind.VANISHING]
    assert vanishing and all(f.verified for f in vanishing), str(diag)
    assert vanishing[0].applied == (Fix.REINIT,) and "trainready.jax.init_" in vanishing[0].fix
    assert {r.activation for r in diag.layers[:-1]} == {"tanh"}


class Dying(nnx.Module):
    """A relu net whose biases are -3: most units never fire (relu in its own __call__)."""

    def __init__(self, rngs: nnx.Rngs) -> None:
        init = nnx.initializers.he_normal()
        self.layers = nnx.List(
            [nnx.Linear(16, 64, kernel_init=init, rngs=rngs)]
            + [nnx.Linear(64, 64, kernel_init=init, rngs=rngs) for _ in range(5)]
        )
        for lin in self.layers:
            lin.bias[...] = jnp.full(64, -3.0)
        self.out = nnx.Linear(64, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        for lin in self.layers:
            x = jax.nn.relu(lin(x))
        return self.out(x)


def test_dying_relu_units_are_found_and_reinit_revives_them() -> None:
    model = Dying(nnx.Rngs(0))
    diag = tr.jax.diagnose(model, np.random.default_rng(0).standard_normal((128, 16)))
    dead = next(f for f in diag.findings if f.kind is Kind.DEAD_UNITS)
    assert dead.value >= 0.7 and dead.verified and dead.applied == (Fix.REINIT,), str(diag)
    assert [r.activation for r in diag.layers] == ["relu"] * 6 + ["linear"]
    assert [r.name for r in diag.layers] == [f"layers/{i}" for i in range(6)] + ["out"]


def test_leaky_relu_replaces_relu_in_a_sequential_copy_only() -> None:
    net = tr.nn.MLP([6, 12, 12, 1], activation="relu", output="linear", rng=0)
    model = _nnx_mlp(net, "relu")
    X = np.random.default_rng(0).standard_normal((20, 6))
    rec = tr.jax.NNXRecorder(model, X, None, None)
    desc, fixed = rec.apply(Fix.LEAKY_RELU, 0)
    assert "jax.nn.leaky_relu" in desc and "nnx.Sequential" in desc
    assert [r.activation for r in fixed.record(0).layers] == ["leaky_relu"] * 2 + ["linear"]
    assert model.layers[1] is jax.nn.relu  # the user's model keeps relu
    desc, _ = tr.jax.NNXRecorder(Dying(nnx.Rngs(0)), X[:, :1].repeat(16, 1), None, None).apply(
        Fix.LEAKY_RELU, 0
    )
    assert "leaky ReLU not tried" in desc and "__call__" in desc


def test_unnormalized_inputs_are_standardized() -> None:
    model = nnx.Sequential(
        nnx.Linear(8, 32, rngs=nnx.Rngs(0)), jax.nn.relu, nnx.Linear(32, 1, rngs=nnx.Rngs(1))
    )
    X = np.random.default_rng(0).standard_normal((200, 8)) * [1, 1, 1, 1, 1e3, 1e3, 1, 1] + 500
    kept = X.copy()
    diag = tr.jax.diagnose(model, X)
    inp = next(f for f in diag.findings if f.kind is Kind.UNNORMALIZED_INPUT)
    assert inp.verified and inp.applied == (Fix.STANDARDIZE,) and "per feature" in inp.fix
    np.testing.assert_array_equal(X, kept)


class CNN(nnx.Module):
    """Conv (NHWC, SAME) -> relu, x depth, global average pool, Linear."""

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        with jax.enable_x64(True):
            self.convs = nnx.List(
                [
                    nnx.Conv(
                        w.shape[1],
                        w.shape[0],
                        kernel_size=(3, 3),
                        padding="SAME",
                        param_dtype=jnp.float64,
                        rngs=nnx.Rngs(0),
                    )
                    for w in weights[:-1]
                ]
            )
            for conv, w, b in zip(self.convs, weights, biases, strict=False):
                conv.kernel[...] = flax_layout(w, jnp.float64)
                conv.bias[...] = jnp.asarray(b)
            w = weights[-1]
            self.head = nnx.Linear(
                w.shape[1], w.shape[0], param_dtype=jnp.float64, rngs=nnx.Rngs(0)
            )
            self.head.kernel[...] = jnp.asarray(w.T)
            self.head.bias[...] = jnp.asarray(biases[-1])

    def __call__(self, x: jax.Array) -> jax.Array:
        for conv in self.convs:
            x = jax.nn.relu(conv(x))
        return self.head(jnp.mean(x, axis=(1, 2)))


def test_nhwc_cnn_records_per_channel_as_torch_does_nchw() -> None:
    torch.manual_seed(0)
    tconv = [torch.nn.Conv2d(3 if i == 0 else 8, 8, 3, padding=1).double() for i in range(6)]
    with torch.no_grad():
        tconv[2].bias[:5] = -20.0  # dead channels
    thead = torch.nn.Linear(8, 4).double()
    layers: list[torch.nn.Module] = [m for c in tconv for m in (c, torch.nn.ReLU())]
    tmodel = torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), thead)
    weights = [m.weight.detach().numpy() for m in [*tconv, thead]]
    biases = [m.bias.detach().numpy() for m in [*tconv, thead]]
    model = CNN(weights, biases)
    images = np.random.default_rng(0).random((10, 7, 7, 3))  # NHWC
    y = np.random.default_rng(1).integers(0, 4, 10)
    rt = tr.torch.record(
        tmodel, torch.from_numpy(images.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y)
    )
    rj = tr.jax.record(model, images, y)
    assert rj.layers[2].dead_fraction == pytest.approx(5 / 8)
    assert _max_rel(rt, rj, head=False) < 1e-12
    assert [r.fan_in for r in rj.layers] == [27] + [72] * 5 + [8]
    diag = tr.jax.diagnose(model, images * 255)
    inp = next(f for f in diag.findings if f.kind is Kind.UNNORMALIZED_INPUT)
    assert inp.verified and "per channel" in inp.fix and "axis=-1" in inp.fix


def test_float32_model_is_recorded_in_float64_and_left_bit_identical() -> None:
    net = tr.nn.MLP([5, 16, 16, 1], activation="tanh", output="linear", rng=0)
    model = nnx.Sequential(
        *[
            m
            for l in range(1, 4)
            for m in (nnx.Linear(*net.params[f"W{l}"].shape[::-1], rngs=nnx.Rngs(l)), jnp.tanh)
        ][:-1]
    )
    before = [np.array(v) for v in jax.tree.leaves(nnx.state(model))]
    x64 = jax.config.jax_enable_x64
    X = jnp.asarray(np.random.default_rng(0).standard_normal((30, 5)), jnp.float32)
    kept = np.array(X)
    rec = tr.jax.record(model, X)
    diag = tr.jax.diagnose(model, X)
    after = jax.tree.leaves(nnx.state(model))
    assert all(a.dtype == np.float32 for a in after) and jax.config.jax_enable_x64 == x64
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    np.testing.assert_array_equal(np.asarray(X), kept)
    # the float32 weights, widened, through the reference: equal to float64 rounding
    lin = [m for m in model.layers if isinstance(m, nnx.Linear)]
    P = {}
    for l, m in enumerate(lin, 1):
        P[f"W{l}"] = np.asarray(m.kernel[...], np.float64).T
        P[f"b{l}"] = np.asarray(m.bias[...], np.float64)
    net.params = P
    assert _max_rel(tr.signal.record(net, kept.astype(np.float64)), rec, head=False) < 1e-12
    assert diag.record.layers[0].z_std == rec.layers[0].z_std


def test_shared_layers_and_inlined_activations() -> None:
    class Shared(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.a = nnx.Linear(6, 6, rngs=rngs)
            self.b = nnx.Linear(6, 3, rngs=rngs)

        def __call__(self, x: jax.Array) -> jax.Array:
            x = jax.nn.gelu(self.a(x))
            return jax.nn.softmax(self.b(jnp.tanh(self.a(x))))

    rec = tr.jax.record(Shared(nnx.Rngs(0)), np.random.default_rng(0).standard_normal((10, 6)))
    assert [(r.name, r.activation) for r in rec.layers] == [
        ("a", "gelu"),
        ("a#2", "tanh"),
        ("b", "softmax"),
    ]
    assert rec.layers[0].weight_grad_norm == rec.layers[1].weight_grad_norm > 0


def test_errors_name_the_argument_and_the_fix() -> None:
    model = nnx.Sequential(nnx.Linear(3, 2, rngs=nnx.Rngs(0)))
    X = np.random.default_rng(0).standard_normal((8, 3))
    with pytest.raises(TypeError, match=r"flax\.nnx\.Module"):
        tr.jax.diagnose(torch.nn.Linear(3, 2), X)
    with pytest.raises(ValueError, match="with no Linear or Conv layer"):
        tr.jax.diagnose(nnx.Sequential(jax.nn.relu), X)
    with pytest.raises(ValueError, match=r"X: expected a batch of 2 rows or more.*shape \(1, 3\)"):
        tr.jax.diagnose(model, X[:1])
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="X: expected finite values.*impute"):
        tr.jax.diagnose(model, bad)
    with pytest.raises(ValueError, match=r"y: expected one target per row of X \(8 rows\)"):
        tr.jax.diagnose(model, X, np.zeros(7))
    with pytest.raises(ValueError, match="loss: expected one of"):
        tr.jax.diagnose(model, X, np.zeros((8, 2)), loss="hinge")
    with pytest.raises(ValueError, match=r"y: expected classes 0\.\.1"):
        tr.jax.diagnose(model, X, np.arange(8))


def test_lsuv_fix_gives_every_layer_unit_variance_on_a_copy() -> None:
    rngs = nnx.Rngs(0)
    tiny = nnx.initializers.normal(0.01)
    body = [
        m for _ in range(8) for m in (nnx.Linear(16, 16, kernel_init=tiny, rngs=rngs), jnp.tanh)
    ]
    model = nnx.Sequential(*body, nnx.Linear(16, 1, rngs=rngs))
    before = [np.array(v) for v in jax.tree.leaves(nnx.state(model))]
    X = np.random.default_rng(0).standard_normal((64, 16))
    desc, fixed = tr.jax.NNXRecorder(model, X, None, None).apply(Fix.LSUV, 0)
    assert "trainready.jax.lsuv_" in desc
    z_var = fixed.record(0).column("z_std") ** 2
    assert np.all(np.abs(z_var - 1.0) < 0.1), z_var
    after = jax.tree.leaves(nnx.state(model))
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def _snapshot(tree: Any) -> list[np.ndarray]:
    """Every leaf as a NumPy copy (PRNG keys by their key data)."""
    return [
        np.array(jax.random.key_data(a) if jnp.issubdtype(a.dtype, jax.dtypes.prng_key) else a)
        for a in jax.tree_util.tree_leaves(tree)
    ]


def _bn_pair(train: bool) -> tuple[nnx.Sequential, torch.nn.Sequential]:
    """Linear -> BatchNorm -> ReLU -> Linear -> BatchNorm -> ReLU -> Linear, same weights."""
    rng = np.random.default_rng(3)
    sizes = [6, 16, 16, 1]
    ws = [rng.standard_normal((o, i)) * 0.7 for i, o in itertools.pairwise(sizes)]
    bs = [rng.standard_normal(o) * 0.1 for o in sizes[1:]]
    mods: list[Any] = []
    tmods: list[torch.nn.Module] = []
    with jax.enable_x64(True):
        for k, (W, b) in enumerate(zip(ws, bs)):
            lin = nnx.Linear(W.shape[1], W.shape[0], rngs=nnx.Rngs(k), param_dtype=jnp.float64)
            lin.kernel[...], lin.bias[...] = jnp.asarray(W.T), jnp.asarray(b)
            tlin = torch.nn.Linear(W.shape[1], W.shape[0]).double()
            with torch.no_grad():
                tlin.weight.copy_(torch.from_numpy(W))
                tlin.bias.copy_(torch.from_numpy(b))
            mods.append(lin)
            tmods.append(tlin)
            if k < len(ws) - 1:
                bn = nnx.BatchNorm(W.shape[0], rngs=nnx.Rngs(k), param_dtype=jnp.float64)
                bn.mean[...] = jnp.full(W.shape[0], 0.3)  # running statistics used in eval
                bn.var[...] = jnp.full(W.shape[0], 2.0)
                tbn = torch.nn.BatchNorm1d(W.shape[0]).double()
                tbn.running_mean.fill_(float(np.float32(0.3)))  # Flax keeps them in float32
                tbn.running_var.fill_(2.0)
                mods += [bn, jax.nn.relu]
                tmods += [tbn, torch.nn.ReLU()]
    model, tmodel = nnx.Sequential(*mods), torch.nn.Sequential(*tmods)
    if train:
        model.train()
        tmodel.train()
    else:
        model.eval()
        tmodel.eval()
    return model, tmodel


@pytest.mark.parametrize("train", [True, False])
def test_batch_norm_in_either_mode_records_as_torch_and_leaves_the_model_unchanged(
    train: bool,
) -> None:
    """BatchNorm in training mode updates its statistics while it runs: on the traced copy only;
    the records equal torch's (batch statistics in training, running ones in eval mode)."""
    model, tmodel = _bn_pair(train)
    X = np.random.default_rng(0).standard_normal((64, 6)) * 3.0 + 1.0
    before = _snapshot(nnx.state(model))
    rec = tr.jax.record(model, X)
    trec = tr.torch.record(tmodel, torch.from_numpy(X))
    for ra, rb in zip(rec.layers, trec.layers, strict=True):
        for f in dataclasses.fields(ra):
            va, vb = getattr(ra, f.name), getattr(rb, f.name)
            if f.name in SKIP or isinstance(va, str | bool):
                assert f.name in SKIP or va == vb, (ra.index, f.name, va, vb)
            elif f.name == "bias_grad_norm" and train and ra.index < rec.depth:
                # a bias before BatchNorm in training mode has no effect: 0 up to rounding
                assert max(va, vb) < 1e-12 * ra.weight_grad_norm, (ra.index, va, vb)
            else:
                assert vb == pytest.approx(va, rel=1e-10, abs=1e-300), (ra.index, f.name, va, vb)
    for a, b in zip(before, _snapshot(nnx.state(model)), strict=True):
        np.testing.assert_array_equal(a, b)
    assert tr.jax.diagnose(model, X).kinds() == tr.torch.diagnose(tmodel, torch.from_numpy(X)).kinds()


def test_dropout_in_training_mode_is_recorded_and_leaves_the_rng_state_unchanged() -> None:
    rngs = nnx.Rngs(0)
    model = nnx.Sequential(
        nnx.Linear(8, 32, rngs=rngs), jax.nn.relu, nnx.Dropout(0.5, rngs=rngs),
        nnx.Linear(32, 1, rngs=rngs),
    )
    model.train()
    X = np.random.default_rng(0).standard_normal((64, 8))
    before = _snapshot(nnx.state(model))
    first = tr.jax.record(model, X)
    second = tr.jax.record(model, X)
    assert first.layers[1].z_std == second.layers[1].z_std  # the same mask each time
    for a, b in zip(before, _snapshot(nnx.state(model)), strict=True):
        np.testing.assert_array_equal(a, b)
