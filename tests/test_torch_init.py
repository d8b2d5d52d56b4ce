"""trainready.torch.init_ and lsuv_: torch's formulas, the NumPy reference, module order."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import trainready as tr  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _torch_std(weight: torch.Tensor, nonlinearity: str, param: float | None = None) -> float:
    """The std torch.nn.init.kaiming_normal_ (fan_in) uses: torch's own gain and fan code."""
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(weight)
    return nn.init.calculate_gain(nonlinearity, param) / math.sqrt(fan_in)


def test_auto_reads_the_activation_from_module_order_and_matches_torch() -> None:
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3),
        nn.BatchNorm2d(8),  # not an activation: the ReLU after it counts
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, groups=2),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 32),
        nn.Tanh(),
        nn.Linear(32, 16),
        nn.Sigmoid(),
        nn.Linear(16, 3),
    )
    torch.manual_seed(0)
    state = torch.random.get_rng_state()
    table = tr.torch.init_(model, rng=0)
    assert torch.equal(torch.random.get_rng_state(), state)  # torch's generator untouched
    got = [(r.name, r.type, r.activation, r.scheme) for r in table]
    assert got == [
        ("0", "Conv2d", "relu", "he"),
        ("3", "Conv2d", "leaky_relu", "he"),
        ("6", "Linear", "tanh", "lecun"),
        ("8", "Linear", "sigmoid", "lecun"),
        ("10", "Linear", "linear", "lecun"),
    ]
    layers = {r.name: model[int(r.name)] for r in table}
    assert table[0].std == pytest.approx(_torch_std(layers["0"].weight, "relu"), rel=1e-12)
    assert table[1].std == pytest.approx(
        _torch_std(layers["3"].weight, "leaky_relu", 0.2), rel=1e-12
    )
    assert table[1].fan_in == 4 * 9  # grouped conv: in / groups * kernel
    for r in table[2:]:
        assert r.std == pytest.approx(_torch_std(layers[r.name].weight, "linear"), rel=1e-12)
    for r in table:
        layer = layers[r.name]
        assert layer.weight.dtype == torch.float32
        assert torch.count_nonzero(layer.bias) == 0
        assert r.shape == tuple(layer.weight.shape)


@pytest.mark.parametrize("scheme", ["auto", "he", "lecun", "xavier", "orthogonal"])
def test_drawn_weights_have_the_std_set(scheme: str) -> None:
    model = nn.Sequential(nn.Linear(200, 150), nn.ReLU(), nn.Linear(150, 100)).double()
    table = tr.torch.init_(model, scheme, rng=1)
    for r, layer in zip(table, (model[0], model[2]), strict=True):
        W = layer.weight.detach().numpy()
        fan_in, fan_out = W.shape[1], W.shape[0]
        expected = {
            "auto": (math.sqrt(2) if r.activation == "relu" else 1.0) / math.sqrt(fan_in),
            "he": math.sqrt(2 / fan_in),
            "lecun": 1 / math.sqrt(fan_in),
            "xavier": math.sqrt(2 / (fan_in + fan_out)),
            "orthogonal": (math.sqrt(2) if r.activation == "relu" else 1.0)
            / math.sqrt(max(W.shape)),
        }[scheme]
        assert r.std == pytest.approx(expected, rel=1e-12)
        assert float(np.sqrt(np.mean(W**2))) == pytest.approx(expected, rel=0.02)
        if scheme == "orthogonal":
            g = math.sqrt(2) if r.activation == "relu" else 1.0
            np.testing.assert_allclose(W @ W.T, g * g * np.eye(fan_out), atol=1e-12)


def test_given_activation_and_reproducibility() -> None:
    def make() -> nn.Module:
        return nn.Sequential(nn.Linear(10, 20), nn.Linear(20, 5))

    a, b = make(), make()
    ta = tr.torch.init_(a, activation={"0": "relu"}, rng=3)
    tr.torch.init_(b, activation={"0": "relu"}, rng=3)
    assert [r.activation for r in ta] == ["relu", "linear"]
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert [r.activation for r in tr.torch.init_(a, activation="tanh")] == ["tanh", "tanh"]
    assert "activation" in str(ta) and "relu" in str(ta)


