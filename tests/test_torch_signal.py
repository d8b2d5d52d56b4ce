"""trainready.torch.record/diagnose: hooks give the NumPy reference's records and findings."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import trainready as tr  # noqa: E402
from test_torch_gradcheck import Residual, snapshot  # noqa: E402

FIELDS = (
    "fan_in",
    "fan_out",
    "weight_rms",
    "weight_gain",
    "z_mean",
    "z_std",
    "z_rms",
    "a_mean",
    "a_std",
    "a_rms",
    "dead_fraction",
    "saturated_fraction",
    "duplicate_fraction",
    "delta_rms",
    "delta_norm",
    "weight_norm",
    "weight_grad_norm",
    "bias_grad_norm",
    "grad_weight_ratio",
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _as_torch(net: tr.nn.MLP, act: str, *, inplace: bool = False) -> nn.Sequential:
    L = len(net.params) // 2
    mods: list[nn.Module] = []
    for l in range(1, L + 1):
        W = net.params[f"W{l}"]
        lin = nn.Linear(W.shape[1], W.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(net.params[f"b{l}"]))
        mods.append(lin)
        if l < L:
            mods.append(nn.ReLU(inplace=inplace) if act == "relu" else nn.Tanh())
    return nn.Sequential(*mods)


class Functional(nn.Module):
    """The same MLP with functional activations in forward (no activation modules)."""

    def __init__(self, seq: nn.Sequential, act: str) -> None:
        super().__init__()
        self.layers = nn.ModuleList(m for m in seq if isinstance(m, nn.Linear))
        self.act = F.relu if act == "relu" else torch.tanh

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for lin in self.layers[:-1]:
            x = self.act(lin(x))
        return self.layers[-1](x)


def _assert_same_records(a: tr.signal.SignalRecord, b: tr.signal.SignalRecord) -> None:
    assert a.depth == b.depth and a.gradient_source == b.gradient_source
    assert [r.activation for r in a.layers[:-1]] == [r.activation for r in b.layers[:-1]]
    for ra, rb in zip(a.layers, b.layers, strict=True):
        for f in FIELDS:
            if (f.startswith("a_") or f == "saturated_fraction") and ra.index == a.depth:
                continue  # the reference applies its output head; the torch model ends in logits
            va, vb = getattr(ra, f), getattr(rb, f)
            assert vb == pytest.approx(va, rel=1e-9, abs=1e-300), (ra.index, f, va, vb)
    assert b.input_std == pytest.approx(a.input_std, rel=1e-12)


CASES = [
    ("he", "relu", 0.0),
    ("lecun", "relu", 0.0),  # vanishing
    ("random", "tanh", 0.0),  # N(0, 0.01^2): vanishing
    ("random_big", "tanh", 0.0),  # N(0, 1): saturation
    ("zeros", "relu", 0.0),  # symmetry
    ("he", "relu", -3.0),  # large negative biases: dead ReLUs
]


@pytest.mark.parametrize(("init", "act", "bias"), CASES)
@pytest.mark.parametrize("with_loss", [False, True])
def test_records_and_findings_equal_the_reference_network(
    init: str, act: str, bias: float, with_loss: bool
) -> None:
    kw = {"init_scale": 1.0} if init == "random_big" else {}
    out = "sigmoid" if with_loss else "linear"
    net = tr.nn.MLP(
        [10] + [24] * 16 + [1],
        activation=act,
        output=out,
        init="random" if init == "random_big" else init,
        rng=0,
        **kw,
    )
    if bias:
        net.params = {
            k: (v + bias if k.startswith("b") and k != "b17" else v) for k, v in net.params.items()
        }
    X = np.random.default_rng(1).standard_normal((64, 10))
    y = (np.random.default_rng(2).random((64, 1)) > 0.5).astype(np.float64)
    model = _as_torch(net, act)
    torch_kw = {"y": torch.from_numpy(y), "loss": nn.BCEWithLogitsLoss()} if with_loss else {}
    ref_y = y if with_loss else None
    _assert_same_records(
        tr.signal.record(net, X, ref_y), tr.torch.record(model, torch.from_numpy(X), **torch_kw)
    )
    da = tr.diagnose(net, X, ref_y)
    db = tr.torch.diagnose(model, torch.from_numpy(X), **torch_kw)
    assert db.kinds() == da.kinds()
    for fa, fb in zip(da.findings, db.findings, strict=True):
        assert (fb.layer, fb.verified) == (fa.layer, fa.verified)
        assert fb.value == pytest.approx(fa.value, rel=1e-9)
    if init in ("lecun", "random", "random_big", "zeros") or bias:
        assert db.findings  # the bank has problems to find


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_functional_and_inplace_activations_record_the_same(act: str) -> None:
    net = tr.nn.MLP([8, 16, 16, 16, 2], activation=act, output="linear", init="he", rng=3)
    X = torch.from_numpy(np.random.default_rng(3).standard_normal((32, 8)))
    ref = tr.torch.record(_as_torch(net, act), X)
    _assert_same_records(ref, tr.torch.record(Functional(_as_torch(net, act), act), X))
    if act == "relu":
        _assert_same_records(ref, tr.torch.record(_as_torch(net, act, inplace=True), X))


def _deep_cnn(depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    c = 3
    for _ in range(depth):
        layers += [nn.Conv2d(c, 8, 3, padding=1), nn.ReLU(inplace=True)]
        c = 8
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))


def test_cnn_unnormalized_images_and_default_init() -> None:
    torch.manual_seed(0)
    model = _deep_cnn(12)
    images = torch.rand(16, 3, 12, 12) * 255  # raw pixels
    before = snapshot(model)
    diag = tr.torch.diagnose(model, images)
    assert snapshot(model) == before
    kinds = diag.kinds()
    assert "unnormalized_input" in kinds and "vanishing" in kinds
    unscaled = [f for f in diag.findings if f.kind == "unnormalized_input"]
    assert all(f.verified and "per channel" in f.fix and "axis=1" in f.fix for f in unscaled)
    assert [r.name for r in diag.layers] == [str(2 * i) for i in range(12)] + ["26"]
    assert {r.activation for r in diag.layers[:-1]} == {"relu"}
    assert all(r.fan_in in (27, 72) for r in diag.layers[:-1])
    vanishing = next(f for f in diag.findings if f.kind == "vanishing")
    assert vanishing.verified and "init_" in vanishing.fix
    tr.torch.init_(model, rng=0)
    assert tr.torch.diagnose(model, images / 255 - 0.5, verify=False).ok


def test_residual_blocks_in_training_mode_are_left_unchanged() -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), Residual(4), Residual(4))
    model.train()
    X = torch.randn(6, 3, 6, 6)
    model.zero_grad()
    model(X).sum().backward()
    before = snapshot(model)
    diag = tr.torch.diagnose(model, X)
    assert snapshot(model) == before  # BatchNorm running stats and .grad included
    assert [r.name for r in diag.layers] == [
        "0",
        "1.conv1",
        "1.conv2",
        "2.conv1",
        "2.conv2",
    ]
    assert [r.activation for r in diag.layers] == ["linear", "relu", "relu", "relu", "relu"]
    assert diag.ok, str(diag)


def test_transformer_blocks() -> None:
    torch.manual_seed(2)
    model = nn.Sequential(
        *[nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True) for _ in range(3)]
    )
    model.eval()
    X = torch.randn(4, 5, 16)
    before = snapshot(model)
    rec = tr.torch.record(model, X)
    assert snapshot(model) == before
    assert [r.name for r in rec.layers] == [f"{i}.linear{k}" for i in range(3) for k in (1, 2)]
    assert [r.activation for r in rec.layers] == ["relu", "linear"] * 3  # F.relu is seen
    assert all(r.delta_norm > 0 and r.weight_grad_norm > 0 for r in rec.layers)
    assert tr.torch.diagnose(model, X).ok
    # the probe gradient matches autograd: weight-gradient norm of the last layer
    G = torch.from_numpy(np.random.default_rng(0).standard_normal((4, 5, 16)))
    loss = (G * model.double()(X.double())).sum() / 4
    (gw,) = torch.autograd.grad(loss, [model[2].linear2.weight])
    assert rec.layers[-1].weight_grad_norm == pytest.approx(float(gw.norm()), rel=1e-9)


def test_weight_sharing_and_frozen_layers() -> None:
    torch.manual_seed(3)
    lin = nn.Linear(6, 6)
    model = nn.Sequential(lin, nn.Tanh(), lin, nn.Tanh(), nn.Linear(6, 1))
    model[4].requires_grad_(False)
    rec = tr.torch.record(model, torch.randn(10, 6))
    assert [r.name for r in rec.layers] == ["0", "0#2", "4"]
    assert rec.layers[2].weight_grad_norm > 0  # frozen, yet its gradient is measured
    assert not model[4].weight.requires_grad


def test_errors() -> None:
    with pytest.raises(ValueError, match="no Linear or Conv"):
        tr.torch.record(nn.ReLU(), torch.randn(4, 3))
    with pytest.raises(TypeError, match="nn.Module"):
        tr.torch.record(lambda x: x, torch.randn(4, 3))
