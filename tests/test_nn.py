"""trainready.nn.MLP: whole-network gradients against torch.autograd, gradcheck (with injected
faults), training on the circles, reproducibility, dtypes, persistence and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

import trainready as tr
from trainready.errors import FormatError, TrainingDivergedError
from trainready.nn import MLP, Adam, EpochInfo, History
from trainready.nn.activations import Tanh

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_ACT = {
    "relu": torch.relu,
    "leaky_relu": lambda t: F.leaky_relu(t, 0.01),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "linear": lambda t: t,
}


def torch_cost(net: MLP, params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray):
    """The same cost written with torch ops, for autograd; returns (cost, tensors by name)."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    a = torch.tensor(X, dtype=torch.float64)
    L = net.n_layers
    for l in range(1, L + 1):
        z = F.linear(a, t[f"W{l}"], t[f"b{l}"])
        if l == L:
            break
        if net.batch_norm[l - 1]:
            z = F.batch_norm(z, None, None, t[f"gamma{l}"], t[f"beta{l}"], training=True, eps=1e-5)
        a = TORCH_ACT[net.activations[l - 1]](z)
    if net.output != "softmax":
        y = y.reshape(z.shape)
    if net.output == "sigmoid":
        cost = F.binary_cross_entropy_with_logits(z, torch.tensor(y, dtype=torch.float64))
    elif net.output == "softmax":
        cost = F.cross_entropy(z, torch.tensor(y))
    else:
        cost = F.mse_loss(z, torch.tensor(y, dtype=torch.float64))
    m = X.shape[0]
    cost = cost + net.l2 / (2 * m) * sum((t[f"W{l}"] ** 2).sum() for l in range(1, L + 1))
    return cost, t


CONFIGS = [
    dict(layer_dims=[3, 6, 5, 1], activation="relu", output="sigmoid"),
    dict(layer_dims=[3, 6, 5, 4], activation="tanh", output="softmax", l2=0.7),
    dict(layer_dims=[3, 7, 2], activation="leaky_relu", output="linear"),
    dict(layer_dims=[3, 5, 5, 5, 3], activation=["sigmoid", "linear", "relu"], output="softmax"),
    dict(layer_dims=[3, 6, 4, 2], activation="relu", output="sigmoid", batch_norm=True, l2=0.2),
    dict(layer_dims=[3, 6, 4, 3], activation="tanh", output="softmax", batch_norm=[False, True]),
    dict(layer_dims=[3, 2], activation="relu", output="sigmoid"),  # logistic regression
]


def _data(cfg: dict, m: int = 11, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, cfg["layer_dims"][0]))
    k = cfg["layer_dims"][-1]
    if cfg["output"] == "sigmoid":
        y = (rng.random((m, k)) < 0.5).astype(float)
        return X, (y[:, 0] if k == 1 else y)
    if cfg["output"] == "softmax":
        return X, rng.integers(0, k, m)
    return X, rng.standard_normal((m, k))


def _net(cfg: dict, seed: int = 1) -> MLP:
    cfg = dict(cfg)
    net = MLP(cfg.pop("layer_dims"), init="he", rng=seed, **cfg)
    # non-trivial batch-norm parameters and biases, so that every term is exercised
    rng = np.random.default_rng(seed + 100)
    net.params = {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in net.params.items()}
    return net


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(map(str, c["layer_dims"])))
def test_cost_and_gradients_match_torch_autograd(cfg: dict) -> None:
    net = _net(cfg)
    X, y = _data(cfg)
    cost_t, tensors = torch_cost(net, net.params, X, y)
    cost_t.backward()
    assert net.loss(X, y) == pytest.approx(cost_t.item(), abs=1e-10)
    grads = net.gradients(X, y)
    assert set(grads) == set(net.params)
    for name, g in grads.items():
        np.testing.assert_allclose(g, tensors[name].grad.numpy(), atol=1e-10, rtol=0)


