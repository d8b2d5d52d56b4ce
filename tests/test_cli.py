"""The command line through typer's CliRunner and real files: exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trainready.cli import app

runner = CliRunner()

MODEL = textwrap.dedent(
    """
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 3))
    y = rng.standard_normal(16)
    P0 = {
        "W1": 0.5 * rng.standard_normal((4, 3)),
        "b1": 0.1 * rng.standard_normal(4),
        "W2": 0.5 * rng.standard_normal((1, 4)),
        "b2": np.zeros(1),
    }

    def cost(p):
        h = np.tanh(X @ p["W1"].T + p["b1"])
        r = (h @ p["W2"].T)[:, 0] + p["b2"][0] - y
        return float(0.5 * np.mean(r ** 2))

    def backprop(p, bug=None):
        h = np.tanh(X @ p["W1"].T + p["b1"])
        r = (h @ p["W2"].T)[:, 0] + p["b2"][0] - y
        dr = r / len(X)
        dz = np.outer(dr, p["W2"][0]) * (1 - h ** 2)
        g = {"W1": dz.T @ X, "b1": dz.sum(0), "W2": (dr @ h)[None, :], "b2": np.array([dr.sum()])}
        if bug == "double_W1":
            g["W1"] = 2 * g["W1"]
        if bug == "transposed_W1":
            g["W1"] = g["W1"].T
        return g

    def make():
        return cost, P0, backprop

    def make_buggy():
        return cost, P0, lambda p: backprop(p, "double_W1")

    def make_bad_shape():
        return cost, P0, lambda p: backprop(p, "transposed_W1")

    def make_noisy():
        noise = np.random.default_rng()
        return (lambda p: cost(p) + 1e-3 * noise.standard_normal()), P0, backprop

    def make_number():
        return 42

    def make_four():
        return cost, P0, backprop, None

    def make_without_grads():
        return cost, P0

    def needs_argument(x):
        return cost, P0, backprop

    def crashes():
        return 1 / 0

    NOT_A_FUNCTION = 3
    """
)

TORCH_MODEL = textwrap.dedent(
    '''
    import torch

    torch.manual_seed(0)
    X = torch.randn(12, 3)
    y = torch.randn(12, 1)

    class DoubledBackward(torch.autograd.Function):
        """tanh whose backward is twice the truth."""

        @staticmethod
        def forward(ctx, z):
            a = torch.tanh(z)
            ctx.save_for_backward(a)
            return a

        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved_tensors
            return 2 * grad * (1 - a ** 2)

    def make():
        model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
        return (lambda: torch.nn.functional.mse_loss(model(X), y)), model

    def make_buggy():
        model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Linear(5, 1))
        def loss():
            return torch.nn.functional.mse_loss(model[1](DoubledBackward.apply(model[0](X))), y)
        return loss, model
    '''
)


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    return path


def one_line_error(result, code: int = 2) -> str:
    """The run failed with ``code``, printed exactly one line on stderr and no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


# ------------------------------------------------------------------------------------- check
def test_fixture_gradients_match_torch_autograd(model_file: Path) -> None:
    """The 'good' model really is right (oracle: torch.autograd), so exit 0 means something."""
    torch = pytest.importorskip("torch")
    ns: dict = {}
    exec(compile(MODEL, str(model_file), "exec"), ns)
    _cost, P0, backprop = ns["make"]()
    X, y = torch.tensor(ns["X"]), torch.tensor(ns["y"])
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in P0.items()}
    h = torch.tanh(X @ tp["W1"].T + tp["b1"])
    r = (h @ tp["W2"].T)[:, 0] + tp["b2"][0] - y
    (0.5 * torch.mean(r**2)).backward()
    ours = backprop(P0)
    for k in P0:
        np.testing.assert_allclose(ours[k], tp[k].grad.numpy(), rtol=1e-12, atol=1e-15)


def test_check_correct_model_exits_0(model_file: Path) -> None:
    result = runner.invoke(app, ["check", f"{model_file}:make"])
    assert result.exit_code == 0, result.output
    assert "gradcheck OK" in result.stdout
    assert "model.py:make" in result.stdout


def test_check_buggy_model_exits_1_and_names_parameter_and_ratio(model_file: Path) -> None:
    result = runner.invoke(app, ["check", f"{model_file}:make_buggy", "--mode", "full"])
    assert result.exit_code == 1, result.output
    first = result.stdout.splitlines()[0]
    assert "WRONG" in first and "W1[" in first
    assert "2.00 × numeric" in result.stdout
    w1_row = next(l for l in result.stdout.splitlines() if l.strip().startswith("W1 "))
    assert "WRONG" in w1_row
    b1_row = next(l for l in result.stdout.splitlines() if l.strip().startswith("b1 "))
    assert "WRONG" not in b1_row


