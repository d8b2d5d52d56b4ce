"""``trainready doctor`` with a target (issue 12.1): the loss is read from y, said in the output,
chosen with --loss, or the user's own; the gradient it records is the one torch.autograd
computes for that loss (the oracle), so the choice is not just a label."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trainready.cli import app

torch = pytest.importorskip("torch")
tr_torch = pytest.importorskip("trainready.torch")
runner = CliRunner()

NETS = textwrap.dedent(
    """
    import numpy as np
    import torch
    import trainready as tr

    def net(k):
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Linear(12, k))

    g = torch.Generator().manual_seed(1)
    X = torch.randn(48, 6, generator=g)

    def classes():
        return net(3), X, torch.randint(0, 3, (48,), generator=g)

    def regression_1d():          # y (N,) for an (N, 1) output: must not broadcast to N x N
        return net(1), X, torch.randn(48, generator=g)

    def regression_2d():
        return net(2), X, torch.randn(48, 2, generator=g)

    def binary():
        return net(1), X, (torch.rand(48, generator=g) < 0.5).float()

    def binary_sigmoid():
        m = torch.nn.Sequential(net(1), torch.nn.Sigmoid())
        return m, X, (torch.rand(48, generator=g) < 0.5).float()

    def own_loss():
        return net(1), X, torch.randn(48, 1, generator=g), torch.nn.L1Loss()

    def ambiguous():
        return net(3), X, torch.randn(48, 5, generator=g)

    def out_of_range_classes():
        return net(3), X, torch.full((48,), 7)

    def numpy_batch():
        return net(3), X.numpy(), torch.randint(0, 3, (48,), generator=g)

    def mlp():
        net = tr.nn.MLP([6, 8, 1], activation="relu", output="sigmoid", init="he", rng=0)
        return net, X.numpy().astype(np.float64), (X[:, 0] > 0).numpy().astype(float)
    """
)


@pytest.fixture
def nets(tmp_path: Path) -> Path:
    path = tmp_path / "nets.py"
    path.write_text(NETS)
    return path


def doctor_json(path: Path, func: str, *extra: str) -> dict:
    result = runner.invoke(app, ["doctor", f"{path}:{func}", "--json", *extra])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def one_line_error(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def first_weight_grad_norm(path: Path, func: str, loss_fn) -> float:
    """The oracle: ||dL/dW1|| by torch.autograd in float64 for the model FUNC returns."""
    ns: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), ns)
    model, X, y, *_ = ns[func]()
    model = model.double()
    X = torch.as_tensor(X).double()
    loss = loss_fn(model(X), y)
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    (g,) = torch.autograd.grad(loss, first.weight)
    return float(g.norm())


F = torch.nn.functional


@pytest.mark.parametrize(
    ("func", "name", "words", "oracle"),
    [
        (
            "classes",
            "cross_entropy",
            "integer classes 0..2 for 3 outputs",
            lambda out, y: F.cross_entropy(out, y),
        ),
        (
            "regression_1d",
            "mse",
            "mean squared error",
            lambda out, y: F.mse_loss(out, y.double().reshape(out.shape)),
        ),
        ("regression_2d", "mse", "mean squared error", lambda out, y: F.mse_loss(out, y.double())),
        (
            "binary",
            "bce",
            "binary cross-entropy on logits",
            lambda out, y: F.binary_cross_entropy_with_logits(out, y.double().reshape(out.shape)),
        ),
        (
            "binary_sigmoid",
            "bce",
            "on the model's sigmoid output",
            lambda out, y: F.binary_cross_entropy(out, y.double().reshape(out.shape)),
        ),
        ("own_loss", "yours", "your loss_fn", lambda out, y: torch.nn.L1Loss()(out, y.double())),
    ],
)
def test_loss_read_from_y_and_used(nets: Path, func: str, name: str, words: str, oracle) -> None:
    data = doctor_json(nets, func)
    assert data["loss"] == name
    text = runner.invoke(app, ["doctor", f"{nets}:{func}"]).stdout
    assert any(line.startswith("loss: ") and words in line for line in text.splitlines()), text
    expected = first_weight_grad_norm(nets, func, oracle)
    assert data["layers"][0]["weight_grad_norm"] == pytest.approx(expected, rel=1e-9)


def test_wrong_broadcast_would_be_caught(nets: Path) -> None:
    """The oracle test above can fail: (N, 1) - (N,) broadcasting gives another gradient."""
    data = doctor_json(nets, "regression_1d")
    broadcast = first_weight_grad_norm(
        nets, "regression_1d", lambda out, y: ((out - y.double()) ** 2).mean()
    )
    assert data["layers"][0]["weight_grad_norm"] != pytest.approx(broadcast, rel=1e-3)


def test_loss_option_chooses(nets: Path) -> None:
    data = doctor_json(nets, "binary", "--loss", "mse")
    assert data["loss"] == "mse"
    expected = first_weight_grad_norm(
        nets, "binary", lambda out, y: F.mse_loss(out, y.double().reshape(out.shape))
    )
    assert data["layers"][0]["weight_grad_norm"] == pytest.approx(expected, rel=1e-9)
    text = runner.invoke(app, ["doctor", f"{nets}:binary", "--loss", "mse"]).stdout
    assert "chosen with --loss" in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["ambiguous"], "cannot tell the loss from y"),
        (["out_of_range_classes"], "classes 7..7 but the model has 3 outputs"),
        (["classes", "--loss", "mse"], "--loss mse needs y with one value per output"),
        (["own_loss", "--loss", "mse"], "both choose the loss"),
        (["mlp", "--loss", "mse"], "trains with binary cross-entropy"),
        (["binary", "--loss", "huber"], "'huber' is not one of"),
    ],
)
def test_loss_errors_are_one_line(nets: Path, args: list[str], expected: str) -> None:
    line = one_line_error(runner.invoke(app, ["doctor", f"{nets}:{args[0]}", *args[1:]]))
    assert expected in line


def test_numpy_batch_for_torch_model_is_converted_with_a_note(nets: Path) -> None:
    data = doctor_json(nets, "numpy_batch")
    assert data["loss"] == "cross_entropy"
    assert any("converted it to a float32 tensor" in n for n in data["notes"])


def test_mlp_with_y_says_its_own_loss(nets: Path) -> None:
    data = doctor_json(nets, "mlp")
    assert data["loss"] == "bce"
    text = runner.invoke(app, ["doctor", f"{nets}:mlp"]).stdout
    assert "loss: binary cross-entropy, the loss of the network's sigmoid output" in text
    assert doctor_json(nets, "mlp", "--loss", "bce")["loss"] == "bce"


def test_without_y_says_random_gradient(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "import torch\n"
        "def make():\n"
        "    torch.manual_seed(0)\n"
        "    return torch.nn.Sequential(torch.nn.Linear(4, 4)), torch.randn(16, 4)\n"
    )
    result = runner.invoke(app, ["doctor", f"{path}:make"])
    assert result.exit_code in (0, 1), result.output
    assert "loss: none (no y)" in result.stdout
    assert np.isfinite(doctor_json(path, "make")["layers"][0]["weight_grad_norm"])
