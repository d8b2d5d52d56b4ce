"""trainready.torch.gradcheck on nn.Modules: verdicts, names, and bit-exact restoration."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import trainready as tr  # noqa: E402
from trainready.errors import NondeterministicLossError  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----------------------------------------------------------------------------- helpers


def _bits(t: torch.Tensor) -> bytes:
    return t.detach().cpu().contiguous().numpy().tobytes()


def snapshot(module: nn.Module) -> dict[str, tuple]:
    """Everything a check must leave unchanged: values (bits), dtype, device, flags, grad."""
    out: dict[str, tuple] = {}
    for name, t in [*module.named_parameters(), *module.named_buffers()]:
        out[name] = (
            id(t),
            id(t.data.untyped_storage()),
            t.data.data_ptr(),
            t.dtype,
            t.device,
            t.requires_grad,
            _bits(t),
            None if t.grad is None else (id(t.grad), _bits(t.grad)),
            t._version,
        )
    return out


class Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(x + self.bn2(self.conv2(h)))


def _mlp() -> tuple[nn.Module, Callable[[], torch.Tensor]]:
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 3))
    X, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    return model, lambda: F.cross_entropy(model(X), y) + 1e-3 * model[0].weight.pow(2).sum()


def _cnn() -> tuple[nn.Module, Callable[[], torch.Tensor]]:
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(3 * 2 * 2, 2)
    )
    X, y = torch.randn(4, 2, 6, 6), torch.randn(4, 2)
    return model, lambda: F.mse_loss(model(X), y)


def _layernorm() -> tuple[nn.Module, Callable[[], torch.Tensor]]:
    model = nn.Sequential(nn.Linear(5, 6), nn.LayerNorm(6), nn.Tanh(), nn.Linear(6, 1))
    with torch.no_grad():  # non-trivial affine parameters
        model[1].weight.uniform_(0.5, 1.5)
        model[1].bias.normal_()
    X, y = torch.randn(7, 5), torch.randn(7, 1)
    return model, lambda: F.mse_loss(model(X), y)


def _batchnorm_eval() -> tuple[nn.Module, Callable[[], torch.Tensor]]:
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 1))
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(16, 3) * 2 + 1)  # non-trivial running statistics
    model.eval()
    X, y = torch.randn(6, 3), torch.randn(6, 1)
    return model, lambda: F.mse_loss(model(X), y)


def _residual() -> tuple[nn.Module, Callable[[], torch.Tensor]]:
    model = Residual(2)
    model.train()  # BatchNorm on batch statistics: deterministic, updates running stats
    X = torch.randn(3, 2, 4, 4)
    w = torch.randn(3, 2, 4, 4)
    return model, lambda: (model(X) * w).mean()


MODELS = {
    "mlp": _mlp,
    "cnn": _cnn,
    "layernorm": _layernorm,
    "batchnorm_eval": _batchnorm_eval,
    "residual": _residual,
}


# ----------------------------------------------------------------------------- tests
@pytest.mark.parametrize("kind", list(MODELS))
def test_modules_pass_and_are_left_unchanged(kind: str) -> None:
    torch.manual_seed(0)
    model, loss_fn = MODELS[kind]()
    model.zero_grad()
    loss_fn().backward()  # leave a .grad on every parameter: it must survive the check
    before = snapshot(model)
    rep = tr.torch.gradcheck(loss_fn, model, mode="full")
    assert rep.passed, str(rep)
    assert list(rep.params) == [n for n, p in model.named_parameters()]
    assert rep.n_checked == sum(p.numel() for p in model.parameters())
    assert snapshot(model) == before


@pytest.mark.parametrize("kind", ["mlp", "residual"])
def test_sample_and_probe_modes_pass(kind: str) -> None:
    torch.manual_seed(1)
    model, loss_fn = MODELS[kind]()
    before = snapshot(model)
    for mode in ("sample", "probe"):
        rep = tr.torch.gradcheck(loss_fn, model, mode=mode)
        assert rep.passed and rep.mode == mode, str(rep)
    assert snapshot(model) == before


class _BuggyTanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z):  # type: ignore[no-untyped-def]
        t = torch.tanh(z)
        ctx.save_for_backward(t)
        return t

    @staticmethod
    def backward(ctx, g):  # type: ignore[no-untyped-def]
        (t,) = ctx.saved_tensors
        return g * (1 - t)  # wrong: 1 - t**2


def test_a_custom_function_inside_a_module_is_caught() -> None:
    torch.manual_seed(2)
    lin1, lin2 = nn.Linear(3, 4), nn.Linear(4, 1)
    X, y = torch.randn(6, 3), torch.randn(6, 1)
    rep = tr.torch.gradcheck(
        lambda: F.mse_loss(lin2(_BuggyTanh.apply(lin1(X))), y),
        {"W1": lin1.weight, "b1": lin1.bias, "W2": lin2.weight, "b2": lin2.bias},
    )
    assert rep.verdict == "wrong"
    assert {p.name for p in rep.failing} == {"W1", "b1"}  # layer 2 is above the bug
    assert rep.params["W2"].passed and rep.params["b2"].passed


def test_agrees_with_the_numpy_gradcheck_on_the_reference_network() -> None:
    """The same network in NumPy (trainready.nn.MLP) and in torch: same verdict, and the
    numeric gradients the two checks compute agree with each other."""
    net = tr.nn.MLP([3, 5, 1], activation="tanh", output="linear", rng=0)
    X = np.random.default_rng(0).standard_normal((8, 3))
    y = np.random.default_rng(1).standard_normal((8, 1))
    lin1, lin2 = nn.Linear(3, 5).double(), nn.Linear(5, 1).double()
    with torch.no_grad():
        for lin, k in ((lin1, 1), (lin2, 2)):
            lin.weight.copy_(torch.from_numpy(net.params[f"W{k}"]))
            lin.bias.copy_(torch.from_numpy(net.params[f"b{k}"]))
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    params = {"W1": lin1.weight, "b1": lin1.bias, "W2": lin2.weight, "b2": lin2.bias}
    rep_t = tr.torch.gradcheck(
        lambda: 0.5 * ((lin2(torch.tanh(lin1(Xt))) - yt) ** 2).mean(), params, mode="full"
    )
    rep_n = net.gradcheck(X, y)
    assert rep_t.passed and rep_n.passed
    assert rep_t.n_params == rep_n.n_params


def test_restored_when_the_loss_raises_midway() -> None:
    torch.manual_seed(3)
    model, loss_fn = MODELS["batchnorm_eval"]()
    model.half_point = 0  # type: ignore[attr-defined]
    calls = [0]

    def flaky() -> torch.Tensor:
        calls[0] += 1
        if calls[0] == 12:
            raise KeyboardInterrupt
        return loss_fn()

    model.zero_grad()
    loss_fn().backward()
    before = snapshot(model)
    with pytest.raises(KeyboardInterrupt):
        tr.torch.gradcheck(flaky, model)
    assert snapshot(model) == before

    def broken() -> torch.Tensor:
        calls[0] += 1
        if calls[0] > 20:
            raise RuntimeError("boom")
        return loss_fn()

    with pytest.raises(RuntimeError, match="boom") as info:
        tr.torch.gradcheck(broken, model)
    assert any("gradient check" in n for n in getattr(info.value, "__notes__", []))
    assert snapshot(model) == before


def test_a_graph_built_before_the_check_still_backpropagates() -> None:
    torch.manual_seed(4)
    model, loss_fn = MODELS["mlp"]()
    pending = loss_fn()
    tr.torch.gradcheck(loss_fn, model, mode="sample")
    pending.backward()  # no "modified by an inplace operation" error
    expected = torch.autograd.grad(loss_fn(), list(model.parameters()))
    for p, g in zip(model.parameters(), expected, strict=True):
        assert torch.equal(p.grad, g)


def test_dropout_in_training_mode_is_refused_with_the_fix() -> None:
    torch.manual_seed(5)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 1))
    X, y = torch.randn(8, 4), torch.randn(8, 1)
    before = snapshot(model)
    with pytest.raises(
        NondeterministicLossError, match=r"call model\.eval\(\) or fix the seed"
    ) as e:
        tr.torch.gradcheck(lambda: F.mse_loss(model(X), y), model)
    assert "2 (Dropout, p=0.5)" in str(e.value)
    assert snapshot(model) == before
    model.eval()
    assert tr.torch.gradcheck(lambda: F.mse_loss(model(X), y), model).passed
    model.train()

    def seeded() -> torch.Tensor:
        torch.manual_seed(0)
        return F.mse_loss(model(X), y)

    assert tr.torch.gradcheck(seeded, model).passed  # a fixed mask is deterministic


def test_float32_target_is_noted() -> None:
    torch.manual_seed(6)
    model = nn.Linear(3, 1)
    X, y = torch.randn(5, 3), torch.rand(5, 1)
    rep = tr.torch.gradcheck(lambda: F.binary_cross_entropy_with_logits(model(X), y), model)
    assert rep.passed, str(rep)
    assert any("float32 although the parameters were float64" in n for n in rep.notes)
    rep = tr.torch.gradcheck(
        lambda: F.binary_cross_entropy_with_logits(model(X), y.double()), model
    )
    assert not any("although" in n for n in rep.notes)


def test_params_forms_and_names() -> None:
    torch.manual_seed(7)
    model, loss_fn = MODELS["mlp"]()
    names = [n for n, _ in model.named_parameters()]
    assert list(tr.torch.gradcheck(loss_fn, model.parameters(), mode="sample").params) == [
        str(i) for i in range(len(names))
    ]
    assert list(tr.torch.gradcheck(loss_fn, model.named_parameters(), mode="sample").params) == (
        names
    )
    # a frozen parameter is not checked but still converted (the forward works)
    model[0].weight.requires_grad_(False)
    rep = tr.torch.gradcheck(loss_fn, model, mode="sample")
    assert "0.weight" not in rep.params and rep.passed
    assert not model[0].weight.requires_grad and model[0].weight.dtype == torch.float32
    # a plain tensor without requires_grad is checked, then gets its flag back
    w = torch.randn(3)
    rep = tr.torch.gradcheck(lambda: (w.sin() * w).sum(), {"w": w})
    assert rep.passed and not w.requires_grad


def test_bad_inputs_are_explained() -> None:
    model = nn.Linear(2, 1)
    X = torch.randn(3, 2)
    with pytest.raises(TypeError, match="not .item"):
        tr.torch.gradcheck(lambda: model(X).sum().item(), model)
    with pytest.raises(ValueError, match="scalar"):
        tr.torch.gradcheck(lambda: model(X), model)
    with pytest.raises(ValueError, match="does not depend"):
        tr.torch.gradcheck(lambda: model(X).sum().detach(), model)
    with pytest.raises(ValueError, match="not a leaf"):
        tr.torch.gradcheck(lambda: model(X).sum(), {"w": model.weight * 2})
    with pytest.raises(TypeError, match="floating-point"):
        tr.torch.gradcheck(lambda: model(X).sum(), {"i": torch.arange(3)})
    with pytest.raises(ValueError, match="shares memory"):
        tr.torch.gradcheck(lambda: model(X).sum(), [model.weight, model.weight])
    with pytest.raises(ValueError, match="no parameter that requires grad"):
        tr.torch.gradcheck(lambda: model(X).sum(), model.requires_grad_(False))
    with pytest.raises(TypeError, match="callable"):
        tr.torch.gradcheck(model(X).sum(), model)
    # a float32 tensor that is neither a param nor a module input: the error says why
    W, Xc = torch.randn(1, 2), X.clone().requires_grad_()
    with pytest.raises(RuntimeError) as info:
        tr.torch.gradcheck(lambda: (Xc @ W.T).sum(), {"X": Xc})
    assert any(".double()" in n for n in getattr(info.value, "__notes__", []))
    assert Xc.dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_stay_on_their_device() -> None:
    torch.manual_seed(8)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).cuda()
    X, y = torch.randn(6, 4, device="cuda"), torch.randn(6, 1, device="cuda")
    seen: list[torch.device] = []

    def loss_fn() -> torch.Tensor:
        seen.append(model[0].weight.device)
        return F.mse_loss(model(X), y)

    before = snapshot(model)
    for mode in ("full", "probe"):
        assert tr.torch.gradcheck(loss_fn, model, mode=mode).passed
    assert {d.type for d in seen} == {"cuda"}
    assert snapshot(model) == before
    bug = tr.torch.gradcheck(lambda: F.mse_loss(_BuggyTanh.apply(model(X)), y), model)
    assert bug.verdict == "wrong"
    assert snapshot(model) == before