def test_functional_activations_need_to_be_given() -> None:
    """A transformer block applies F.relu inside forward: module order cannot see it."""
    block = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0)
    table = tr.torch.init_(block, rng=0)
    names = [r.name for r in table]
    assert names == ["self_attn.out_proj", "linear1", "linear2"]
    assert table[1].activation == "linear"
    table = tr.torch.init_(block, activation={"linear1": "relu"}, rng=0)
    assert table[1].scheme == "he"


def test_init_errors() -> None:
    with pytest.raises(ValueError, match="scheme"):
        tr.torch.init_(nn.Linear(2, 2), "kaiming")
    with pytest.raises(ValueError, match="no Linear/Conv layer named"):
        tr.torch.init_(nn.Linear(2, 2), activation={"nope": "relu"})
    with pytest.raises(ValueError, match="unknown activation"):
        tr.torch.init_(nn.Linear(2, 2), activation="swish2")
    with pytest.raises(ValueError, match="no Linear or Conv"):
        tr.torch.init_(nn.LayerNorm(3))
    with pytest.raises(ValueError, match="lazy"):
        tr.torch.init_(nn.LazyLinear(3))
    with pytest.raises(TypeError, match="nn.Module"):
        tr.torch.init_("model")


def test_deep_relu_default_init_vanishes_and_init_fixes_it() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(*[m for _ in range(20) for m in (nn.Linear(64, 64), nn.ReLU())])
    X = torch.randn(128, 64)
    assert "vanishing" in tr.torch.diagnose(model, X, verify=False).kinds()
    tr.torch.init_(model, rng=0)
    assert tr.torch.diagnose(model, X, verify=False).ok


# ------------------------------------------------------------------------------------ LSUV
def _reference_pair(dims: list[int], act: str, rng: int) -> tuple[tr.nn.MLP, nn.Module, np.ndarray]:
    net = tr.nn.MLP(dims, activation=act, output="linear", init="lecun", rng=rng)
    mods: list[nn.Module] = []
    for l in range(1, len(dims)):
        lin = nn.Linear(dims[l - 1], dims[l]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(net.params[f"W{l}"]))
            lin.bias.copy_(torch.from_numpy(net.params[f"b{l}"]))
        mods.append(lin)
        if l < len(dims) - 1:
            mods.append(nn.ReLU() if act == "relu" else nn.Tanh())
    X = np.random.default_rng(rng).standard_normal((200, dims[0])) * 3 + 1
    return net, nn.Sequential(*mods), X


@pytest.mark.parametrize("orthonormal", [True, False])
def test_lsuv_matches_the_numpy_reference(orthonormal: bool) -> None:
    net, model, X = _reference_pair([12, 40, 30, 20, 1], "relu", 4)
    ref = tr.init.lsuv_(net, X, rng=9, orthonormal=orthonormal)
    table = tr.torch.lsuv_(model, torch.from_numpy(X), rng=9, orthonormal=orthonormal)
    for k, lin in enumerate(model[::2], start=1):
        np.testing.assert_allclose(lin.weight.detach().numpy(), net.params[f"W{k}"], rtol=1e-12)
        np.testing.assert_allclose(lin.bias.detach().numpy(), net.params[f"b{k}"], atol=1e-15)
    assert [r.name for r in table] == ["0", "2", "4", "6"]
    for a, b in zip(ref, table, strict=True):  # the one algorithm: the same table on both halves
        assert (a.iterations, a.converged) == (b.iterations, b.converged)
        assert b.variance_after == pytest.approx(a.variance_after, rel=1e-9)