def test_check_json_is_parseable(model_file: Path) -> None:
    good = runner.invoke(app, ["check", f"{model_file}:make", "--json", "--mode", "sample"])
    assert good.exit_code == 0, good.output
    data = json.loads(good.stdout)
    assert data["passed"] is True and data["mode"] == "sample"
    assert set(data["params"]) == {"W1", "b1", "W2", "b2"}
    bad = runner.invoke(app, ["check", f"{model_file}:make_buggy", "--json"])
    assert bad.exit_code == 1
    data = json.loads(bad.stdout)
    assert data["verdict"] == "wrong" and data["params"]["W1"]["verdict"] == "wrong"


def test_check_fixed_eps_is_used(model_file: Path) -> None:
    result = runner.invoke(app, ["check", f"{model_file}:make", "--eps", "1e-6", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["eps"] == 1e-6


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("{dir}/missing.py:make", "does not exist"),
        ("{file}:nope", "has no function 'nope'"),
        ("{file}", "expected FILE.py:FUNC"),
        ("{file}:NOT_A_FUNCTION", "not a function"),
        ("{file}:needs_argument", "must take no arguments"),
        ("{file}:crashes", "ZeroDivisionError"),
        ("{file}:make_number", "must return (loss, params, grads)"),
        ("{file}:make_four", "returned 4 items"),
        ("{file}:make_without_grads", "a NumPy problem is (loss, params, grads)"),
        ("{file}:make_bad_shape", "shape"),
        ("{file}:make_noisy", "dropout"),
    ],
)
def test_check_usage_and_input_errors_exit_2_with_one_line(
    model_file: Path, target: str, expected: str
) -> None:
    arg = target.format(dir=model_file.parent, file=model_file)
    line = one_line_error(runner.invoke(app, ["check", arg]))
    assert expected in line


def test_missing_function_lists_what_is_there(model_file: Path) -> None:
    line = one_line_error(runner.invoke(app, ["check", f"{model_file}:nope"]))
    assert "make_buggy" in line and "crashes" in line


def test_error_in_user_code_names_the_line(model_file: Path) -> None:
    line = one_line_error(runner.invoke(app, ["check", f"{model_file}:crashes"]))
    lineno = MODEL.splitlines().index("    return 1 / 0") + 1
    assert f"model.py, line {lineno}" in line


def test_import_error_in_user_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.py"
    bad.write_text("import numpy as np\nx = undefined_name + 1\n")
    line = one_line_error(runner.invoke(app, ["check", f"{bad}:make"]))
    assert "NameError" in line and "line 2" in line
    syntax = tmp_path / "syntax.py"
    syntax.write_text("def make(:\n    pass\n")
    line = one_line_error(runner.invoke(app, ["check", f"{syntax}:make"]))
    assert "syntax error at line 1" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["check"], "Missing argument"),
        (["check", "m.py:f", "--mode", "everything"], "'everything' is not one of"),
        (["check", "m.py:f", "--eps", "abc"], "Invalid value for '--eps'"),
        (["check", "m.py:f", "--bogus"], "No such option"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], expected: str) -> None:
    line = one_line_error(runner.invoke(app, args))
    assert expected in line
    assert "--help" in line


def test_nonpositive_eps_exit_2(model_file: Path) -> None:
    line = one_line_error(runner.invoke(app, ["check", f"{model_file}:make", "--eps", "-1"]))
    assert "--eps must be a positive step" in line


