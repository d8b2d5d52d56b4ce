"""Functions the world ships (issue 14 §2): each class the OpInfo sweep found, as a test that
failed before — empty tensors, exact zero gradients, NaN/inf inputs, efficient-zero gradients,
offset views, outputs without grad, every output's backward path, piecewise-constant functions,
losses that move in coarse steps, steps and sizes where no verdict can be judged."""

from __future__ import annotations

import numpy as np
import pytest

import trainready as tr

# --- NumPy core ---------------------------------------------------------------------------------


def test_an_empty_tensor_is_trivially_right_and_the_rest_is_checked():
    x = np.array([0.3, -1.2])
    rep = tr.gradcheck(
        lambda p: float(np.sum(np.sin(p["x"])) + np.sum(p["E"])),
        {"E": np.zeros((0, 3)), "x": x},
        {"E": np.zeros((0, 3)), "x": np.cos(x)},
    )
    assert rep.passed and rep.n_checked == 2 and rep.params["E"].checked == 0
    assert any("E is empty" in n for n in rep.notes)
    bad = tr.gradcheck(
        lambda p: float(np.sum(np.sin(p["x"]))),
        {"E": np.zeros((0, 3)), "x": x},
        {"E": np.zeros((0, 3)), "x": 2 * np.cos(x)},
    )
    assert bad.verdict == "wrong" and bad.params["x"].verdict == "wrong"
    only_empty = tr.gradcheck(lambda p: 0.0, {"E": np.zeros((0,))}, {"E": np.zeros((0,))})
    assert only_empty.passed and "nothing to compare" in " ".join(only_empty.notes)


def test_a_constant_function_with_a_zero_gradient_is_right():
    x = np.array([-1.0, -2.0, -0.5])  # relu's flat side
    rep = tr.gradcheck(lambda p: float(np.sum(np.maximum(p["x"], 0.0))), {"x": x},
                       {"x": np.zeros(3)})
    assert rep.passed, str(rep)
    assert not any("close over" in n for n in rep.notes)


def test_a_straight_through_sign_backward_is_wrong_and_the_hint_says_why():
    x = np.array([0.3, -1.2, 2.0])
    rep = tr.gradcheck(lambda p: float(np.sum(np.sign(p["x"]))), {"x": x}, {"x": np.ones(3)})
    assert rep.verdict == "wrong"
    assert any("piecewise-constant" in n for n in rep.notes)


def test_piecewise_constant_functions_are_right_and_jumps_are_reported_not_blamed():
    rng = np.random.default_rng(0)
    x = rng.uniform(-9, 9, 400)
    R = rng.standard_normal(400)
    for f in (np.floor, np.round, np.ceil, np.trunc, lambda z: np.round(z, 3)):
        rep = tr.gradcheck(lambda p, f=f: float(np.sum(R * f(p["x"]))), {"x": x},
                           {"x": np.zeros(400)})
        assert rep.passed, str(rep)
        assert rep.noise < 1e-15  # jumps are not read as noise (it was 2e-3)
    at_jump = tr.gradcheck(lambda p: float(np.sum(np.floor(p["x"]))), {"x": np.array([1.0, 2.5])},
                           {"x": np.zeros(2)})
    assert at_jump.passed
    assert [(k.index, k.jump) for k in at_jump.kinks] == [((0,), True)]
    assert "1 at a jump of the loss's value" in str(at_jump)


def _course_network():
    """A course-style 3-layer network (relu, relu, sigmoid; cross-entropy) with every example
    predicted within 3e-9 of 1: log(1 - AL) loses digits, the loss moves in steps of ~1e-8."""
    rng = np.random.default_rng(1)
    m, dims = 5, [4, 5, 3, 1]
    X = rng.standard_normal((4, m))
    Y = np.array([[1, 0, 1, 0, 1.0]])
    P = {}
    for l in range(1, 4):
        P[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * 0.5
        P[f"b{l}"] = np.zeros((dims[l], 1))

    def forward(p):
        A, caches = X, []
        for l in range(1, 4):
            Z = p[f"W{l}"] @ A + p[f"b{l}"]
            caches.append((A, Z))
            A = np.maximum(0, Z) if l < 3 else 1 / (1 + np.exp(-Z))
        return A, caches

    def cost(p):
        AL, _ = forward(p)
        return float(-np.mean(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)))

    def grads(p):
        AL, caches = forward(p)
        g, dA = {}, -(Y / AL - (1 - Y) / (1 - AL))
        for l in (3, 2, 1):
            Aprev, Z = caches[l - 1]
            dZ = dA * AL * (1 - AL) if l == 3 else dA * (Z > 0)
            g[f"W{l}"], g[f"b{l}"] = dZ @ Aprev.T / m, dZ.sum(1, keepdims=True) / m
            dA = p[f"W{l}"].T @ dZ
        return g

    lo, hi = -5.0, 60.0  # b3 such that the second example's prediction is 1 - 3e-9
    for _ in range(200):
        mid = (lo + hi) / 2
        P["b3"] = np.array([[mid]])
        lo, hi = (mid, hi) if forward(P)[0][0, 1] < 1 - 3e-9 else (lo, mid)
    return cost, P, grads