@pytest.mark.parametrize("cfg", CONFIGS[:6], ids=lambda c: "-".join(map(str, c["layer_dims"])))
def test_net_gradcheck_passes_and_leaves_the_net_unchanged(cfg: dict) -> None:
    net = _net(cfg, seed=2)
    X, y = _data(cfg, seed=3)
    cfgd = dict(cfg)
    net_dropout = MLP(cfgd.pop("layer_dims"), init=net.params, keep_prob=0.6, **cfgd)
    before = {k: v.copy() for k, v in net_dropout.params.items()}
    buffers = net_dropout.buffers
    rep = net_dropout.gradcheck(X, y)
    assert rep.passed, str(rep)
    assert rep.difference < 1e-6
    for k, v in net_dropout.params.items():
        assert v.tobytes() == before[k].tobytes()
    for k, v in net_dropout.buffers.items():
        np.testing.assert_array_equal(v, buffers[k])


class _WrongTanh(Tanh):
    """A fault: the derivative is twice what it should be."""

    def backward(self, z, a, da, *, out=None):  # type: ignore[override]
        res = super().backward(z, a, da, out=out)
        res *= 2
        return res


def test_gradcheck_catches_an_injected_backward_fault() -> None:
    X, y = _data(CONFIGS[1], seed=4)
    net = MLP([3, 6, 5, 4], activation=[_WrongTanh(), "tanh"], output="softmax", rng=0)
    rep = net.gradcheck(X, y)
    assert not rep.passed
    assert rep.verdict == "wrong"
    assert rep.params["W1"].difference > 1e-3 and rep.params["W3"].difference < 1e-7


def test_gradients_with_a_fixed_dropout_mask_pass_gradcheck() -> None:
    cfg = CONFIGS[0]
    X, y = _data(cfg, m=20)
    net = MLP([3, 6, 5, 1], keep_prob=[0.5, 0.8], rng=0)
    # non-zero biases: with b = 0, a row whose inputs were all dropped sits exactly on ReLU's kink
    rng = np.random.default_rng(1)
    start = {k: v + 0.1 * rng.standard_normal(v.shape) for k, v in net.params.items()}

    def loss(p):
        net.params = p
        return net.loss(X, y, dropout=True, rng=7)  # the same mask every call

    def grads(p):
        net.params = p
        return net.gradients(X, y, dropout=True, rng=7)

    rep = tr.gradcheck(loss, start, grads)
    assert rep.passed, str(rep)
    # dropout is really on: the cost differs from the deterministic one
    net.params = start
    assert net.loss(X, y, dropout=True, rng=7) != pytest.approx(net.loss(X, y))


def test_circles_he_relu_reaches_the_course_accuracy() -> None:
    data = tr.datasets.circles(rng=0)
    net = MLP([2, 10, 5, 1], activation="relu", output="sigmoid", init="he", rng=0)
    hist = net.fit(data.X_train, data.y_train, lr=0.01, epochs=15000)
    assert len(hist.loss) == 15000 and hist.loss[-1] < hist.loss[0]
    assert net.accuracy(data.X_train, data.y_train) >= 0.98
    assert net.accuracy(data.X_test, data.y_test) >= 0.94
    # and a linear model cannot: the task needs the hidden layers
    lin = MLP([2, 1], output="sigmoid", init="zeros", rng=0)
    lin.fit(data.X_train, data.y_train, lr=0.5, epochs=300)
    assert lin.accuracy(data.X_test, data.y_test) < 0.75


def test_zero_init_never_breaks_symmetry() -> None:
    data = tr.datasets.circles(rng=1)
    net = MLP([2, 10, 5, 1], activation="relu", output="sigmoid", init="zeros", rng=0)
    hist = net.fit(data.X_train, data.y_train, lr=0.01, epochs=500)
    p = net.params
    for l in (1, 2, 3):
        W = p[f"W{l}"]
        np.testing.assert_array_equal(W, np.broadcast_to(W[0], W.shape))  # every unit alike
    acc = net.accuracy(data.X_test, data.y_test)
    assert acc == pytest.approx(0.5, abs=0.06)  # chance on balanced classes
    assert hist.loss[-1] == pytest.approx(np.log(2), abs=1e-3)


def test_same_weights_and_data_give_the_same_history() -> None:
    data = tr.datasets.moons(rng=2)
    kwargs = dict(lr=0.01, epochs=30, batch_size=32, optimizer="adam", rng=5)
    start = MLP([2, 16, 8, 1], keep_prob=0.8, batch_norm=True, rng=3).params
    h = []
    for _ in range(2):
        net = MLP([2, 16, 8, 1], init=start, keep_prob=0.8, batch_norm=True)
        h.append(
            net.fit(data.X_train, data.y_train, X_dev=data.X_test, y_dev=data.y_test, **kwargs)
        )
    assert h[0] == h[1]  # losses, dev losses and accuracies, bit for bit
    assert len(h[0].dev_loss) == 30 and len(h[0].dev_accuracy) == 30
    other = MLP([2, 16, 8, 1], init=start, keep_prob=0.8, batch_norm=True)
    assert other.fit(data.X_train, data.y_train, **{**kwargs, "rng": 6}).loss != h[0].loss