def test_lsuv_reaches_unit_variance_and_leaves_the_rest_alone() -> None:
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(8 * 8 * 8, 4),
    )
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, 8, 8))  # non-trivial running statistics
    bn = {k: v.clone() for k, v in model[1].state_dict().items()}
    X = torch.randn(32, 3, 8, 8) * 5
    table = tr.torch.lsuv_(model, X, tol=0.05, rng=0)
    assert model.training and model[3].training  # modes restored
    for k, v in model[1].state_dict().items():
        assert torch.equal(v, bn[k])  # buffers untouched
    # independent measurement of each layer's output variance, in eval mode as LSUV ran
    seen: dict[str, float] = {}

    def keep(name: str):  # type: ignore[no-untyped-def]
        def hook(m: nn.Module, args: object, out: torch.Tensor) -> None:
            seen.setdefault(name, float(out.double().var(unbiased=False)))

        return hook

    hooks = [
        m.register_forward_hook(keep(n))
        for n, m in model.named_modules()
        if isinstance(m, nn.Conv2d | nn.Linear)
    ]
    model.eval()
    with torch.no_grad():
        model(X)
    model.train()
    for h in hooks:
        h.remove()
    for r in table:
        assert abs(seen[r.name] - 1) < 0.05
        assert r.variance_after == pytest.approx(seen[r.name], rel=1e-5)


def test_lsuv_errors() -> None:
    with pytest.raises(ValueError, match="tol"):
        tr.torch.lsuv_(nn.Linear(2, 2), torch.randn(4, 2), tol=0)
    with pytest.raises(ValueError, match="max_iter"):
        tr.torch.lsuv_(nn.Linear(2, 2), torch.randn(4, 2), max_iter=0)
    with pytest.raises(ValueError, match="no Linear or Conv"):
        tr.torch.lsuv_(nn.ReLU(), torch.randn(4, 2))


# ---------------------------------------------------------------- per-channel normalization
def test_per_channel_scaler_gives_torchvision_normalize_parameters() -> None:
    """StandardScaler(axis=1) fitted batch by batch on (N, C, H, W) tensors gives the (mean, std)
    of torchvision.transforms.Normalize: the closed form over N, H, W per channel (population
    std), and Normalize's (x - mean) / std then has per-channel mean 0 and std 1."""
    gen = torch.Generator().manual_seed(0)
    scale = torch.tensor([0.2, 0.05, 0.3]).reshape(1, 3, 1, 1)
    shift = torch.tensor([0.5, 0.4, 0.45]).reshape(1, 3, 1, 1)
    images = (torch.rand(96, 3, 8, 8, generator=gen) - 0.5) * scale * 3 + shift
    images[:48] += 0.1  # batches with different means: pooled std is not the mean of stds
    sc = tr.StandardScaler(axis=1)
    for chunk in images.split(32):
        sc.partial_fit(chunk)
    mean, std = sc.to_torchvision()
    x = images.double()
    exact_mean = x.mean(dim=(0, 2, 3))
    exact_std = ((x - exact_mean.reshape(1, 3, 1, 1)) ** 2).mean(dim=(0, 2, 3)).sqrt()
    np.testing.assert_allclose(mean, exact_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(std, exact_std.numpy(), rtol=1e-12)
    mean_of_batch_stds = torch.stack([c.std(dim=(0, 2, 3)) for c in x.split(32)]).mean(0)
    assert not np.allclose(std, mean_of_batch_stds.numpy(), rtol=1e-3)
    # what transforms.Normalize(mean, std) computes: tensor.sub_(mean).div_(std) per channel
    m64 = torch.tensor(mean, dtype=torch.float64).reshape(1, 3, 1, 1)
    s64 = torch.tensor(std, dtype=torch.float64).reshape(1, 3, 1, 1)
    normalized = (x - m64) / s64
    np.testing.assert_allclose(normalized.mean(dim=(0, 2, 3)).numpy(), 0, atol=1e-12)
    np.testing.assert_allclose(normalized.std(dim=(0, 2, 3), unbiased=False).numpy(), 1, rtol=1e-12)
