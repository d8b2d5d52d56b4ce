"""Activations, output losses, layers and optimizers of trainready.nn against torch.autograd
(float64), closed forms and the textbook formulas."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trainready.nn import (
    ACTIVATIONS,
    GD,
    Activation,
    Adam,
    BatchNorm,
    Dense,
    Dropout,
    Momentum,
    get_activation,
    get_optimizer,
    get_output,
)
from trainready.nn.activations import LeakyReLU

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_ACT = {
    "relu": torch.relu,
    "leaky_relu": lambda t: F.leaky_relu(t, 0.01),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "linear": lambda t: t * 1,
}
TOL = 1e-10


def _z(rng: np.random.Generator, shape: tuple[int, ...] = (7, 5), scale: float = 3.0) -> np.ndarray:
    z = scale * rng.standard_normal(shape)
    z[0, 0] = 0.0  # the kink of (leaky) ReLU
    z[1, 1] = 40.0
    z[2, 2] = -40.0
    return z


# ---------------------------------------------------------------- activations


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_torch_forward_and_backward(name: str) -> None:
    rng = np.random.default_rng(0)
    z = _z(rng)
    da = rng.standard_normal(z.shape)
    act = get_activation(name)
    zt = torch.tensor(z, requires_grad=True)
    at = TORCH_ACT[name](zt)
    at.backward(torch.tensor(da))
    a = act.forward(z)
    np.testing.assert_allclose(a, at.detach().numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(act.backward(z, a, da), zt.grad.numpy(), rtol=0, atol=TOL)
    # z is not needed: the built-ins work from a alone
    np.testing.assert_allclose(act.backward(None, a, da), zt.grad.numpy(), rtol=0, atol=TOL)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_in_place_keeps_dtype_and_matches(name: str) -> None:
    rng = np.random.default_rng(1)
    z = _z(rng).astype(np.float32)
    da = rng.standard_normal(z.shape).astype(np.float32)
    act = get_activation(name)
    expect_a = act.forward(z)
    expect_dz = act.backward(z, expect_a, da)
    buf = z.copy()
    a = act.forward(buf, out=buf)
    assert a is buf and a.dtype == np.float32
    np.testing.assert_array_equal(a, expect_a)
    g = da.copy()
    dz = act.backward(None, a, g, out=g)
    assert dz is g and dz.dtype == np.float32
    np.testing.assert_array_equal(dz, expect_dz)


def test_sigmoid_does_not_overflow() -> None:
    z = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        a = get_activation("sigmoid").forward(z)
    np.testing.assert_allclose(a, [0.0, np.exp(-50.0), 0.5, 1.0, 1.0], rtol=1e-15, atol=0)


def test_get_activation_errors_and_instances() -> None:
    with pytest.raises(ValueError, match="relu"):
        get_activation("rleu")
    with pytest.raises(TypeError, match="activation"):
        get_activation(3)  # type: ignore[arg-type]
    custom = LeakyReLU(negative_slope=0.2)
    assert get_activation(custom) is custom
    assert get_activation("Leaky-ReLU").name == "leaky_relu"
    with pytest.raises(ValueError, match="negative_slope"):
        LeakyReLU(negative_slope=1.5)
    assert isinstance(ACTIVATIONS["tanh"], Activation)


# ---------------------------------------------------------------- losses


def _targets(output: str, m: int, k: int, rng: np.random.Generator, onehot: bool = False):
    if output == "sigmoid":
        return (rng.random((m, k)) < 0.5).astype(float)
    if output == "softmax":
        labels = rng.integers(0, k, m)
        return np.eye(k)[labels] if onehot else labels
    return rng.standard_normal((m, k))


def _torch_loss(output: str, zt, y: np.ndarray):
    if output == "sigmoid":
        return F.binary_cross_entropy_with_logits(zt, torch.tensor(y))
    if output == "softmax":
        if y.ndim == 1:
            return F.cross_entropy(zt, torch.tensor(y))
        return F.cross_entropy(zt, torch.tensor(y))  # probability targets
    return F.mse_loss(zt, torch.tensor(y))


@pytest.mark.parametrize(
    ("output", "k", "onehot"),
    [
        ("sigmoid", 1, False),
        ("sigmoid", 3, False),
        ("softmax", 4, False),
        ("softmax", 4, True),
        ("linear", 1, False),
        ("linear", 2, False),
    ],
)
def test_loss_value_and_gradient_match_torch(output: str, k: int, onehot: bool) -> None:
    rng = np.random.default_rng(2)
    m = 9
    z = 4 * rng.standard_normal((m, k))
    y = _targets(output, m, k, rng, onehot)
    loss = get_output(output)
    yp = loss.prepare_targets(y, n_out=k, n_samples=m, dtype=np.float64)
    value, grad = loss.cost_and_grad(z, yp)
    zt = torch.tensor(z, requires_grad=True)
    lt = _torch_loss(output, zt, y)
    lt.backward()
    assert abs(value - lt.item()) <= TOL
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=0, atol=TOL)
    assert loss.cost(z, yp) == pytest.approx(value, abs=1e-15)


def test_losses_equal_the_textbook_formulas() -> None:
    rng = np.random.default_rng(3)
    z = 3 * rng.standard_normal((50, 1))
    y = (rng.random(50) < 0.5).astype(float)
    a = 1 / (1 + np.exp(-z[:, 0]))
    textbook = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
    bce = get_output("sigmoid")
    got = bce.cost(z, bce.prepare_targets(y, n_out=1, n_samples=50, dtype=np.float64))
    assert got == pytest.approx(textbook, rel=1e-13)

    zs = 3 * rng.standard_normal((50, 4))
    labels = rng.integers(0, 4, 50)
    p = np.exp(zs) / np.exp(zs).sum(axis=1, keepdims=True)
    textbook_ce = -np.mean(np.log(p[np.arange(50), labels]))
    ce = get_output("softmax")
    assert ce.cost(zs, labels) == pytest.approx(textbook_ce, rel=1e-13)
    np.testing.assert_allclose(ce.activate(zs), p, rtol=1e-13)


def test_losses_stay_finite_where_the_naive_formula_is_inf() -> None:
    z = np.array([[800.0], [-800.0], [40.0]])
    y = np.array([0.0, 1.0, 1.0])
    a = 1 / (1 + np.exp(-z[:, 0].clip(-700, 700)))
    with np.errstate(divide="ignore", invalid="ignore"):
        naive = -np.mean(y * np.log(a) + (1 - y) * np.log(1 - a))
    assert not np.isfinite(naive)
    bce = get_output("sigmoid")
    yp = bce.prepare_targets(y, n_out=1, n_samples=3, dtype=np.float64)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        value, grad = bce.cost_and_grad(z, yp)
    assert value == pytest.approx((800 + 800 + np.log1p(np.exp(-40.0))) / 3, rel=1e-15)
    np.testing.assert_allclose(grad[:, 0], [1 / 3, -1 / 3, (1 / (1 + np.exp(-40.0)) - 1) / 3])

    zs = np.array([[1000.0, -1000.0, 0.0], [0.0, 0.0, 0.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        value, grad = get_output("softmax").cost_and_grad(zs, np.array([1, 2]))
    assert value == pytest.approx((2000.0 + np.log(3)) / 2)
    assert np.all(np.isfinite(grad))


@settings(max_examples=40, deadline=None)
@given(
    z=arrays(np.float64, (6, 3), elements=st.floats(-1e4, 1e4)),
    labels=arrays(np.int64, (6,), elements=st.integers(0, 2)),
)
def test_cross_entropies_finite_with_bounded_gradients(z: np.ndarray, labels: np.ndarray) -> None:
    ce = get_output("softmax")
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        value, grad = ce.cost_and_grad(z, labels)
    assert np.isfinite(value) and value >= 0
    assert np.all(np.abs(grad) <= 1 / 6 + 1e-15)
    np.testing.assert_allclose(grad.sum(axis=1), 0, atol=1e-15)
    bce = get_output("sigmoid")
    y = (labels == 1).astype(float).reshape(-1, 1).repeat(3, axis=1)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        v2, g2 = bce.cost_and_grad(z, y)
    assert np.isfinite(v2) and v2 >= 0 and np.all(np.abs(g2) <= 1 / 18 + 1e-15)


def test_loss_target_errors() -> None:
    bce, ce, mse = get_output("sigmoid"), get_output("softmax"), get_output("linear")
    with pytest.raises(ValueError, match="one row per example"):
        bce.prepare_targets(np.zeros(4), n_out=1, n_samples=5, dtype=np.float64)
    with pytest.raises(ValueError, match=r"labels 0/1"):
        bce.prepare_targets(np.array([0, 2]), n_out=1, n_samples=2, dtype=np.float64)
    with pytest.raises(ValueError, match="3 units"):
        ce.prepare_targets(np.array([0, 3]), n_out=3, n_samples=2, dtype=np.float64)
    with pytest.raises(ValueError, match="integer class labels"):
        ce.prepare_targets(np.array([0.5, 1.0]), n_out=3, n_samples=2, dtype=np.float64)
    with pytest.raises(ValueError, match="sum to 1"):
        ce.prepare_targets(np.ones((2, 3)), n_out=3, n_samples=2, dtype=np.float64)
    with pytest.raises(ValueError, match="NaN"):
        mse.prepare_targets(np.array([1.0, np.nan]), n_out=1, n_samples=2, dtype=np.float64)
    with pytest.raises(ValueError, match=r"\(m, 2\)"):
        mse.prepare_targets(np.zeros(2), n_out=2, n_samples=2, dtype=np.float64)
    with pytest.raises(ValueError, match="softmax"):
        get_output("softmx")
    y = np.array([1, 0])
    out = bce.prepare_targets(y, n_out=1, n_samples=2, dtype=np.float32)
    assert out.shape == (2, 1) and out.dtype == np.float32
    out[0, 0] = 7
    assert y[0] == 1  # a copy


# ---------------------------------------------------------------- layers


def test_dense_matches_torch_linear() -> None:
    rng = np.random.default_rng(4)
    x, W, b = rng.standard_normal((6, 4)), rng.standard_normal((3, 4)), rng.standard_normal(3)
    dz = rng.standard_normal((6, 3))
    z, cache = Dense.forward(x, W, b)
    dx, dW, db = Dense.backward(dz, cache, W)
    xt, Wt, bt = (torch.tensor(v, requires_grad=True) for v in (x, W, b))
    zt = F.linear(xt, Wt, bt)
    zt.backward(torch.tensor(dz))
    np.testing.assert_allclose(z, zt.detach().numpy(), atol=TOL, rtol=0)
    for ours, theirs in ((dx, xt), (dW, Wt), (db, bt)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), atol=TOL, rtol=0)
    assert Dense.backward(dz, cache, W, need_dx=False)[0] is None


@pytest.mark.parametrize("train", [True, False])
def test_batch_norm_matches_torch(train: bool) -> None:
    rng = np.random.default_rng(5)
    x = 2 + 3 * rng.standard_normal((8, 5))
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    rm, rv = rng.standard_normal(5), 0.5 + rng.random(5)
    dy = rng.standard_normal((8, 5))
    y, cache, stats = BatchNorm.forward(
        x, gamma, beta, train=train, running_mean=rm, running_var=rv
    )
    dx, dgamma, dbeta = BatchNorm.backward(dy, cache, gamma)
    xt, gt, bt = (torch.tensor(v, requires_grad=True) for v in (x, gamma, beta))
    rmt, rvt = torch.tensor(rm.copy()), torch.tensor(rv.copy())
    yt = F.batch_norm(xt, rmt, rvt, gt, bt, training=train, momentum=0.1, eps=1e-5)
    yt.backward(torch.tensor(dy))
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=TOL, rtol=0)
    for ours, theirs in ((dx, xt), (dgamma, gt), (dbeta, bt)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), atol=TOL, rtol=0)
    if train:
        assert stats is not None
        BatchNorm.update_running(rm, rv, stats, 8)
        np.testing.assert_allclose(rm, rmt.numpy(), atol=1e-14)  # torch updated its copies
        np.testing.assert_allclose(rv, rvt.numpy(), atol=1e-14)
        # in place into dy
        dy2 = dy.copy()
        dx2, _, _ = BatchNorm.backward(dy2, cache, gamma, out=dy2)
        assert dx2 is dy2
        np.testing.assert_allclose(dx2, dx, atol=1e-15)
    else:
        assert stats is None


def test_batch_norm_needs_two_rows_in_train_mode() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        BatchNorm.forward(np.ones((1, 3)), np.ones(3), np.zeros(3), train=True)


def test_dropout_is_inverted_and_its_backward_is_the_mask() -> None:
    rng = np.random.default_rng(6)
    a = np.ones((400, 250))
    out, mask = Dropout.forward(a, 0.8, rng)
    kept = mask > 0
    assert abs(kept.mean() - 0.8) < 0.01  # 100k Bernoulli(0.8): std 0.0013
    np.testing.assert_array_equal(out[kept], 1 / 0.8)
    assert out.mean() == pytest.approx(1.0, abs=0.02)  # expectation preserved
    da = rng.standard_normal(a.shape)
    np.testing.assert_allclose(Dropout.backward(da, mask), da * kept / 0.8, rtol=1e-15, atol=0)
    # the same seed gives the same mask
    np.testing.assert_array_equal(
        Dropout.forward(a, 0.5, np.random.default_rng(1))[1],
        Dropout.forward(a, 0.5, np.random.default_rng(1))[1],
    )


# ---------------------------------------------------------------- optimizers


def test_adam_matches_torch_over_steps() -> None:
    rng = np.random.default_rng(7)
    w0 = rng.standard_normal((4, 3))
    grads = [rng.standard_normal((4, 3)) for _ in range(6)]
    params = {"W1": w0.copy()}
    opt = Adam(beta1=0.8, beta2=0.99, eps=1e-6)
    wt = torch.tensor(w0.copy(), requires_grad=True)
    topt = torch.optim.Adam([wt], lr=0.05, betas=(0.8, 0.99), eps=1e-6)
    for g in grads:
        opt.step(params, {"dW1": g}, 0.05)
        wt.grad = torch.tensor(g)
        topt.step()
    np.testing.assert_allclose(params["W1"], wt.detach().numpy(), atol=1e-12, rtol=0)


@pytest.mark.parametrize("overwrite", [False, True])
def test_momentum_and_gd_closed_forms(overwrite: bool) -> None:
    # with a constant gradient g: v_t = (1 - beta^t) g, w_T = w_0 - lr g sum_t (1 - beta^t)
    g = np.array([1.0, -2.0, 0.5])
    beta, lr, T = 0.9, 0.1, 7
    p = {"b1": np.zeros(3)}
    opt = Momentum(beta)
    for _ in range(T):
        opt.step(p, {"b1": g.copy()}, lr, overwrite_grads=overwrite)
    expected = -lr * g * sum(1 - beta**t for t in range(1, T + 1))
    np.testing.assert_allclose(p["b1"], expected, rtol=1e-14)
    q = {"b1": np.zeros(3)}
    grad = g.copy()
    GD().step(q, {"b1": grad}, lr, overwrite_grads=overwrite)
    np.testing.assert_allclose(q["b1"], -lr * g)
    if not overwrite:
        np.testing.assert_array_equal(grad, g)  # the caller's gradient is untouched


def test_optimizer_errors() -> None:
    with pytest.raises(ValueError, match="adam"):
        get_optimizer("adagrad")
    with pytest.raises(ValueError, match="lr"):
        GD().step({"w": np.ones(2)}, {"w": np.ones(2)}, -1.0)
    with pytest.raises(KeyError, match="W1"):
        GD().step({"W1": np.ones(2)}, {"W2": np.ones(2)}, 0.1)
    with pytest.raises(ValueError, match="beta"):
        Momentum(beta=1.0)
    assert get_optimizer("sgd").name == "gd"