@pytest.mark.parametrize("optimizer", ["gd", "momentum", "adam", Adam(beta1=0.8)])
def test_optimizers_and_mini_batches_learn_blobs(optimizer) -> None:
    data = tr.datasets.blobs(n_features=4, n_classes=4, spread=1.5, rng=0)
    net = MLP([4, 16, 4], activation="tanh", output="softmax", init="lecun", rng=0)
    lr = 0.01 if optimizer != "gd" and optimizer != "momentum" else 0.1
    hist = net.fit(data.X_train, data.y_train, lr=lr, epochs=40, batch_size=32, optimizer=optimizer)
    assert hist.loss[-1] < 0.5 * hist.loss[0]
    assert net.accuracy(data.X_test, data.y_test) > 0.9
    proba = net.predict_proba(data.X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-12)
    np.testing.assert_array_equal(net.predict(data.X_test), proba.argmax(axis=1))


def test_one_hot_labels_equal_integer_labels() -> None:
    X, y = _data(CONFIGS[1])
    net = _net(CONFIGS[1])
    assert net.loss(X, np.eye(4)[y]) == pytest.approx(net.loss(X, y), rel=1e-14)
    g1, g2 = net.gradients(X, y), net.gradients(X, np.eye(4)[y])
    for k in g1:
        np.testing.assert_allclose(g1[k], g2[k], atol=1e-15)


def test_callback_sees_every_epoch_and_can_stop() -> None:
    data = tr.datasets.circles(rng=0)
    seen: list[EpochInfo] = []

    def cb(info: EpochInfo) -> bool:
        seen.append(info)
        return info.epoch == 5

    hist = MLP([2, 4, 1], rng=0).fit(data.X_train, data.y_train, epochs=100, callback=cb)
    assert isinstance(hist, History) and hist.stopped_early and hist.epochs == 5
    assert [i.epoch for i in seen] == [1, 2, 3, 4, 5]
    assert [i.loss for i in seen] == list(hist.loss)
    with pytest.raises(AttributeError):
        hist.epochs = 3  # type: ignore[misc]


def test_full_batch_epoch_loss_is_the_cost_before_the_step() -> None:
    data = tr.datasets.moons(rng=0)
    net = MLP([2, 8, 1], l2=0.5, rng=0)
    before = net.loss(data.X_train, data.y_train)
    hist = net.fit(data.X_train, data.y_train, lr=0.1, epochs=1)
    assert hist.loss[0] == pytest.approx(before, rel=1e-14)


def test_divergence_raises_with_the_epoch_and_advice() -> None:
    data = tr.datasets.circles(rng=0)
    net = MLP([2, 50, 50, 1], output="linear", rng=0)
    with pytest.raises(TrainingDivergedError, match=r"epoch \d+.*smaller learning rate") as info:
        net.fit(data.X_train, data.y_train.astype(float), lr=5.0, epochs=200)
    assert 2 <= info.value.epoch <= 200
    assert f"epoch {info.value.epoch}" in str(info.value)
    assert len(info.value.history.loss) == info.value.epoch
    assert not np.isfinite(info.value.history.loss[-1])


def test_float32_network_computes_in_float32() -> None:
    data = tr.datasets.circles(rng=0)
    net = MLP([2, 8, 1], dtype=np.float32, rng=0)
    X32 = data.X_train.astype(np.float32)
    net.fit(X32, data.y_train, lr=0.1, epochs=3, batch_size=64)
    assert all(v.dtype == np.float32 for v in net.params.values())
    assert net.logits(X32).dtype == np.float32
    assert all(g.dtype == np.float32 for g in net.gradients(X32, data.y_train).values())
    # the float64 reference gives the same cost to float32 rounding
    ref = MLP([2, 8, 1], init=net.params)
    assert net.loss(X32, data.y_train) == pytest.approx(ref.loss(X32, data.y_train), rel=1e-5)


