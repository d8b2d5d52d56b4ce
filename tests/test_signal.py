"""trainready.signal: records against torch autograd, the doctor on 50-layer nets, deep_linear,
figures."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch

import trainready as tr
from trainready import init as I
from trainready import signal as S
from trainready.errors import PrecisionWarning

DEPTH, WIDTH, N_IN, BATCH = 50, 256, 64, 256
DIMS = [N_IN] + [WIDTH] * (DEPTH - 1) + [1]


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    """One BLAS thread: `make test` runs two pytest workers on two cores, and OpenBLAS's own
    threads on top make the 150 small (256 x 256) products of a 50-layer pass 10-30x slower
    (measured). Results are unchanged; only the scheduling is."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((BATCH, N_IN))


def mlp(init: str | dict, activation: str = "relu", **kw: object) -> tr.nn.MLP:
    return tr.nn.MLP(DIMS, activation=activation, output="sigmoid", init=init, rng=1, **kw)


def torch_default_params(rng: int = 1) -> dict[str, np.ndarray]:
    """torch.nn.Linear's default: U(±1/sqrt(fan_in)) for weights (biases zero here)."""
    g = np.random.default_rng(rng)
    p = {}
    for l in range(1, len(DIMS)):
        p[f"W{l}"] = I.uniform((DIMS[l], DIMS[l - 1]), 1 / math.sqrt(DIMS[l - 1]), rng=g)
        p[f"b{l}"] = np.zeros(DIMS[l])
    return p


@dataclass
class StandIn:
    """Any object with params, activations and output works (duck typing)."""

    params: dict
    activations: tuple
    output: str = "linear"


# ------------------------------------------------------------------ records vs torch autograd
def torch_trace(params: dict, acts: list[str], output: str, X: np.ndarray, y=None, G=None):
    fns = {
        "relu": torch.relu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
        "linear": lambda z: z,
    }
    L = len(params) // 2
    Ws = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    a = torch.tensor(X)
    zs = []
    for l in range(1, L + 1):
        z = a @ Ws[f"W{l}"].T + Ws[f"b{l}"]
        z.retain_grad()
        zs.append(z)
        a = fns[acts[l - 1]](z) if l < L else z
    if y is None:
        loss = (torch.tensor(G) * zs[-1]).sum() / X.shape[0]
    elif output == "sigmoid":
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            zs[-1], torch.tensor(y).reshape(zs[-1].shape)
        )
    else:
        loss = torch.nn.functional.cross_entropy(zs[-1], torch.tensor(y))
    loss.backward()
    return zs, Ws


@pytest.mark.parametrize("with_y", [True, False])
@pytest.mark.parametrize(
    ("acts", "output"), [(["relu", "tanh"], "sigmoid"), (["leaky_relu", "sigmoid"], "softmax")]
)
def test_record_matches_torch_autograd(with_y: bool, acts: list[str], output: str) -> None:
    rng = np.random.default_rng(3)
    n_out = 1 if output == "sigmoid" else 3
    X = rng.standard_normal((40, 5))
    net = tr.nn.MLP([5, 7, 6, n_out], activation=acts, output=output, rng=0)
    params = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in net.params.items()}
    net.params = params
    if output == "sigmoid":
        y = (rng.random(40) > 0.5).astype(float)
    else:
        y = rng.integers(0, 3, 40)
    G = np.random.default_rng(7).standard_normal((40, n_out))
    rec = S.record(net, X, y if with_y else None, rng=7)
    zs, Ws = torch_trace(params, [*acts, output], output, X, y if with_y else None, G)
    assert rec.gradient_source == ("loss" if with_y else "probe")
    for r, z in zip(rec.layers, zs, strict=True):
        zn = z.detach().numpy()
        assert r.z_mean == pytest.approx(zn.mean(), rel=1e-10, abs=1e-14)
        assert r.z_std == pytest.approx(zn.std(), rel=1e-10)
        assert r.delta_norm == pytest.approx(np.linalg.norm(z.grad.numpy()), rel=1e-10)
        gW = Ws[f"W{r.index}"].grad.numpy()
        assert r.weight_grad_norm == pytest.approx(np.linalg.norm(gW), rel=1e-10)
        assert r.bias_grad_norm == pytest.approx(
            np.linalg.norm(Ws[f"b{r.index}"].grad.numpy()), rel=1e-10
        )
        assert r.grad_weight_ratio == pytest.approx(
            np.linalg.norm(gW) / np.linalg.norm(params[f"W{r.index}"]), rel=1e-10
        )
        assert r.weight_gain == pytest.approx(r.fan_in * np.mean(params[f"W{r.index}"] ** 2))
    if with_y:  # the doctor's backward equals the model's own gradients
        g = net.gradients(X, y)
        for r in rec.layers:
            assert r.weight_grad_norm == pytest.approx(np.linalg.norm(g[f"W{r.index}"]), rel=1e-10)


