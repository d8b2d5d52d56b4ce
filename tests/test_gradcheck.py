"""trainready.gradcheck: the classic algorithm, better numerics, localization, modes, safety."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trainready as tr
from gradcheck_fixture import BUGS, LAMBDA, backward, cost, loss_and_grads, make_problem
from trainready.errors import NondeterministicLossError, PrecisionWarning
from trainready.gradcheck import numeric_gradient


@pytest.fixture(scope="module")
def problem():
    return make_problem(seed=0)


def snapshot(params):
    return {k: (v, v.copy()) for k, v in params.items()}


def assert_unchanged(params, snap):
    for k, (obj, copy) in snap.items():
        assert params[k] is obj
        assert obj.dtype == copy.dtype and obj.shape == copy.shape
        assert np.array_equal(obj.view(np.uint8), copy.view(np.uint8))  # bit-identical


# --- the classic algorithm, exactly -------------------------------------------------------


def textbook(params, X, y, eps):
    """The course's per-coordinate loop, written independently of trainready."""
    names = list(params)
    theta = np.concatenate([params[k].ravel() for k in names])
    grads = backward(params, X, y)
    dtheta = np.concatenate([grads["d" + k].ravel() for k in names])

    def unflatten(v):
        out, i = {}, 0
        for k in names:
            n = params[k].size
            out[k] = v[i : i + n].reshape(params[k].shape)
            i += n
        return out

    approx = np.zeros_like(theta)
    for i in range(theta.size):
        plus, minus = theta.copy(), theta.copy()
        plus[i] += eps
        minus[i] -= eps
        approx[i] = (cost(unflatten(plus), X, y) - cost(unflatten(minus), X, y)) / (2 * eps)
    num = np.linalg.norm(approx - dtheta)
    return num / (np.linalg.norm(approx) + np.linalg.norm(dtheta))


def test_full_mode_with_fixed_eps_equals_the_textbook_loop(problem):
    params, X, y = problem
    loss, grads = loss_and_grads(X, y)
    rep = tr.gradcheck(loss, params, grads, mode="full", eps=1e-7)
    assert rep.difference == pytest.approx(textbook(params, X, y, 1e-7), rel=1e-9)
    n = sum(v.size for v in params.values())
    assert rep.n_checked == n
    # 2N loss calls for the differences + 2 (determinism) + 6 or 12 (noise level: a second
    # direction only when the first is above float64's rounding floor)
    assert rep.evaluations in (2 * n + 8, 2 * n + 14)


def test_params_to_vector_roundtrip_and_d_prefixed_grads(problem):
    params, X, y = problem
    theta, spec = tr.params_to_vector(params)
    assert theta.shape == (sum(v.size for v in params.values()),)
    assert spec.names == tuple(params)
    back = tr.vector_to_params(theta, spec)
    for k in params:
        assert np.array_equal(back[k], params[k]) and back[k] is not params[k]
    from trainready._params import grads_to_vector

    g = backward(params, X, y)  # named dW1, db1, ...
    assert np.array_equal(
        grads_to_vector(g, spec), grads_to_vector({k[1:]: v for k, v in g.items()}, spec)
    )
    name, index = spec.locate(spec.offsets[2] + 7)
    assert name == "W2" and index == np.unravel_index(7, params["W2"].shape)


def test_float32_params_roundtrip_keeps_dtype():
    theta, spec = tr.params_to_vector({"W": np.ones((2, 2), np.float32)})
    assert theta.dtype == np.float64
    assert tr.vector_to_params(theta, spec)["W"].dtype == np.float32


# --- better numerics by default -------------------------------------------------------------


def test_default_steps_beat_the_fixed_step_by_orders_of_magnitude(problem):
    params, X, y = problem
    loss, grads = loss_and_grads(X, y)
    auto = tr.gradcheck(loss, params, grads, mode="full")
    fixed = tr.gradcheck(loss, params, grads, mode="full", eps=1e-7)
    assert auto.passed and fixed.passed
    assert auto.difference <= 1e-9
    assert auto.difference < fixed.difference / 30
    assert 1e-17 < auto.noise < 1e-13  # measured, near float64 rounding
    n = sum(v.size for v in params.values())
    # two calls at theta (determinism) and one central difference per element (2N); the noise
    # is measured (6-12 calls) and Richardson used only where an element does not clearly pass
    assert 2 * n + 2 <= auto.evaluations <= 2.5 * n + 14


