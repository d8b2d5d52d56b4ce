"""Gradient checks through training and in test suites (issue 8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import trainready as tr
from gradcheck_fixture import BUGS, LAMBDA, backward, cost, loss_and_grads, make_problem
from trainready.gradcheck import check_terms
from trainready.testing import assert_gradients

torch = pytest.importorskip("torch")


# --- checks during training leave training exactly as it was -------------------------------


def test_mlp_training_with_checks_is_bit_identical_to_without():
    data = tr.datasets.circles(rng=0)

    def train(with_checks):
        net = tr.nn.MLP(
            [2, 10, 5, 1], activation="relu", output="sigmoid", init="he", keep_prob=0.8, rng=1
        )
        mon = tr.GradientMonitor.for_mlp(net, data.X_train[:40], data.y_train[:40], at=[0, 5, 20])
        if with_checks:
            mon.start()
        hist = net.fit(
            data.X_train,
            data.y_train,
            lr=0.05,
            epochs=20,
            batch_size=64,
            optimizer="adam",
            callback=mon if with_checks else None,
        )
        return hist, net.params, mon

    h1, p1, mon = train(True)
    h0, p0, _ = train(False)
    assert h1.loss == h0.loss  # bit-identical floats, dropout and shuffling included
    for k in p0:
        assert np.array_equal(p0[k], p1[k])
    assert [e for e, _ in mon.reports] == [0, 5, 20]
    assert mon.passed and all(r.mode == "probe" for _, r in mon.reports)


def test_torch_training_with_checks_is_bit_identical_to_without():
    def train(with_checks):
        torch.manual_seed(0)
        model = torch.nn.Sequential(
            torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Dropout(0.3), torch.nn.Linear(16, 1)
        )
        X, y = torch.randn(64, 4), torch.randn(64, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        mon = tr.torch.gradient_monitor(
            lambda: torch.nn.functional.mse_loss(model(X), y), model, at=[0, 3, 8]
        )
        if with_checks:
            mon.start()
        losses = []
        model.train()
        for step in range(1, 11):
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(X), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if with_checks:
                mon(step)
        assert model.training
        return losses, [p.detach().clone() for p in model.parameters()], mon

    l1, p1, mon = train(True)
    l0, p0, _ = train(False)
    assert l1 == l0
    assert all(torch.equal(a, b) for a, b in zip(p0, p1))
    assert [e for e, _ in mon.reports] == [0, 3, 8] and mon.passed
    assert mon.summary().splitlines()[0].startswith("step 0:")  # a torch loop counts steps


def test_for_torch_is_a_deprecated_alias_of_the_adapter():
    model = torch.nn.Linear(3, 1)
    X = torch.randn(8, 3)
    with pytest.warns(DeprecationWarning, match="gradient_monitor"):
        mon = tr.GradientMonitor.for_torch(lambda: model(X).pow(2).mean(), model, at=[0])
    assert mon.unit == "step" and mon.start().reports[0][1].passed


def test_step_zero_is_checked_once():
    calls = []

    def check():
        calls.append(1)
        return tr.gradcheck(
            lambda p: float(np.sum(p["w"] ** 2)), {"w": np.ones(2)}, {"w": 2 * np.ones(2)}
        )

    mon = tr.GradientMonitor(check, at=[0, 2]).start()
    for epoch in range(3):
        mon(epoch)  # the loop's own call at 0 must not check again
    assert [e for e, _ in mon.reports] == [0, 2] and len(calls) == 2


def relu6_problem(bug: bool):
    """A ReLU6 network whose backward forgets the cap at 6: exact while every pre-activation is
    below 6 (small weights), wrong once training pushes some above."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 3))
    y = 40 * X[:, 0] + 60
    params = {
        "W1": 0.1 * rng.standard_normal((8, 3)),
        "b1": np.zeros(8),
        "W2": 0.1 * rng.standard_normal((1, 8)),
        "b2": np.zeros(1),
    }

    def forward(p):
        z = X @ p["W1"].T + p["b1"]
        h = np.clip(z, 0, 6)
        return z, h, (h @ p["W2"].T)[:, 0] + p["b2"][0] - y

    def loss(p):
        return float(0.5 * np.mean(forward(p)[2] ** 2))

    def grads(p):
        z, h, r = forward(p)
        dr = r / len(y)
        slope = (z > 0) if bug else ((z > 0) & (z < 6))
        dz = np.outer(dr, p["W2"][0]) * slope
        return {
            "W1": dz.T @ X,
            "b1": dz.sum(0),
            "W2": (dr @ h)[None, :],
            "b2": np.array([dr.sum()]),
        }

    return params, loss, grads, forward