def test_dead_saturated_and_duplicate_fractions_by_hand() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4))
    p = I.initialize([4, 10, 8, 2], "he", rng=0)
    p["b1"][:3] = -100.0  # units 0-2 of layer 1: dead for every example
    p["W2"] *= 20.0
    p["W3"][:, 5] = p["W3"][:, 4]  # unit 5 of layer 2 copies unit 4 (incoming and outgoing)
    p["W2"][5] = p["W2"][4]
    p["b2"][5] = p["b2"][4]
    model = StandIn(p, ("relu", "tanh"))
    rec = S.record(model, X)
    z1 = X @ p["W1"].T + p["b1"]
    assert rec.layers[0].dead_fraction == np.mean(np.all(z1 <= 0, axis=0))
    assert rec.layers[0].dead_fraction >= 0.3
    z2 = np.maximum(z1, 0) @ p["W2"].T + p["b2"]
    assert rec.layers[1].saturated_fraction == np.mean(np.abs(z2) > 5)
    assert rec.layers[1].duplicate_fraction == pytest.approx(1 / 8)
    assert rec.layers[0].duplicate_fraction == 0.0
    assert rec.layers[0].saturated_fraction == 0.0  # relu layers do not saturate
    # the same copy with a different outgoing column is not a permanent symmetry
    p["W3"][:, 5] += 1.0
    assert S.record(StandIn(p, ("relu", "tanh")), X).layers[1].duplicate_fraction == 0.0


# -------------------------------------------------------------- the doctor on 50-layer networks
@pytest.fixture(scope="module")
def doctor_cases(X: np.ndarray) -> dict[str, S.Diagnosis]:
    cases = {
        "torch_default": mlp(torch_default_params()),
        "lecun": mlp("lecun"),
        "normal": mlp("random", init_scale=1.0),
        "he": mlp("he"),
        "tanh_orthogonal": mlp("orthogonal", activation="tanh"),
        "zeros": mlp("zeros"),
    }
    return {k: tr.diagnose(net, X) for k, net in cases.items()}


@pytest.mark.parametrize("case", ["torch_default", "lecun"])
def test_vanishing_is_flagged_with_a_verified_fix(doctor_cases, case: str) -> None:
    d = doctor_cases[case]
    van = [f for f in d.findings if f.kind == "vanishing"]
    assert van, d
    assert "exploding" not in d.kinds()
    fwd = next(f for f in van if f.quantity.startswith("last-layer"))
    assert fwd.value < 1e-6 and fwd.threshold == S.Thresholds().vanishing
    assert "relu needs 2" in fwd.message
    assert fwd.verified and fwd.fix.startswith("re-initialize with he_normal")
    assert "→" in fwd.fix and fwd.fix_value is not None and fwd.fix_value > 1e-2
    assert d.layers[-1].z_std < 1e-6


def test_torch_default_shrinks_like_theory(doctor_cases) -> None:
    # U(±1/sqrt(n)) has n Var(W) = 1/3; after a ReLU the variance shrinks 6x per layer
    d = doctor_cases["torch_default"]
    ratios = [(b.z_std / a.z_std) ** 2 for a, b in zip(d.layers[1:-2], d.layers[2:-1], strict=True)]
    assert np.exp(np.mean(np.log(ratios))) == pytest.approx(1 / 6, rel=0.15)
    assert d.layers[-1].z_std < 1e-17


def test_normal_init_is_flagged_exploding(doctor_cases) -> None:
    d = doctor_cases["normal"]
    exp = [f for f in d.findings if f.kind == "exploding"]
    assert exp and "vanishing" not in d.kinds()
    assert max(f.value for f in exp) > 1e40
    assert all(f.verified for f in exp)
    assert d.layers[-1].z_std > 1e45


@pytest.mark.parametrize("case", ["he", "tanh_orthogonal"])
def test_healthy_networks_pass(doctor_cases, case: str) -> None:
    d = doctor_cases[case]
    assert d.ok, str(d)
    assert 1e-2 < S.forward_ratio(d.record) < 1e2


def test_zero_init_is_flagged_symmetry(doctor_cases) -> None:
    d = doctor_cases["zeros"]
    assert d.kinds()[0] == "symmetry"
    sym = d.findings[0]
    assert sym.value == pytest.approx((WIDTH - 1) / WIDTH)
    assert sym.verified and sym.fix_value == 0.0


@pytest.mark.parametrize("case", ["torch_default", "lecun", "normal", "zeros"])
def test_lsuv_repairs_the_flagged_networks(X: np.ndarray, case: str) -> None:
    net = {
        "torch_default": lambda: mlp(torch_default_params()),
        "lecun": lambda: mlp("lecun"),
        "normal": lambda: mlp("random", init_scale=1.0),
        "zeros": lambda: mlp("zeros"),
    }[case]()
    assert not tr.diagnose(net, X, verify=False).ok
    tr.init.lsuv_(net, X, rng=0)
    d = tr.diagnose(net, X)
    assert not {"vanishing", "exploding", "symmetry"} & set(d.kinds()), str(d)
    assert 0.5 <= d.layers[-1].z_std <= 2