def test_noise_is_measured_not_assumed():
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal(30)
    noise = np.random.default_rng(2).standard_normal(10**6)
    calls = {"i": 0}

    def noisy(p):  # deterministic per point (seeded by the point) but rough at 1e-10
        key = int(abs(hash(p["x"].tobytes())) % 10**6)
        calls["i"] += 1
        return float(np.sum(np.sin(p["x"])) + 1e-10 * noise[key])

    rep = tr.gradcheck(noisy, {"x": x0}, {"x": np.cos(x0)}, mode="full")
    assert 1e-12 < rep.noise < 1e-9  # relative noise ~ 1e-10 / |J|
    assert rep.passed


# --- localize and explain: the injected bugs ------------------------------------------------

EXPECTED = {
    "factor2_dW1": ("W1", "2.00 × numeric"),
    "factor4_db2": ("b2", "4.00 × numeric"),
    "sign_dW3": ("W3", "sign flipped"),
    "missing_l2_dW2": ("W2", "regularization term"),
    "transposed_dW2": ("W2", "transpose"),
    "one_element_dW1": ("W1", "1 of 20 checked elements only: W1[2, 1]"),
    "zero_db1": ("b1", "all zeros"),
}


@pytest.mark.parametrize("bug", BUGS)
def test_each_injected_bug_is_caught_localized_and_explained(problem, bug):
    params, X, y = problem
    snap = snapshot(params)
    loss, grads = loss_and_grads(X, y, bug)
    rep = tr.gradcheck(loss, params, grads, mode="full")
    name, phrase = EXPECTED[bug]
    assert rep.verdict == "wrong" and not rep.passed
    assert [p.name for p in rep.failing] == [name]
    assert phrase in rep.params[name].hint
    assert name in str(rep) and phrase in str(rep)
    assert_unchanged(params, snap)


def test_missing_l2_hint_names_the_coefficient(problem):
    params, X, y = problem
    loss, grads = loss_and_grads(X, y, "missing_l2_dW2")
    hint = tr.gradcheck(loss, params, grads).params["W2"].hint
    assert f"{LAMBDA / X.shape[0]:.3g}" in hint


def test_one_element_bug_names_worst_index_and_values(problem):
    params, X, y = problem
    loss, grads = loss_and_grads(X, y, "one_element_dW1")
    res = tr.gradcheck(loss, params, grads).params["W1"]
    assert res.worst_index == (2, 1)
    assert res.mismatched == ((2, 1),)
    assert res.analytic == pytest.approx(1.01 * res.numeric, rel=1e-6)


def test_report_is_a_short_table_and_serializes(problem):
    params, X, y = problem
    loss, grads = loss_and_grads(X, y, "factor2_dW1")
    rep = tr.gradcheck(loss, params, grads)
    text = str(rep)
    assert len(text.splitlines()) <= 4 + len(params) + 2  # never a wall of numbers
    assert text.splitlines()[0].startswith("gradcheck WRONG: W1[")
    d = json.loads(json.dumps(rep.to_dict()))
    assert d["verdict"] == "wrong" and d["params"]["W1"]["verdict"] == "wrong"
    html = rep._repr_html_()
    assert "<table>" in html and "W1" in html


def test_progress_callback_sees_every_loss_call(problem):
    params, X, y = problem
    loss, grads = loss_and_grads(X, y)
    seen = []
    rep = tr.gradcheck(loss, params, grads, mode="full", progress=lambda d, t: seen.append((d, t)))
    assert [d for d, _ in seen] == list(range(1, rep.evaluations + 1))
    assert all(t >= d for d, t in seen)


# --- modes ----------------------------------------------------------------------------------