def test_a_bug_that_appears_for_large_weights_passes_at_first_and_is_caught_later():
    params, loss, grads, forward = relu6_problem(bug=True)
    state = {k: v.copy() for k, v in params.items()}
    mon = tr.GradientMonitor(lambda: tr.gradcheck(loss, state, grads, mode="sample"), at=[0, 200])
    mon.start()
    for epoch in range(1, 201):  # plain gradient descent with the (buggy) gradient
        g = grads(state)
        for k in state:
            state[k] = state[k] - 0.01 * g[k]
        mon(epoch)
    assert np.max(forward(state)[0]) > 6  # training pushed pre-activations past the cap
    (e0, r0), (e1, r1) = mon.reports
    assert (e0, r0.verdict) == (0, "ok")
    assert (e1, r1.verdict) == (200, "wrong")
    assert "passed at epoch 0, fails at epoch 200" in mon.summary()
    assert r1.failing[0].name in ("W1", "b1")


@pytest.mark.parametrize(
    ("at", "exc", "got"),
    [
        ([-1], ValueError, "-1"),
        (None, TypeError, "None"),
        ("abc", TypeError, "str"),
        ([0.5, 1.7], ValueError, "0.5"),
        ([True], ValueError, "True"),
    ],
)
def test_monitor_rejects_bad_epochs(at, exc, got):
    with pytest.raises(exc, match=r"^at: expected an iterable of epochs, ints >= 0") as info:
        tr.GradientMonitor(lambda: None, at=at)
    assert f"got {got}" in str(info.value) and "e.g. at=[0, 100]" in str(info.value)


# --- the regularization term on its own -------------------------------------------------------


def test_check_terms_says_which_term_is_wrong():
    params, X, y = make_problem()
    m = X.shape[0]

    def data_cost(p):
        return cost(p, X, y) - LAMBDA / (2 * m) * sum(np.sum(p[f"W{l}"] ** 2) for l in (1, 2, 3))

    def data_grads(p):
        g = backward(p, X, y)
        return {k: (v - LAMBDA / m * p[k[1:]]) if k.startswith("dW") else v for k, v in g.items()}

    def l2_cost(p):
        return LAMBDA / (2 * m) * sum(float(np.sum(p[f"W{l}"] ** 2)) for l in (1, 2, 3))

    def l2_grads_buggy(p):  # forgets the 1/m
        return {k: (LAMBDA * p[k] if k.startswith("W") else np.zeros_like(p[k])) for k in p}

    reps = check_terms({"data": (data_cost, data_grads), "l2": (l2_cost, l2_grads_buggy)}, params)
    assert reps["data"].passed
    assert reps["l2"].verdict == "wrong"
    assert f"{m:.4g} × numeric" in reps["l2"].failing[0].hint


# --- assertions for test suites --------------------------------------------------------------


@pytest.mark.parametrize("bug", BUGS)
def test_assert_gradients_message_is_the_short_table(bug):
    params, X, y = make_problem()
    loss, grads = loss_and_grads(X, y, bug)
    with pytest.raises(AssertionError) as info:
        assert_gradients(loss, params, grads)
    msg = str(info.value)
    assert len(msg.splitlines()) <= 12
    assert "WRONG" in msg and "hint" in msg and "array(" not in msg
    failing = tr.gradcheck(loss, params, grads).failing[0]
    assert failing.name in msg and failing.hint in msg


def test_assert_gradients_passes_quietly_on_correct_gradients():
    params, X, y = make_problem()
    loss, grads = loss_and_grads(X, y)
    assert assert_gradients(loss, params, grads).passed