def test_a_loss_that_moves_in_coarse_steps_is_not_called_wrong():
    cost, P, grads = _course_network()
    rep = tr.gradcheck(cost, P, grads, mode="full")
    assert rep.passed, str(rep)
    assert rep.noise > 1e-12  # the noise estimate saw the steps (float64 rounding is 2e-16)
    bad = dict(grads(P))
    bad["W2"] = bad["W2"] * 1.05
    assert tr.gradcheck(cost, P, bad, mode="full").params["W2"].verdict == "wrong"


def test_no_verdict_without_a_judgement():
    x = np.array([0.5, -1.5, 2.0])
    loss = lambda p: float(np.sum(np.sin(p["x"])))  # noqa: E731
    for wrong in (2 * np.cos(x), -np.cos(x)):
        rep = tr.gradcheck(loss, {"x": x}, {"x": wrong}, mode="full", eps=1e-16)
        assert not rep.passed and "cannot judge" in rep.summary() and "eps=1e-16" in rep.summary()
    relu = lambda p: float(np.sum(np.maximum(p["x"], 0) * [1, 2, 3]))  # noqa: E731
    kinked = tr.gradcheck(relu, {"x": np.zeros(3)}, {"x": np.array([1.0, 2, 3])}, mode="full",
                          eps=1.0)
    assert kinked.verdict == "check" and "eps=1" in kinked.unjudged
    good = tr.gradcheck(loss, {"x": x}, {"x": np.cos(x)}, mode="full")
    assert good.passed and good.resolution < 1e-8 and "sees relative errors above" in str(good)


def test_a_float16_loss_is_not_wrong_for_being_float16():
    x = np.linspace(-1, 1.3, 7)
    rep = tr.gradcheck(lambda p: np.sum(np.sin(p["x"].astype(np.float16))), {"x": x},
                       {"x": np.cos(x)})
    assert rep.verdict != "wrong", str(rep)
    doubled = tr.gradcheck(lambda p: np.sum(np.sin(p["x"].astype(np.float16))), {"x": x},
                           {"x": 2 * np.cos(x)})
    assert doubled.verdict == "wrong"


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_losses_of_size_1e200_and_1e_minus_200(scale):
    x = np.array([0.3, -0.7, 1.1])
    loss = lambda p: float(scale * np.sum(np.sin(p["x"])))  # noqa: E731
    assert tr.gradcheck(loss, {"x": x}, {"x": scale * np.cos(x)}).passed
    assert tr.gradcheck(loss, {"x": x}, {"x": 2 * scale * np.cos(x)}).verdict == "wrong"