def test_params_setter_validates_and_copies() -> None:
    net = MLP([2, 3, 1], rng=0)
    p = {k: v.copy() for k, v in net.params.items()}
    p["b1"] = p["b1"].reshape(-1, 1)  # the course's (n, 1) biases are accepted
    net.params = p
    p["W1"][0, 0] = 123.0
    assert net.params["W1"][0, 0] != 123.0
    with pytest.raises(ValueError, match="missing"):
        net.params = {"W1": np.zeros((3, 2))}
    bn = MLP([2, 3, 1], batch_norm=True, rng=0)
    bn.params = {k: v for k, v in net.params.items()}  # gamma1/beta1 may be left out
    np.testing.assert_array_equal(bn.params["gamma1"], np.ones(3))
    with pytest.raises(ValueError, match="transposed"):
        net.params = {**net.params, "W1": np.zeros((2, 3))}
    with pytest.raises(ValueError, match="unknown"):
        net.params = {**net.params, "W9": np.zeros(1)}
    with pytest.raises(ValueError, match="NaN"):
        net.params = {**net.params, "b2": np.array([np.nan])}
    assert net.activations == ("relu",) and net.output == "sigmoid" and net.layer_dims == [2, 3, 1]


def test_bad_input_gets_clear_errors() -> None:
    net = MLP([2, 3, 1], rng=0)
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match="one row per example"):
        net.fit(X, np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        net.fit(np.array([[0.0, np.nan]] * 5), np.zeros(5))
    with pytest.raises(ValueError, match=r"X\.T"):
        net.predict(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="2-D"):
        net.predict(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="0/1"):
        net.fit(X, np.arange(5))
    with pytest.raises(ValueError, match="layer_dims"):
        MLP([2])
    with pytest.raises(ValueError, match="layer_dims"):
        MLP([2, 0, 1])
    with pytest.raises(TypeError, match="layer_dims"):
        MLP(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="activation"):
        MLP([2, 3, 3, 1], activation=["relu"])
    with pytest.raises(ValueError, match="keep_prob"):
        MLP([2, 3, 1], keep_prob=0.0)
    with pytest.raises(ValueError, match="softmax"):
        MLP([2, 3, 1], output="softmax")
    with pytest.raises(ValueError, match="lr"):
        net.fit(X, np.zeros(5), lr=-1)
    with pytest.raises(ValueError, match="batch_size"):
        net.fit(X, np.zeros(5), batch_size=0)
    with pytest.raises(ValueError, match="accuracy"):
        MLP([2, 1], output="linear").accuracy(X, np.zeros(5))


def test_user_arrays_are_never_modified() -> None:
    data = tr.datasets.moons(rng=0)
    X, y = data.X_train.copy(), data.y_train.copy()
    init = MLP([2, 6, 1], rng=0).params
    init_copy = {k: v.copy() for k, v in init.items()}
    net = MLP([2, 6, 1], init=init, keep_prob=0.7, batch_norm=True)
    net.fit(X, y, epochs=5, batch_size=50, optimizer="adam")
    net.predict(X)
    np.testing.assert_array_equal(X, data.X_train)
    np.testing.assert_array_equal(y, data.y_train)
    for k in init:
        np.testing.assert_array_equal(init[k], init_copy[k])


def test_batch_norm_running_statistics_and_eval_mode() -> None:
    rng = np.random.default_rng(0)
    X = 5 + 2 * rng.standard_normal((64, 3))
    y = rng.integers(0, 2, 64)
    net = MLP([3, 4, 1], batch_norm=True, rng=0)
    W1, b1 = net.params["W1"], net.params["b1"]
    bn = torch.nn.BatchNorm1d(4, dtype=torch.float64)
    net.fit(X, y, lr=1e-12, epochs=3, batch_size=16, rng=0)  # tiny lr: W1 is (nearly) fixed
    perm_rng = np.random.default_rng(0)
    for _ in range(3):
        perm = perm_rng.permutation(64)
        for i in range(0, 64, 16):
            bn(torch.tensor(X[perm[i : i + 16]] @ W1.T + b1))
    np.testing.assert_allclose(net.buffers["running_mean1"], bn.running_mean.numpy(), rtol=1e-9)
    np.testing.assert_allclose(net.buffers["running_var1"], bn.running_var.numpy(), rtol=1e-9)
    # eval mode uses them: the loss of one example is defined, and differs from batch statistics
    assert np.isfinite(net.loss(X[:1], y[:1], train=False))
    assert net.loss(X, y, train=False) != pytest.approx(net.loss(X, y, train=True))


def test_save_and_load_round_trip(tmp_path) -> None:
    data = tr.datasets.spirals(rng=0)
    net = MLP([2, 12, 3], activation="tanh", output="softmax", batch_norm=True, l2=0.1, rng=0)
    net.fit(data.X_train, data.y_train, lr=0.1, epochs=5, batch_size=50)
    path = tmp_path / "net.npz"
    net.save(path)
    with np.load(path, allow_pickle=False) as f:  # the shared container (format version 2)
        assert json.loads(str(f["__header__"]))["version"] == 2
    back = MLP.load(path)
    assert repr(back) == repr(net)
    np.testing.assert_array_equal(back.logits(data.X_test), net.logits(data.X_test))
    for k, v in net.buffers.items():
        np.testing.assert_array_equal(back.buffers[k], v)
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(FormatError, match="not a trainready network"):
        MLP.load(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(FormatError):
        MLP.load(tmp_path / "junk.npz")
    with np.load(path, allow_pickle=False) as f:
        content = {k: f[k] for k in f.files}
    header = json.loads(str(content["__header__"]))
    content["__header__"] = np.array(json.dumps(dict(header, version=99)))
    np.savez(tmp_path / "future.npz", **content)
    with pytest.raises(FormatError, match="upgrade"):
        MLP.load(tmp_path / "future.npz")


def test_predict_shapes_and_regression() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    net = MLP([3, 1], output="linear", init="zeros", rng=0)
    net.fit(X, y, lr=0.1, epochs=500)
    np.testing.assert_allclose(net.params["W1"][0], [1.0, -2.0, 0.5], atol=1e-6)
    assert net.predict(X).shape == (200,)
    assert net.predict_proba(X).shape == (200, 1)
    clf = MLP([3, 4, 1], rng=0)
    assert set(np.unique(clf.predict(X))) <= {0, 1} and clf.predict(X).shape == (200,)


def test_gradcheck_of_a_float32_network_runs_in_float64() -> None:
    X, y = _data(CONFIGS[1], seed=5)
    net = MLP([3, 6, 5, 4], activation="tanh", output="softmax", dtype=np.float32, rng=0)
    before = {k: v.copy() for k, v in net.params.items()}
    rep = net.gradcheck(X.astype(np.float32), y)
    assert rep.passed and rep.difference < 1e-8  # float32 arithmetic would leave ~1e-4
    assert all(net.params[k].dtype == np.float32 for k in before)
    for k, v in before.items():
        np.testing.assert_array_equal(net.params[k], v)


def test_a_callback_may_replace_the_parameters() -> None:
    data = tr.datasets.circles(rng=0)
    net = MLP([2, 4, 1], rng=0)
    frozen = net.params

    def reset(info: EpochInfo) -> None:
        net.params = frozen  # e.g. a user restoring weights

    hist = net.fit(data.X_train, data.y_train, lr=0.1, epochs=3, callback=reset)
    assert hist.loss[1] == hist.loss[2]  # every epoch started from the same weights


def test_dropout_is_off_at_predict_time() -> None:
    data = tr.datasets.moons(rng=0)
    net = MLP([2, 16, 1], keep_prob=0.5, rng=0)
    net.fit(data.X_train, data.y_train, lr=0.1, epochs=20, batch_size=50)
    plain = MLP([2, 16, 1], init=net.params)  # the same weights, no dropout
    np.testing.assert_array_equal(net.predict_proba(data.X_test), plain.predict_proba(data.X_test))
    assert net.loss(data.X_test, data.y_test) == plain.loss(data.X_test, data.y_test)


def test_batch_norm_rejects_a_single_example_mini_batch_up_front() -> None:
    data = tr.datasets.moons(301, 10, rng=0)
    net = MLP([2, 4, 1], batch_norm=True, rng=0)
    with pytest.raises(ValueError, match="batch_size=100"):
        net.fit(data.X_train, data.y_train, epochs=1, batch_size=100)
    hist = net.fit(data.X_train, data.y_train, epochs=1, batch_size=64)  # last batch: 45
    assert len(hist.loss) == 1