class Swish(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * torch.sigmoid(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return g * (s + x * s * (1 - s))


class BadSwish(Swish):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * torch.sigmoid(x)  # forgets the x * s * (1 - s) term


def test_assert_function_gradients_for_a_custom_autograd_function():
    from trainready.testing import assert_function_gradients

    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    assert_function_gradients(Swish.apply, x)
    with pytest.raises(AssertionError, match="input0"):
        assert_function_gradients(BadSwish.apply, x)


def test_assert_torch_gradients_on_a_module():
    from trainready.testing import assert_torch_gradients

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    X, y = torch.randn(8, 3), torch.randn(8, 1)
    assert_torch_gradients(lambda: torch.nn.functional.mse_loss(model(X), y), model)


# --- Hessian-vector products against torch's double backward ----------------------------------


def torch_problem():
    rng = np.random.default_rng(4)
    X = torch.tensor(rng.standard_normal((12, 5)))
    y = torch.tensor(rng.standard_normal(12))
    params = {"W": rng.standard_normal((3, 5)) * 0.5, "v": rng.standard_normal(3)}

    def loss_t(p):
        h = torch.tanh(X @ p["W"].T)
        return 0.5 * ((h @ p["v"] - y) ** 2).mean()

    def as_t(p):
        return {
            k: torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True)
            for k, a in p.items()
        }

    def grads(p):
        t = as_t(p)
        g = torch.autograd.grad(loss_t(t), list(t.values()))
        return {k: gi.numpy() for k, gi in zip(t, g)}

    def hvp(p, v):  # torch's double backward: d/dtheta (g . v)
        t = as_t(p)
        g = torch.autograd.grad(loss_t(t), list(t.values()), create_graph=True)
        dot = sum((gi * torch.tensor(v[k])).sum() for gi, k in zip(g, t))
        h = torch.autograd.grad(dot, list(t.values()))
        return {k: hi.numpy() for k, hi in zip(t, h)}

    return params, grads, hvp


def test_check_hvp_agrees_with_torch_double_backward():
    params, grads, hvp = torch_problem()
    rep = tr.check_hvp(grads, params, hvp)
    assert rep.passed, str(rep)
    assert rep.difference < 1e-9


def test_check_hvp_localizes_a_wrong_second_derivative():
    params, grads, hvp = torch_problem()

    def bad(p, v):
        out = hvp(p, v)
        out["W"] = out["W"].copy()
        out["W"][1, 2] *= 1.01
        return out

    rep = tr.check_hvp(grads, params, bad)
    assert rep.verdict == "wrong"
    assert rep.params["W"].worst_index == (1, 2)
    assert rep.params["v"].passed

    def dropped(p, v):  # a missing term: the Gauss-Newton part only would be a classic bug
        out = hvp(p, v)
        return {"W": out["W"], "v": 0.5 * out["v"]}

    rep = tr.check_hvp(grads, params, dropped)
    assert rep.failing[0].name == "v" and "0.50 × numeric" in rep.failing[0].hint


# --- MLP.fit(check_gradients_at=...) and the L2 term on its own ---------------------------------


def test_fit_with_check_gradients_at_records_reports_and_changes_nothing():
    data = tr.datasets.circles(rng=0)

    def train(at):
        net = tr.nn.MLP(
            [2, 10, 5, 1],
            activation="relu",
            output="sigmoid",
            init="he",
            keep_prob=0.8,
            l2=0.1,
            rng=3,
        )
        hist = net.fit(
            data.X_train,
            data.y_train,
            lr=0.05,
            epochs=20,
            batch_size=100,
            optimizer="momentum",
            check_gradients_at=at,
        )
        return hist, net.params

    h1, p1 = train([0, 10, 20])
    h0, p0 = train(None)
    assert h1.loss == h0.loss and h1 == h0
    assert all(np.array_equal(p0[k], p1[k]) for k in p0)
    assert [e for e, _ in h1.gradchecks] == [0, 10, 20]
    assert all(r.passed and r.mode == "probe" for _, r in h1.gradchecks)
    assert "epoch 20: gradcheck OK" in h1.gradcheck_summary
    with pytest.raises(ValueError, match="check_gradients_at"):
        tr.nn.MLP([2, 3, 1], rng=0).fit(
            data.X_train, data.y_train, epochs=1, check_gradients_at=[-1]
        )


def test_mlp_gradcheck_says_which_term_is_wrong(monkeypatch):
    data = tr.datasets.circles(rng=0)
    net = tr.nn.MLP([2, 6, 1], activation="tanh", output="sigmoid", init="he", l2=0.5, rng=0)
    original = type(net)._cost_grads

    seen_l2 = set()

    def doubled_l2(self, params, X, Y, **kw):  # inject: the L2 gradient counted twice
        seen_l2.add(self.l2)  # the network's own setting, during every call of the check
        cost, grads = original(self, params, X, Y, **kw)
        lam = self.l2 if kw.get("l2") is None else kw["l2"]
        if grads is not None and lam:
            grads = {
                k: (v + lam / X.shape[0] * params[k] if k.startswith("W") else v)
                for k, v in grads.items()
            }
        return cost, grads

    monkeypatch.setattr(type(net), "_cost_grads", doubled_l2)
    rep = net.gradcheck(data.X_train[:50], data.y_train[:50], mode="full")
    assert rep.verdict == "wrong"
    assert any("the L2 term's gradient is wrong" in n for n in rep.notes), rep.notes
    assert net.l2 == 0.5 and seen_l2 == {0.5}  # the term split never changes the network


def test_assert_gradients_failure_points_at_the_callers_line():
    from trainready.testing import assert_gradients

    with pytest.raises(AssertionError) as info:
        assert_gradients(
            lambda p: float(np.sum(p["w"] ** 2)), {"w": np.ones(3)}, {"w": 3 * np.ones(3)}
        )
    shown = info.traceback.filter(info)  # what pytest prints
    assert shown[-1].path == Path(__file__) and "assert_gradients(" in str(shown[-1].statement)