def test_sample_mode_covers_every_tensor_including_biases(problem):
    params, X, y = problem
    loss, grads = loss_and_grads(X, y, "factor4_db2")
    rep = tr.gradcheck(loss, params, grads, mode="sample", samples=3, rng=5)
    assert rep.mode == "sample"
    assert all(r.checked == min(3, params[r.name].size) for r in rep.params.values())
    assert rep.verdict == "wrong" and rep.failing[0].name == "b2"


def test_auto_mode_switches_to_probe_above_the_threshold():
    from trainready.gradcheck import AUTO_FULL_MAX

    small = {"x": np.linspace(-1, 1, 10)}
    big = {"x": np.linspace(-1, 1, AUTO_FULL_MAX + 1)}
    f = lambda p: float(np.sum(np.sin(p["x"])))  # noqa: E731
    assert tr.gradcheck(f, small, {"x": np.cos(small["x"])}).mode == "full"
    assert tr.gradcheck(f, big, {"x": np.cos(big["x"])}).mode == "probe"


@pytest.fixture(scope="module")
def big():
    from probe_fixture import make_big

    params, loss, grads = make_big()
    return params, loss, grads(params)


def test_probe_mode_passes_a_correct_million_parameter_model(big):
    params, loss, g = big
    snap = snapshot(params)
    rep = tr.gradcheck(loss, params, g, mode="probe")
    assert rep.n_params > 10**6
    assert rep.passed, str(rep)
    assert rep.evaluations <= 40
    assert_unchanged(params, snap)