def test_saturation_dead_units_and_unnormalized_input() -> None:
    rng = np.random.default_rng(0)
    dims = [8, 64, 64, 64, 1]
    X = rng.standard_normal((200, 8))
    sat = tr.nn.MLP(dims, activation="tanh", output="sigmoid", init="random", init_scale=1.0, rng=0)
    d = tr.diagnose(sat, X)
    f = next(f for f in d.findings if f.kind == "saturation")
    assert f.value > 0.25 and f.verified and "lecun_normal" in f.fix
    dead = tr.nn.MLP(dims, activation="relu", output="sigmoid", rng=0)
    p = dead.params
    p["b2"] = np.full(64, -50.0)  # injected fault: layer 2 switched off
    dead.params = p
    d = tr.diagnose(dead, X)
    f = next(f for f in d.findings if f.kind == "dead_units")
    assert f.layer == 2 and f.value == 1.0 and f.verified
    Xu = X * np.array([1, 1, 1, 1, 1e3, 1e3, 1, 1]) + 500.0
    d = tr.diagnose(tr.nn.MLP(dims, rng=0), Xu)
    inputs = [f for f in d.findings if f.kind == "unnormalized_input"]
    assert len(inputs) == 1 and inputs[0].layer == 0 and inputs[0].verified  # one input finding
    assert "scale_mismatch" in inputs[0].quantity
    assert "standardize" in inputs[0].fix


def test_judge_works_on_records_from_elsewhere() -> None:
    # an adapter (e.g. PyTorch hooks) fills LayerRecords; the same findings logic applies
    rec = S.record(
        StandIn(I.initialize([4, 16, 16, 1], "he", rng=0), ("relu", "relu")),
        np.random.default_rng(0).standard_normal((64, 4)),
    )
    assert S.judge(rec) == []
    shrunk = tuple(
        dataclasses.replace(r, z_std=r.z_std * 1e-4 ** (r.index - 1)) for r in rec.layers
    )
    found = S.judge(dataclasses.replace(rec, layers=shrunk))
    assert [f.kind for f in found] == ["vanishing"] and found[0].layer == 2
    nan = tuple(dataclasses.replace(r, nonfinite=r.index == 3) for r in rec.layers)
    f = S.judge(dataclasses.replace(rec, layers=nan))
    assert f[0].kind == "exploding" and f[0].layer == 3
    assert S.judge(rec, S.Thresholds(vanishing=0.99, exploding=1.01)) != []


def test_model_and_inputs_are_not_modified(X: np.ndarray) -> None:
    net = mlp("lecun")
    before = {k: v.copy() for k, v in net.params.items()}
    X0 = X.copy()
    tr.diagnose(net, X)
    np.testing.assert_array_equal(X, X0)
    for k, v in net.params.items():
        np.testing.assert_array_equal(v, before[k])


def test_bad_input_errors() -> None:
    net = tr.nn.MLP([3, 4, 1], rng=0)
    with pytest.raises(TypeError, match="params"):
        tr.diagnose(object(), np.ones((4, 3)))
    with pytest.raises(ValueError, match="X"):
        tr.diagnose(net, np.ones((4, 5)))
    with pytest.raises(ValueError, match="X"):
        tr.diagnose(net, np.ones((1, 3)))
    with pytest.warns(PrecisionWarning, match="float64"):
        S.record(net, np.ones((4, 3), dtype=np.float32))


# ------------------------------------------------------------------------------- deep linear
@pytest.mark.parametrize("scale", [1.5, 0.5])
def test_deep_linear_exact_powers(scale: float) -> None:
    r = S.deep_linear(50, scale, width=8)
    l = np.arange(1, 51)
    np.testing.assert_allclose(r.activation_ratio, scale**l, rtol=1e-13)
    np.testing.assert_allclose(r.gradient_ratio, scale ** (50 - l), rtol=1e-13)
    np.testing.assert_array_equal(r.expected_activation, scale ** l.astype(float))
    d = S.judge(r.record)
    assert ("exploding" if scale > 1 else "vanishing") in [f.kind for f in d]


# ----------------------------------------------------------------------------------- figures
def test_figures() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from trainready.report import plot_activation_histograms, plot_signal

    X = np.random.default_rng(0).standard_normal((64, 16))
    recs = S.compare([16] + [32] * 15 + [1], X, ["he", "lecun", "random"])
    fig = plot_signal(recs, title="schemes")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert all(ax.get_yscale() == "log" for ax in fig.axes)
    assert [len(ax.lines) for ax in fig.axes] == [3, 3]
    he_line = fig.axes[0].lines[0].get_ydata()
    np.testing.assert_allclose(he_line, recs["he"].column("z_std"))
    hist = plot_activation_histograms(recs["he"], layers=[1, 8, 16])
    assert sum(ax.get_visible() for ax in hist.axes) == 3
    with pytest.raises(ValueError, match="layers"):
        plot_activation_histograms(recs["he"], layers=[0])
    assert len(plot_signal(recs["he"], gradient="delta").axes) == 2