def test_check_pytorch_model(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "torch_model.py"
    path.write_text(TORCH_MODEL)
    good = runner.invoke(app, ["check", f"{path}:make"])
    assert good.exit_code == 0, good.output
    assert "gradcheck OK" in good.stdout
    bad = runner.invoke(app, ["check", f"{path}:make_buggy", "--mode", "full"])
    assert bad.exit_code == 1, bad.output
    first = bad.stdout.splitlines()[0]
    # the doubled tanh backward reaches layer 0's weight and bias, not layer 1's
    assert "WRONG" in first and "0." in first
    rows = {l.split()[0]: l for l in bad.stdout.splitlines()[3:] if l.strip()}
    assert "WRONG" in rows["0.weight"] and "WRONG" not in rows["1.weight"]


# ------------------------------------------------------------------------------------ doctor
DOCTOR_MODEL = textwrap.dedent(
    """
    import numpy as np
    import trainready as tr

    X = np.random.default_rng(0).standard_normal((256, 32))

    def healthy():
        return tr.nn.MLP([32] + [128] * 20 + [1], activation="relu", output="linear",
                         init="he", rng=0), X

    def vanishing():
        return tr.nn.MLP([32] + [128] * 30 + [1], activation="relu", output="linear",
                         init="lecun", rng=0), X

    def unscaled():
        net = tr.nn.MLP([32, 64, 1], activation="relu", output="linear", init="he", rng=0)
        return net, X * np.logspace(-3, 3, 32) + 100.0, np.zeros(256)

    def not_a_model():
        return "net", X
    """
)


@pytest.fixture
def doctor_file(tmp_path: Path) -> Path:
    path = tmp_path / "nets.py"
    path.write_text(DOCTOR_MODEL)
    return path


def test_doctor_healthy_exits_0(doctor_file: Path) -> None:
    result = runner.invoke(app, ["doctor", f"{doctor_file}:healthy"])
    assert result.exit_code == 0, result.output
    assert "healthy across 21 layers" in result.stdout
    assert "input audit" in result.stdout and ": ok" in result.stdout


def test_doctor_vanishing_exits_1_with_verified_fix(doctor_file: Path) -> None:
    result = runner.invoke(app, ["doctor", f"{doctor_file}:vanishing"])
    assert result.exit_code == 1, result.output
    assert "vanishing" in result.stdout
    assert "fix (verified)" in result.stdout and "he_normal" in result.stdout


def test_doctor_unscaled_inputs_json(doctor_file: Path) -> None:
    result = runner.invoke(app, ["doctor", f"{doctor_file}:unscaled", "--json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert "scale_mismatch" in [f["kind"] for f in data["audit"]["findings"]]
    assert "unnormalized_input" in [f["kind"] for f in data["findings"]]
    assert len(data["layers"]) == 2


def test_doctor_errors(doctor_file: Path) -> None:
    line = one_line_error(runner.invoke(app, ["doctor", f"{doctor_file}:not_a_model"]))
    assert "the doctor needs a trainready.nn.MLP" in line
    line = one_line_error(runner.invoke(app, ["doctor", f"{doctor_file}:missing"]))
    assert "has no function 'missing'" in line


# --------------------------------------------------------------------------------- normalize
def test_normalize_csv_round_trip_matches_sklearn(tmp_path: Path) -> None:
    sklearn_pre = pytest.importorskip("sklearn.preprocessing")
    rng = np.random.default_rng(1)
    X = np.c_[rng.normal(5e3, 1e3, 200), rng.normal(0, 1e-3, 200), rng.normal(-3, 2, 200)]
    train = tmp_path / "train.csv"
    train.write_text(
        "area,ratio,score\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in X)
    )
    test_X = X[:50] * 1.1
    test = tmp_path / "test.npy"
    np.save(test, test_X)

    fit = runner.invoke(app, ["normalize", "fit", str(train), "-o", str(tmp_path / "sc.json")])
    assert fit.exit_code == 0, fit.output
    assert "StandardScaler on 200 rows x 3 features" in fit.stdout
    assert "scale_mismatch" in fit.stdout  # the audit of the raw file

    out = tmp_path / "test_scaled.npy"
    tr = runner.invoke(
        app, ["normalize", "transform", str(test), "-s", str(tmp_path / "sc.json"), "-o", str(out)]
    )
    assert tr.exit_code == 0, tr.output
    oracle = sklearn_pre.StandardScaler().fit(X).transform(test_X)
    np.testing.assert_allclose(np.load(out), oracle, rtol=1e-12, atol=1e-12)

    # csv -> csv keeps the header; --inverse undoes it
    tr = runner.invoke(app, ["normalize", "transform", str(train), "-s", str(tmp_path / "sc.json")])
    assert tr.exit_code == 0, tr.output
    scaled = tmp_path / "train.scaled.csv"
    assert scaled.read_text().splitlines()[0] == "area,ratio,score"
    back = runner.invoke(
        app,
        [
            "normalize",
            "transform",
            str(scaled),
            "-s",
            str(tmp_path / "sc.json"),
            "--inverse",
            "-o",
            str(tmp_path / "back.csv"),
        ],
    )
    assert back.exit_code == 0, back.output
    restored = np.loadtxt(tmp_path / "back.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(restored, X, rtol=1e-12)


def test_normalize_minmax_npz(tmp_path: Path) -> None:
    X = np.random.default_rng(2).uniform(-5, 50, (100, 4))
    data = tmp_path / "x.npy"
    np.save(data, X)
    fit = runner.invoke(
        app,
        [
            "normalize",
            "fit",
            str(data),
            "--kind",
            "minmax",
            "--range",
            "-1",
            "1",
            "-o",
            str(tmp_path / "mm.npz"),
        ],
    )
    assert fit.exit_code == 0, fit.output
    res = runner.invoke(app, ["normalize", "transform", str(data), "-s", str(tmp_path / "mm.npz")])
    assert res.exit_code == 0, res.output
    Z = np.load(tmp_path / "x.scaled.npy")
    expected = -1 + 2 * (X - X.min(0)) / (X.max(0) - X.min(0))
    np.testing.assert_allclose(Z, expected, rtol=1e-12, atol=1e-12)


def test_normalize_errors(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.ones((5, 2)))
    (tmp_path / "words.csv").write_text("a,b\n1,x\n")
    (tmp_path / "x.txt").write_text("1,2\n")
    cases = [
        (["normalize", "fit", str(tmp_path / "none.csv")], "does not exist"),
        (["normalize", "fit", str(tmp_path / "x.txt")], "unsupported extension"),
        (
            ["normalize", "fit", str(tmp_path / "words.csv")],
            "row 2, column 2 ('b') holds 'x', not a number",
        ),
        (
            ["normalize", "fit", str(tmp_path / "x.npy"), "-o", str(tmp_path / "s.pkl")],
            ".npz or .json",
        ),
        (
            ["normalize", "transform", str(tmp_path / "x.npy"), "-s", str(tmp_path / "no.npz")],
            "create it first",
        ),
        (["normalize", "fit", str(tmp_path / "x.npy"), "--kind", "robust"], "is not one of"),
    ]
    for args, expected in cases:
        assert expected in one_line_error(runner.invoke(app, args)), args
    # a scaler fitted on 2 features applied to 3
    np.save(tmp_path / "three.npy", np.ones((4, 3)))
    # constant features: the warning is a note of the report on stdout, not an extra stderr line
    fit = runner.invoke(
        app, ["normalize", "fit", str(tmp_path / "x.npy"), "-o", str(tmp_path / "s.npz")]
    )
    assert fit.exit_code == 0, fit.output
    assert "note: ConstantFeatureWarning" in fit.stdout and fit.stderr == ""
    line = one_line_error(
        runner.invoke(
            app,
            ["normalize", "transform", str(tmp_path / "three.npy"), "-s", str(tmp_path / "s.npz")],
        )
    )
    assert "3" in line and "2" in line


# -------------------------------------------------------------------------------- help, main
@pytest.mark.parametrize(
    "command",
    [
        [],
        ["demo"],
        ["check"],
        ["doctor"],
        ["normalize"],
        ["normalize", "fit"],
        ["normalize", "transform"],
    ],
)
def test_every_help_shows_an_example(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout
    assert "trainready " in result.stdout


def test_python_dash_m_trainready() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "trainready", "check", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "FILE.py:FUNC" in proc.stdout


def test_console_script_exit_codes(model_file: Path) -> None:
    exe = Path(sys.executable).with_name("trainready")
    if not exe.exists():
        pytest.skip("the trainready console script is not installed next to this Python")
    ok = subprocess.run(
        [str(exe), "check", f"{model_file}:make"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    bad = subprocess.run(
        [str(exe), "check", f"{model_file}:make_buggy"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    usage = subprocess.run(
        [str(exe), "check", "nowhere.py:make"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (ok.returncode, bad.returncode, usage.returncode) == (0, 1, 2)
    assert usage.stderr.count("\n") == 1 and "Traceback" not in usage.stderr


def test_doctor_pytorch_module(tmp_path: Path) -> None:
    """PyTorch's default Linear init (U(±1/sqrt(n)), Var = 1/(3n)) before ReLUs vanishes."""
    pytest.importorskip("torch")
    tr_torch = pytest.importorskip("trainready.torch")
    if not hasattr(tr_torch, "diagnose"):
        pytest.skip("trainready.torch.diagnose is not available")
    path = tmp_path / "tnet.py"
    path.write_text(
        textwrap.dedent(
            """
            import torch

            def make():
                torch.manual_seed(0)
                layers = [torch.nn.Linear(32, 128), torch.nn.ReLU()]
                for _ in range(19):
                    layers += [torch.nn.Linear(128, 128), torch.nn.ReLU()]
                return torch.nn.Sequential(*layers, torch.nn.Linear(128, 1)), torch.randn(256, 32)
            """
        )
    )
    result = runner.invoke(app, ["doctor", f"{path}:make"])
    assert result.exit_code == 1, result.output
    assert "vanishing" in result.stdout and "fix (verified)" in result.stdout