def test_probe_mode_finds_one_median_element_1_percent_wrong_among_200k():
    n = 200_000
    x = np.random.default_rng(3).standard_normal(n)
    g = np.cos(x)
    k = int(np.argsort(np.abs(g))[n // 2])
    g[k] *= 1.01
    rep = tr.gradcheck(lambda p: float(np.sum(np.sin(p["x"]))), {"x": x}, {"x": g}, mode="probe")
    assert rep.verdict == "wrong" and rep.params["x"].worst_index == (k,)
    assert rep.evaluations <= 200


# --- PyTorch adapter ----------------------------------------------------------------------------


@pytest.fixture
def torch(one_torch_thread):  # type: ignore[no-untyped-def]
    import torch

    return torch


def test_torch_empty_inputs_and_zero_tensor_gradients(torch):
    e = torch.zeros(0, 1, 3, dtype=torch.float64, requires_grad=True)
    f = torch.zeros(0, 1, 3, dtype=torch.float64, requires_grad=True)
    assert tr.torch.check_function(torch.mul, e, f).passed
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    assert tr.torch.check_function(torch.sgn, x).passed  # backward returns an efficient zero


def test_torch_nan_inputs_are_kept_and_the_finite_ones_checked(torch):
    x = torch.tensor([1.0, float("nan"), -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    for fn in (torch.nansum, torch.nanmean):
        rep = tr.torch.check_function(fn, x)
        assert rep.passed and rep.n_checked == 3, str(rep)


def test_torch_an_offset_view_is_checked_as_itself(torch):
    base = torch.randn(10, dtype=torch.float64)
    x = base[3:9].detach().requires_grad_(True)  # storage offset 3, storage larger than the view
    assert x.storage_offset() == 3

    def fn(t):
        return t.as_strided((2, 2), (1, 2), t.storage_offset() + 1).sin()

    assert tr.torch.check_function(fn, x).passed
    assert torch.autograd.gradcheck(fn, (x,))
    assert x.storage_offset() == 3 and x.dtype == torch.float64


class _WithStatistic:
    """y = 3x and its mean, marked non-differentiable (batch norm's saved statistics)."""

    @staticmethod
    def make(torch):  # type: ignore[no-untyped-def]
        class F(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                stat = x.mean().detach()
                ctx.mark_non_differentiable(stat)
                return 3 * x, stat

            @staticmethod
            def backward(ctx, g, _):
                return 3 * g

        return F


def test_torch_outputs_that_do_not_require_grad_are_skipped(torch):
    F = _WithStatistic.make(torch)
    x = torch.randn(4, dtype=torch.float64, requires_grad=True)
    rep = tr.torch.check_function(F.apply, x)
    assert rep.passed and any("do not require grad" in n for n in rep.notes)


def test_torch_a_backward_path_taken_only_when_an_output_has_no_gradient_is_checked(torch):
    class Two(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            ctx.save_for_backward(x)
            return 2 * x, x**2

        @staticmethod
        def backward(ctx, ga, gb):
            (x,) = ctx.saved_tensors
            if gb is None:
                return 3 * ga  # the bug: only on this path (should be 2 * ga)
            out = 2 * x * gb
            return out if ga is None else out + 2 * ga

    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    rep = tr.torch.check_function(Two.apply, x)
    assert rep.verdict == "wrong"
    assert rep.notes[0].startswith("output 0 alone")
    assert not torch.autograd.gradcheck(Two.apply, (x,), raise_exception=False)  # torch agrees


def test_torch_a_domain_edge_goes_one_sided(torch):
    x = torch.tensor([3e-4, 1e-4, 0.9995], dtype=torch.float64, requires_grad=True)
    for fn in (torch.log, torch.sqrt, torch.acos):
        rep = tr.torch.check_function(fn, x)
        assert rep.passed, (fn, str(rep))


def test_cli_eps_too_small_is_not_exit_0(tmp_path):
    from typer.testing import CliRunner

    from trainready.cli import app

    (tmp_path / "m.py").write_text(
        "import numpy as np\n"
        "def make():\n"
        "    x = np.array([0.5, -1.5, 2.0])\n"
        "    return (lambda p: float(np.sum(np.sin(p['x'])))), {'x': x}, "
        "(lambda p: {'x': 2 * np.cos(p['x'])})\n"
    )
    out = CliRunner().invoke(app, ["check", f"{tmp_path / 'm.py'}:make", "--eps", "1e-16"])
    assert out.exit_code != 0 and "cannot judge" in out.output


# --- messages that name the real problem (issue 11 items 12 and 13) -----------------------------


def test_eps_zero_or_negative_is_refused_everywhere():
    from trainready.gradcheck import numeric_gradient

    f = lambda p: float(np.sum(np.sin(p["x"])))  # noqa: E731
    for eps in (0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="eps: expected a positive finite float"):
            numeric_gradient(f, {"x": np.ones(3)}, eps=eps)
        with pytest.raises(ValueError, match="eps: expected a positive finite float"):
            tr.gradcheck(f, {"x": np.ones(3)}, {"x": np.cos(np.ones(3))}, eps=eps)


def test_a_loss_that_writes_into_its_params_is_named_not_called_nondeterministic():
    def writer(p):
        p["x"].flags.writeable = True
        p["x"][0] += 1
        return float(np.sum(p["x"]))

    with pytest.raises(RuntimeError, match="modified the parameter arrays"):
        tr.gradcheck(writer, {"x": np.ones(3)}, {"x": np.ones(3)})


def test_an_exception_in_the_users_backward_says_where_it_came_from():
    def backward(p):
        return {"x": p["x"] @ np.ones((2, 2))}  # a shape bug

    with pytest.raises(ValueError) as info:
        tr.gradcheck(lambda p: float(np.sum(p["x"])), {"x": np.ones(3)}, backward)
    assert any("raised by grads(params), your backward pass" in n and "x (3,)" in n
               for n in info.value.__notes__)


def test_torch_meta_modules_and_losses_that_call_backward_get_clear_errors(torch):
    meta = torch.nn.Linear(3, 2, device="meta")
    with pytest.raises(ValueError, match="meta device"):
        tr.torch.gradcheck(lambda: meta(torch.randn(1, 3, device="meta")).sum(), meta)
    model, X = torch.nn.Linear(3, 1), torch.randn(4, 3)

    def loss_fn():
        loss = model(X).pow(2).mean()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match=r"called \.backward\(\) itself"):
        tr.torch.gradcheck(loss_fn, model)
    assert model.weight.grad is None  # restored as it was