@pytest.mark.parametrize("seed", [0, 1])
def test_probe_mode_finds_one_median_element_one_percent_wrong_among_a_million(big, seed):
    from probe_fixture import median_element

    params, loss, g = big
    bad = {k: v.copy() for k, v in g.items()}
    # a median-magnitude element of W1, different for each seed
    rng = np.random.default_rng(seed)
    flat = np.abs(g["W1"]).ravel()
    order = np.argsort(flat)
    k = int(order[flat.size // 2 + int(rng.integers(-1000, 1000))])
    idx = tuple(int(i) for i in np.unravel_index(k, g["W1"].shape))
    if seed == 0:
        idx = median_element(g["W1"])
    bad["W1"][idx] *= 1.01
    rep = tr.gradcheck(loss, params, bad, mode="probe", rng=seed)
    assert rep.verdict == "wrong"
    assert rep.evaluations <= 200
    res = rep.params["W1"]
    assert res.worst_index == idx
    assert res.analytic == pytest.approx(1.01 * res.numeric, rel=1e-4)
    assert "1 of" in res.hint and "only" in res.hint
    assert [p.name for p in rep.failing] == ["W1"]


def test_probe_mode_explains_a_whole_tensor_factor(big):
    params, loss, g = big
    bad = {k: v.copy() for k, v in g.items()}
    bad["b1"] = 2 * bad["b1"]
    rep = tr.gradcheck(loss, params, bad, mode="probe")
    assert rep.verdict == "wrong" and rep.failing[0].name == "b1"
    assert "2.00 × numeric" in rep.params["b1"].hint


def test_probe_mode_on_a_relu_network_full_of_kinks():
    from probe_fixture import make_big

    params, loss, grads = make_big(m=128, activation="relu", seed=3)
    g = grads(params)
    for seed in (0, 1):  # no false alarm although every direction crosses many kinks
        rep = tr.gradcheck(loss, params, g, mode="probe", rng=seed)
        assert rep.passed, str(rep)
    flat = np.abs(g["W1"]).ravel()
    k = int(np.argsort(flat)[flat.size // 2])
    idx = tuple(int(i) for i in np.unravel_index(k, g["W1"].shape))
    bad = {a: v.copy() for a, v in g.items()}
    bad["W1"][idx] *= 1.01
    rep = tr.gradcheck(loss, params, bad, mode="probe")
    assert rep.verdict == "wrong" and rep.params["W1"].worst_index == idx
    assert rep.evaluations <= 200


# --- kinks ----------------------------------------------------------------------------------


def relu_problem(offset):
    """One unit's pre-activation sits `offset` from ReLU's kink for the first example."""
    X = np.array([[1.0, 0.0], [0.5, 1.0], [-1.0, 0.3]])
    w = np.array([offset, 0.7])

    def loss(p):
        return float(np.mean(np.maximum(0.0, X @ p["w"]) ** 1 * np.array([1.0, 2.0, 3.0])))

    def grads(p):
        z = X @ p["w"]
        return {"w": X.T @ ((z > 0) * np.array([1.0, 2.0, 3.0])) / 3}

    return loss, {"w": w}, grads


def test_a_kink_crossed_by_the_step_is_resolved_by_a_smaller_step():
    loss, params, grads = relu_problem(1e-6)  # inside the automatic central step (~5e-6)
    rep = tr.gradcheck(loss, params, grads, mode="full")
    assert rep.passed, str(rep)
    assert rep.kinks and all(k.resolved for k in rep.kinks)
    assert rep.kinks[0].name == "w" and rep.kinks[0].index == (0,)


def test_a_kink_exactly_at_theta_is_reported_not_blamed():
    loss, params, grads = relu_problem(0.0)  # pre-activation exactly 0: no step avoids it
    rep = tr.gradcheck(loss, params, grads, mode="full")
    assert rep.passed
    assert [(k.name, k.index, k.resolved) for k in rep.kinks] == [("w", (0,), False)]
    k = rep.kinks[0]
    assert min(k.left, k.right) - 1e-6 <= k.analytic <= max(k.left, k.right) + 1e-6
    assert "kink" in str(rep)


def test_a_wrong_gradient_at_a_kink_is_still_blamed():
    loss, params, grads = relu_problem(0.0)
    bad = lambda p: {"w": grads(p)["w"] + np.array([5.0, 0.0])}  # noqa: E731
    assert tr.gradcheck(loss, params, bad, mode="full").verdict == "wrong"


def test_several_examples_exactly_on_the_kink_are_not_blamed_in_any_mode():
    # b = 0 and three all-zero input rows: those examples sit exactly on ReLU's kink for every
    # unit, so every bias coordinate (and every probe direction) crosses a kink at theta.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 3))
    X[:3] = 0.0
    y = rng.standard_normal(8)
    params = {"W": rng.standard_normal((4, 3)), "b": np.zeros(4), "v": rng.standard_normal(4)}

    def loss(p):
        h = np.maximum(0, X @ p["W"].T + p["b"])
        return float(0.5 * np.mean((h @ p["v"] - y) ** 2))

    def grads(p):
        z = X @ p["W"].T + p["b"]
        h = np.maximum(0, z)
        r = (h @ p["v"] - y) / len(y)
        dz = np.outer(r, p["v"]) * (z > 0)
        return {"W": dz.T @ X, "b": dz.sum(0), "v": h.T @ r}

    for mode in ("full", "sample", "probe"):
        rep = tr.gradcheck(loss, params, grads, mode=mode)
        assert rep.passed, str(rep)
        assert {k.name for k in rep.kinks} == {"b"} and not any(k.resolved for k in rep.kinks)
    assert rep.mode == "sample" and "kinks" in rep.notes[0]  # probe fell back to elements

    def bad(p):
        return {**grads(p), "b": grads(p)["b"] * 3}

    assert tr.gradcheck(loss, params, bad, mode="full").verdict == "wrong"


def test_trained_relu_network_several_kinks_per_step_no_false_alarm():
    # Found by a stress run: after training, moving W1[23, 1] moves 32 second-layer
    # pre-activations of 400 examples, and at h/16 several kinks were crossed at once without a
    # fourth-difference signature; the h/256 estimate is the right one.
    data = tr.datasets.circles(400, 100, rng=4)
    X, y = data.X_train, data.y_train
    net = tr.nn.MLP([2, 32, 32, 1], activation="relu", output="sigmoid", init="auto", l2=0.3, rng=4)
    net.fit(X, y, lr=0.1, epochs=2000)
    rep = net.gradcheck(X, y, mode="full", rng=4)
    assert rep.passed, str(rep)
    assert rep.kinks  # reported, not blamed
    p = {k: v.astype(float) for k, v in net.params.items()}
    g = net.gradients(X, y)
    g = {k: v.astype(float) for k, v in g.items()}
    gname = "dW1" if "dW1" in g else "W1"
    g[gname][23, 1] *= 1.01  # and a 1% bug right there is still caught
    Y = y.reshape(-1, 1).astype(float)
    bad = tr.gradcheck(lambda q: net._cost_grads(q, X, Y, train=True, need_grads=False)[0], p, g)
    assert bad.verdict == "wrong" and bad.params["W1"].worst_index == (23, 1)


def test_suspects_beyond_the_recheck_limit_are_still_judged(monkeypatch):
    import importlib

    coords = importlib.import_module("trainready.gradcheck._coords")

    monkeypatch.setattr(coords, "MAX_KINK_RECHECKS", 0)
    loss, params, grads = relu_problem(1e-6)
    rep = tr.gradcheck(loss, params, grads, mode="full")
    assert any("not re-checked" in n for n in rep.notes)
    assert rep.verdict != "wrong"

    def bad(p):
        return {"w": 3 * grads(p)["w"]}

    assert tr.gradcheck(loss, params, bad, mode="full").verdict == "wrong"  # never excluded


def test_fixed_eps_detects_kinks_too():
    loss, params, grads = relu_problem(3e-8)
    rep = tr.gradcheck(loss, params, grads, mode="full", eps=1e-7)
    assert rep.passed and rep.kinks


# --- nondeterminism -------------------------------------------------------------------------


def test_a_nondeterministic_loss_is_refused_with_the_fix(problem):
    params, X, y = problem
    rng = np.random.default_rng(0)

    def dropout_loss(p):
        keep = rng.random(p["W1"].shape) < 0.8
        q = dict(p, W1=p["W1"] * keep / 0.8)
        return cost(q, X, y)

    with pytest.raises(NondeterministicLossError, match="dropout"):
        tr.gradcheck(dropout_loss, params, lambda p: backward(p, X, y))


# --- float32 --------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [47, 1000])
def test_float32_loss_correct_gradient_is_never_called_wrong(n):
    # JAX's check_grads (fixed step 1e-4) fails these 11/20 times at N=47 and 20/20 at N=1000.
    for seed in range(20 if n == 47 else 5):
        x = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
        loss = lambda p: np.sum(np.sin(p["x"].astype(np.float32)))  # noqa: E731
        grads = {"x": np.cos(x.astype(np.float64))}
        with pytest.warns(PrecisionWarning, match="float64"):
            rep = tr.gradcheck(loss, {"x": x}, grads, mode="full", rng=seed)
        assert rep.verdict != "wrong", str(rep)
        assert rep.noise > 1e-9  # float32 noise was detected
        assert any("float32" in note for note in rep.notes)


def test_float32_loss_ten_percent_error_in_one_element_is_caught_and_localized():
    x = np.random.default_rng(3).standard_normal(200).astype(np.float32)
    loss = lambda p: np.sum(np.sin(p["x"].astype(np.float32)))  # noqa: E731
    g = np.cos(x.astype(np.float64))
    g[17] *= 1.1
    with pytest.warns(PrecisionWarning):
        rep = tr.gradcheck(loss, {"x": x}, {"x": g}, mode="full")
    assert rep.verdict == "wrong"
    assert rep.params["x"].worst_index == (17,)


# --- safety ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["full", "sample", "probe"])
def test_parameters_are_bit_identical_after_every_mode(problem, mode):
    params, X, y = problem
    snap = snapshot(params)
    loss, grads = loss_and_grads(X, y, "factor2_dW1")
    tr.gradcheck(loss, params, grads, mode=mode)
    assert_unchanged(params, snap)


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_parameters_survive_a_loss_that_raises_mid_check(problem, exc):
    params, X, y = problem
    snap = snapshot(params)
    calls = {"n": 0}

    def flaky(p):
        calls["n"] += 1
        if calls["n"] == 40:
            raise exc("boom")
        return cost(p, X, y)

    with pytest.raises(exc, match="boom") as info:
        tr.gradcheck(flaky, params, lambda p: backward(p, X, y))
    assert_unchanged(params, snap)
    if exc is RuntimeError:
        assert any("gradient check" in n for n in info.value.__notes__)


def test_a_loss_that_writes_into_its_params_is_stopped(problem):
    params, X, y = problem
    snap = snapshot(params)

    def vandal(p):
        p["W1"][0, 0] = 0.0
        return cost(p, X, y)

    with pytest.raises(ValueError, match="read-only"):
        tr.gradcheck(vandal, params, lambda p: backward(p, X, y))
    assert_unchanged(params, snap)


# --- bad input ------------------------------------------------------------------------------


def test_bad_input_gets_clear_errors(problem):
    params, X, y = problem
    loss, grads = loss_and_grads(X, y)
    g = {k[1:]: v for k, v in grads(params).items()}
    with pytest.raises(
        KeyError, match="no entry for parameter 'b2'.*dW1|no entry for parameter 'b2'"
    ):
        tr.gradcheck(loss, params, {k: v for k, v in g.items() if k != "b2"})
    with pytest.raises(KeyError, match="entries for no parameter: \\['W9'\\]"):
        tr.gradcheck(loss, params, dict(g, W9=np.zeros(2)))
    with pytest.raises(ValueError, match="grads\\['W1'\\] has shape \\(4, 5\\).*looks transposed"):
        tr.gradcheck(loss, params, dict(g, W1=g["W1"].T))
    # A NaN analytic value where the loss moves is judged, not refused: WRONG, located.
    nan_b1 = tr.gradcheck(loss, params, dict(g, b1=np.array([np.nan, *g["b1"][1:]])))
    assert nan_b1.verdict == "wrong" and nan_b1.params["b1"].worst_index == (0,)
    with pytest.raises(ValueError, match="params is empty"):
        tr.gradcheck(loss, {}, {})
    with pytest.raises(ValueError, match="scalar.*shape \\(20,\\).*mean"):
        tr.gradcheck(lambda p: np.ones(20), params, g)
    with pytest.raises(ValueError, match="returned nan"):
        tr.gradcheck(lambda p: float("nan"), params, g)
    with pytest.raises(ValueError, match="returned inf"):
        tr.gradcheck(lambda p: np.inf, params, g)
    with pytest.raises(ValueError, match="mode must be"):
        tr.gradcheck(loss, params, g, mode="fast")
    with pytest.raises(ValueError, match="eps: expected a positive"):
        tr.gradcheck(loss, params, g, eps=-1.0)
    closes_over = tr.gradcheck(lambda p: cost(params, X, y), params, g)
    assert closes_over.verdict == "wrong"
    assert any("close over the original arrays" in n for n in closes_over.notes)
    # NaN parameters are kept as they are and the finite elements checked (nansum-like losses)
    nan_x = tr.gradcheck(
        lambda p: float(np.nansum(p["x"] ** 2)), {"x": np.array([1.0, np.nan, -2.0])},
        {"x": np.array([2.0, 0.0, -4.0])},
    )
    assert nan_x.passed and nan_x.n_checked == 2 and any("NaN or inf" in n for n in nan_x.notes)
    with pytest.raises(TypeError, match="loss must be a callable"):
        tr.gradcheck(3.0, params, g)


def test_a_step_that_leaves_the_domain_is_shrunk_or_one_sided_not_an_abort():
    def loss(p):
        return float(np.log(p["x"][0]) + np.sqrt(p["x"][1]) + np.arccos(p["x"][2]))

    x = np.array([1e-4, 1e-4, 0.9995])
    right = {"x": np.array([1e4, 0.5 / np.sqrt(1e-4), -1 / np.sqrt(1 - 0.9995**2)])}
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = tr.gradcheck(loss, {"x": x}, right, mode="full")
        assert ok.passed, str(ok)
        bad = tr.gradcheck(loss, {"x": x}, {"x": right["x"] * [1, 1, 1.01]}, mode="full")
    assert bad.verdict == "wrong" and bad.params["x"].worst_index == (2,)


# --- hypothesis: random smooth compositions -------------------------------------------------

UNARY = {
    "sin": (np.sin, np.cos),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "gauss": (lambda z: np.exp(-(z**2)), lambda z: -2 * z * np.exp(-(z**2))),
    "softplus": (lambda z: np.logaddexp(0, z), lambda z: 1 / (1 + np.exp(-z))),
    "square": (np.square, lambda z: 2 * z),
}


@st.composite
def smooth_problems(draw):
    n = draw(st.integers(1, 12))
    k = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31))
    names = draw(st.lists(st.sampled_from(sorted(UNARY)), min_size=k, max_size=k))
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((k, n))
    c = rng.standard_normal(k)
    x = rng.standard_normal(n)
    return names, A, c, x


def composite(names, A, c):
    def f(p):
        z = A @ p["x"]
        return float(sum(ci * UNARY[nm][0](zi) for nm, ci, zi in zip(names, c, z)))

    def g(p):
        z = A @ p["x"]
        return {"x": A.T @ np.array([ci * UNARY[nm][1](zi) for nm, ci, zi in zip(names, c, z)])}

    return f, g


@settings(max_examples=40, deadline=None)
@given(smooth_problems(), st.integers(0, 11), st.floats(0.01, 1.0))
def test_random_smooth_compositions(problem, which, rel):
    names, A, c, x = problem
    f, g = composite(names, A, c)
    x_before = x.copy()
    rep = tr.gradcheck(f, {"x": x}, g, mode="full")
    assert rep.passed, str(rep)
    i = which % x.size
    good = g({"x": x})["x"]
    bad = good.copy()
    bad[i] += rel * (1 + abs(bad[i]))
    rep_bad = tr.gradcheck(f, {"x": x}, {"x": bad}, mode="full")
    assert rep_bad.verdict == "wrong"
    assert rep_bad.params["x"].worst_index == (i,)
    assert np.array_equal(x, x_before)


# --- oracle: torch.autograd -----------------------------------------------------------------


def test_numeric_gradient_agrees_with_torch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    X = rng.standard_normal((16, 6))
    W = rng.standard_normal((4, 6)) * 0.5
    b = rng.standard_normal(4) * 0.1
    v = rng.standard_normal(4)

    def f_np(p):
        h = np.tanh(X @ p["W"].T + p["b"])
        return float(np.mean(np.logaddexp(0, h @ p["v"])) + 0.1 * np.sum(p["W"] ** 2))

    t = {
        k: torch.tensor(a, dtype=torch.float64, requires_grad=True)
        for k, a in {"W": W, "b": b, "v": v}.items()
    }
    Xt = torch.tensor(X)
    h = torch.tanh(Xt @ t["W"].T + t["b"])
    out = torch.nn.functional.softplus(h @ t["v"]).mean() + 0.1 * (t["W"] ** 2).sum()
    out.backward()
    num = numeric_gradient(f_np, {"W": W, "b": b, "v": v})
    for k in t:
        ref = t[k].grad.numpy()
        assert np.max(np.abs(num[k] - ref)) <= 1e-9 * max(1.0, np.max(np.abs(ref)))


# --- check_derivative -----------------------------------------------------------------------


def test_check_derivative():
    ok = tr.check_derivative(math.exp, math.exp, 1.3)
    assert ok.passed and ok.difference < 1e-10
    assert tr.check_derivative(math.exp, lambda x: 1.01 * math.exp(x), 1.3).verdict == "wrong"
    assert tr.check_derivative(lambda x: x**3, 12.0, 2.0).passed  # df given as a value
    kink = tr.check_derivative(abs, 1.0, 0.0)
    assert kink.passed and kink.kink
    with pytest.raises(ValueError, match="x must be finite"):
        tr.check_derivative(math.exp, math.exp, float("inf"))
    assert "numeric" in str(ok)
