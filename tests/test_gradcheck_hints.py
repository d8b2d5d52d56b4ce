"""Hints that name the real bug: each bug is injected into a real network's backward pass and
the hint's words are asserted; the reading of ratios is also checked as a property."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trainready as tr
from gradcheck_fixture import loss_and_grads, make_problem
from trainready.gradcheck._hints import explain, layer_of, propagation_note

LAM = 0.6

# --- a second real network: tanh, tanh, linear; mean squared error + L2 -------------------------


def problem(seed=1, m=50, dims=(3, 4, 4, 2)):
    rng = np.random.default_rng(seed)
    X, Y = rng.standard_normal((m, dims[0])), rng.standard_normal((m, dims[-1]))
    p = {}
    for l in range(1, len(dims)):
        p[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) / np.sqrt(dims[l - 1])
        p[f"b{l}"] = 0.1 * rng.standard_normal(dims[l])
    return p, X, Y


def cost(p, X, Y):
    m = len(X)
    a1 = np.tanh(X @ p["W1"].T + p["b1"])
    a2 = np.tanh(a1 @ p["W2"].T + p["b2"])
    out = a2 @ p["W3"].T + p["b3"]
    l2 = sum(float(np.sum(p[f"W{l}"] ** 2)) for l in (1, 2, 3))
    return float(0.5 * np.sum((out - Y) ** 2) / m + LAM / (2 * m) * l2)


def backprop(p, X, Y, bug=None):
    m = len(X)
    a1 = np.tanh(X @ p["W1"].T + p["b1"])
    a2 = np.tanh(a1 @ p["W2"].T + p["b2"])
    dz3 = a2 @ p["W3"].T + p["b3"] - Y  # not yet divided by m
    reg = {l: LAM / m * p[f"W{l}"] for l in (1, 2, 3)}
    db3 = {"db3_not_over_m": dz3.sum(0), "db3_over_m_twice": dz3.sum(0) / m / m}
    g = {"dW3": dz3.T @ a2 / m + reg[3], "db3": db3.get(bug, dz3.sum(0) / m)}
    da2 = dz3 @ p["W3"] / m
    dz2 = da2 * ((1 - a2) ** 2 if bug == "tanh_derivative_wrong_layer2" else 1 - a2**2)
    data2 = dz2.T @ a1
    g["dW2"] = (data2.T if bug == "transposed_data_term_dW2" else data2) + reg[2]
    g["db2"] = dz2.sum(0)
    dz1 = (dz2 @ p["W2"]) * (1 - a1**2)
    g["dW1"] = dz1.T @ X + (LAM / (2 * m) * p["W1"] if bug == "l2_half_dW1" else reg[1])
    g["db1"] = dz1.sum(0)
    return g


def check(bug, m=50, **kw):
    p, X, Y = problem(m=m, dims=kw.pop("dims", (3, 4, 4, 2)))
    return tr.gradcheck(lambda q: cost(q, X, Y), p, lambda q: backprop(q, X, Y, bug), **kw)


def only_failing(rep, name):
    assert [f.name for f in rep.failing] == [name], str(rep)
    return rep.params[name].hint


def test_the_network_is_right():
    assert check(None).passed


def test_an_l2_term_at_half_its_size_is_called_half_with_the_true_coefficient():
    hint = only_failing(check("l2_half_dW1"), "W1")
    assert "half of what it should be" in hint
    assert "λ/(2m)·W1 written for λ/m·W1" in hint
    assert f"then λ/m ≈ {LAM / 50:.3g}" in hint  # the true λ/m, not the observed offset


def test_a_missing_l2_term_still_reads_as_missing():
    params, X, y = make_problem()
    loss, grads = loss_and_grads(X, y, "missing_l2_dW2")
    hint = only_failing(tr.gradcheck(loss, params, grads), "W2")
    assert "regularization term λ/m·W2 is missing" in hint
    assert f"then λ/m ≈ {0.7 / X.shape[0]:.3g}" in hint


def test_a_ratio_of_one_over_m_reads_as_divided_by_m_once_too_often():
    hint = only_failing(check("db3_over_m_twice"), "b3")
    assert "0.02 = 1/50 × numeric" in hint and "divided by m once too often" in hint


def test_a_ratio_of_m_reads_as_a_missing_division():
    hint = only_failing(check("db3_not_over_m"), "b3")
    assert "50 × numeric" in hint and "a missing division by 50" in hint


def test_a_ratio_of_one_half_reads_as_a_stray_half():
    # d/dx sum((x - y)^2) written without its 2
    rng = np.random.default_rng(0)
    inputs = {"x": rng.standard_normal(6), "y": rng.standard_normal(6)}
    rep = tr.check_layer(
        lambda x, y: (np.sum((x - y) ** 2), (x, y)),
        lambda dout, c: (dout * (c[0] - c[1]), -dout * (c[0] - c[1])),
        inputs,
    )
    assert "0.50 × numeric" in rep.params["x"].hint and "a stray 1/2" in rep.params["x"].hint


def test_a_transposed_data_term_with_a_correct_l2_term_is_still_transposed():
    hint = only_failing(check("transposed_data_term_dW2"), "W2")
    assert "transpose of the right one" in hint
    assert f"the L2 term {LAM / 50:.3g}·W2 is right" in hint


def test_the_layer_where_an_error_enters_is_named():
    rep = check("tanh_derivative_wrong_layer2")
    assert {f.name for f in rep.failing} == {"W1", "b1", "W2", "b2"}
    note = "the error enters at layer 2 and propagates to layer 1"
    assert any(n.startswith(note) for n in rep.notes) and note in str(rep)
    assert rep.notes.count(next(n for n in rep.notes if n.startswith(note))) == 1


def test_torch_module_names_are_read_as_layers():
    torch = pytest.importorskip("torch")

    class BadTanh(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = torch.tanh(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * (1 - y) ** 2  # should be 1 - y**2

    class Act(torch.nn.Module):
        def forward(self, x):
            return BadTanh.apply(x)

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 4), Act(), torch.nn.Linear(4, 1)
    )
    X, y = torch.randn(20, 3), torch.randn(20, 1)
    rep = tr.torch.gradcheck(lambda: torch.nn.functional.mse_loss(model(X), y), model)
    assert {f.name for f in rep.failing} == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert any(
        n.startswith("the error enters at layer 2 and propagates to layer 0") for n in rep.notes
    )


def test_no_propagation_note_for_separate_bugs_or_one_layer():
    params, X, y = make_problem()
    loss, grads = loss_and_grads(X, y, "factor2_dW1")
    assert not any("enters at" in n for n in tr.gradcheck(loss, params, grads).notes)
    assert propagation_note([("W1", False), ("W2", True), ("W3", False)]) == ""
    assert propagation_note([("W1", False), ("W2", False), ("W3", False)]) == ""
    assert propagation_note([("x", False), ("w", False), ("b", True)]) == ""
    assert propagation_note([("W1", False), ("b1", True), ("W2", False), ("W3", True)]) != ""
    assert propagation_note([("input0", False), ("input1", False), ("input2", True)]) == ""
    names = ("dW12", "gamma3", "net.4.bias", "fc2.weight", "gamma", "input1", "x2")
    assert [layer_of(n) for n in names] == [12, 3, 4, 2, None, None, None]


# --- the ratio reading, as a property ---------------------------------------------------------


def _hint(k, n):
    return explain("W", n.shape, np.arange(n.size), k * n, n, np.ones(n.size), np.ones(n.size, bool),
                   complete=True)  # fmt: skip


vectors = st.integers(0, 2**32 - 1).map(lambda s: np.random.default_rng(s).standard_normal(7) + 0.1)


@settings(max_examples=60, deadline=None)
@given(n=vectors, j=st.integers(3, 5000))
def test_integer_ratios_and_their_inverses_are_read(n, j):
    assert f"a missing division by {j} " in _hint(float(j), n)
    assert f"1/{j} × numeric" in _hint(1.0 / j, n) and "once too often" in _hint(1.0 / j, n)


@settings(max_examples=60, deadline=None)
@given(n=vectors, d=st.floats(1e-7, 9e-4), sign=st.sampled_from([-1.0, 1.0]))
def test_ratios_near_one_read_as_a_small_constant(n, d, sign):
    hint = _hint(1 + sign * d, n)
    assert "a small constant such as eps differs" in hint
    assert f"(1 {'+' if sign > 0 else '-'} {d:.1e})" in hint


def test_other_factors_are_plain():
    n = np.linspace(1, 2, 5)
    assert "sign flipped" in _hint(-1.0, n)
    assert "(a wrong constant factor)" in _hint(math.pi, n)
    assert "sign flipped and scaled" in _hint(-3.0, n)


# --- sample mode says what it compared ---------------------------------------------------------


def test_a_passing_sample_check_says_only_sampled_elements_were_compared():
    rep = check(None, mode="sample", samples=2)
    assert rep.passed and rep.n_checked < rep.n_params
    assert f"on the {rep.n_checked} sampled elements of {rep.n_params}" in rep.summary()
    assert "only these were compared" in str(rep)
    assert "sampled" not in check(None, mode="full").summary()


# --- check_derivative at large |x|, and its arguments --------------------------------------------


def test_check_derivative_far_from_zero():
    for x in (1e5, 1e8, 1e12):
        right = tr.check_derivative(math.sin, math.cos, x)
        assert right.passed and not right.kink, right
        wrong = tr.check_derivative(math.sin, lambda t: 1.01 * math.cos(t), x)
        assert wrong.verdict == "wrong" and not wrong.kink, wrong
    assert tr.check_derivative(lambda t: t * t, lambda t: 2 * t, 1e8).passed
    assert tr.check_derivative(lambda t: t * t, lambda t: 2.02 * t, 1e8).verdict == "wrong"


def test_check_derivative_that_cannot_judge_says_so():
    res = tr.check_derivative(math.sin, math.cos, 1e15)  # ulp(x) = 0.125: sin is noise there
    assert res.verdict == "check" and "cannot judge" in res.note and "cannot judge" in str(res)


def test_check_derivative_keeps_its_other_answers():
    assert tr.check_derivative(abs, 1.0, 0.0).kink
    assert tr.check_derivative(abs, 1.01, 1e-3).verdict == "wrong"
    assert tr.check_derivative(math.log, lambda t: 1 / t, 1e-4).passed  # a step would leave
    f32 = tr.check_derivative(lambda t: np.float32(np.sin(np.float32(t))), math.cos, 0.3)
    assert f32.passed


def test_check_derivative_arguments():
    with pytest.raises(TypeError, match="df must be the derivative of f.*df is None"):
        tr.check_derivative(math.sin, None, 1.0)
    with pytest.raises(TypeError, match=r"df\(x\) returned None"):
        tr.check_derivative(math.sin, lambda t: None, 1.0)
    with pytest.raises(ValueError, match="analytic derivative at x = 0 is inf"):
        tr.check_derivative(math.sqrt, lambda t: math.inf, 0.0)


def test_check_hvp_accepts_numpy_integers():
    A = np.array([[2.0, 1.0], [1.0, 3.0]])
    g = lambda p: {"x": A @ p["x"]}  # noqa: E731
    rep = tr.check_hvp(g, {"x": np.ones(2)}, lambda p, v: {"x": A @ v["x"]}, directions=np.int64(2))
    assert rep.passed and rep.evaluations == 1 + 4 * 2
    with pytest.raises(ValueError, match="directions must be a positive integer"):
        tr.check_hvp(g, {"x": np.ones(2)}, lambda p, v: {"x": A @ v["x"]}, directions=np.True_)


def test_the_cli_says_a_passing_sample_check_compared_only_sampled_elements(tmp_path):
    from test_cli import MODEL, runner
    from trainready.cli import app

    model = tmp_path / "model.py"
    model.write_text(MODEL)
    result = runner.invoke(app, ["check", f"{model}:make", "--mode", "sample"])
    assert result.exit_code == 0, result.stdout
    assert "sampled elements of" in result.stdout and "only these were compared" in result.stdout
