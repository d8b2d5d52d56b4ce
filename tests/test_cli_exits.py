"""Exit codes under abuse (issue 11, items 5 and 6): 1 means a verdict and nothing else; user code
that exits or raises, bad output paths and bad arguments are exit 2 with one line on stderr that
names what failed -- for the user's code its exception type, message, file and line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trainready.cli import app

runner = CliRunner()

USER = textwrap.dedent(
    """
    import sys
    import numpy as np

    P = {"W": np.arange(6.0).reshape(2, 3) / 10, "b": np.ones(2)}
    X = np.linspace(-1, 1, 12).reshape(4, 3)

    def cost(p):
        return float(np.sum((X @ p["W"].T + p["b"]) ** 2))

    def backprop(p):
        r = 2 * (X @ p["W"].T + p["b"])
        return {"W": r.T @ X, "b": r.sum(0)}

    def good():
        return cost, P, backprop

    def doubled():
        return cost, P, lambda p: {k: 2 * v for k, v in backprop(p).items()}

    def exits_0():
        sys.exit(0)

    def exits_3():
        sys.exit(3)

    def loss_exits_0():
        def loss(p):
            sys.exit(0)
        return loss, P, backprop

    def grads_exit_0():
        def grads(p):
            sys.exit(0)
        return cost, P, grads

    def loss_attribute_error():
        def loss(p):
            return p.total
        return loss, P, backprop

    def loss_memory_error():
        def loss(p):
            raise MemoryError()
        return loss, P, backprop

    def grads_index_error():
        def grads(p):
            return {"W": p["W"][7], "b": p["b"]}
        return cost, P, grads

    def loss_keyboard_interrupt():
        def loss(p):
            raise KeyboardInterrupt
        return loss, P, backprop

    def warns_then_fails():
        import warnings
        def loss(p):
            warnings.warn("loss is approximate", RuntimeWarning)
            raise ValueError("no data")
        return loss, P, backprop
    """
)


def lineno(text: str, needle: str) -> int:
    """1-based line of the first line of ``text`` containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "user.py"
    path.write_text(USER)
    return path


def one_line_error(result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


# ----------------------------------------------------------------------------- verdicts only
def test_exit_1_is_a_verdict(user_file: Path) -> None:
    assert runner.invoke(app, ["check", f"{user_file}:good"]).exit_code == 0
    bad = runner.invoke(app, ["check", f"{user_file}:doubled"])
    assert bad.exit_code == 1 and "WRONG" in bad.stdout and bad.stderr == ""


# ---------------------------------------------------------------------- 11.5: code that exits
@pytest.mark.parametrize(
    ("func", "needle"),
    [
        ("exits_0", "    sys.exit(0)"),
        ("exits_3", "    sys.exit(3)"),
        ("loss_exits_0", "        sys.exit(0)"),
        ("grads_exit_0", "        sys.exit(0)"),
    ],
)
def test_sys_exit_in_user_code_is_exit_2(user_file: Path, func: str, needle: str) -> None:
    line = one_line_error(runner.invoke(app, ["check", f"{user_file}:{func}"]))
    code = "3" if func == "exits_3" else "0"
    assert f"called sys.exit({code})" in line
    # the deepest line of the user's file that matches (the nested def for the inner exits)
    expected = [i for i, t in enumerate(USER.splitlines(), start=1) if t == needle]
    if func == "loss_exits_0":
        expected = [lineno(USER, "def loss_exits_0") + 2]
    if func == "grads_exit_0":
        expected = [lineno(USER, "def grads_exit_0") + 2]
    assert f"user.py, line {expected[0]}" in line, line


def test_sys_exit_at_import_is_exit_2(tmp_path: Path) -> None:
    for code in (0, 3):
        path = tmp_path / f"exits{code}.py"
        path.write_text(f"import sys\nsys.exit({code})\n")
        for command in ("check", "doctor"):
            line = one_line_error(runner.invoke(app, [command, f"{path}:make"]))
            assert f"importing exits{code}.py called sys.exit({code})" in line
            assert "line 2" in line


def test_sys_exit_in_doctor_forward_is_exit_2(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "net.py"
    path.write_text(
        textwrap.dedent(
            """
            import sys
            import torch

            class Quits(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.lin = torch.nn.Linear(4, 2)

                def forward(self, x):
                    sys.exit(0)

            def make():
                return Quits(), torch.randn(8, 4)
            """
        )
    )
    line = one_line_error(runner.invoke(app, ["doctor", f"{path}:make"]))
    assert "called sys.exit(0)" in line and "net.py, line 11" in line


# ------------------------------------------------------------ 11.6: exceptions in user code
@pytest.mark.parametrize(
    ("func", "kind", "needle"),
    [
        (
            "loss_attribute_error",
            "AttributeError: 'dict' object has no attribute 'total'",
            "return p.total",
        ),
        ("loss_memory_error", "MemoryError", "raise MemoryError()"),
        ("grads_index_error", "IndexError: index 7 is out of bounds", 'p["W"][7]'),
    ],
)
def test_exception_in_user_code_names_type_message_file_and_line(
    user_file: Path, func: str, kind: str, needle: str
) -> None:
    line = one_line_error(runner.invoke(app, ["check", f"{user_file}:{func}"]))
    assert kind in line
    assert f"user.py, line {lineno(USER, needle)}" in line


def test_ctrl_c_in_user_code_is_130_with_one_line(user_file: Path) -> None:
    result = runner.invoke(app, ["check", f"{user_file}:loss_keyboard_interrupt"])
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines() == ["aborted (Ctrl-C): nothing was written"]


def test_warnings_join_the_one_line(user_file: Path) -> None:
    line = one_line_error(runner.invoke(app, ["check", f"{user_file}:warns_then_fails"]))
    assert "ValueError: no data" in line
    assert "RuntimeWarning: loss is approximate" in line


def test_torch_runtime_error_in_doctor_is_exit_2(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "net.py"
    path.write_text(
        textwrap.dedent(
            """
            import torch

            def make():
                model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(),
                                            torch.nn.Linear(8, 1))
                return model, torch.randn(16, 3)
            """
        )
    )
    line = one_line_error(runner.invoke(app, ["doctor", f"{path}:make"]))
    # the adapter names the argument and the shape it needs, and quotes torch
    assert "X: expected a batch that the model accepts" in line and "cannot be multiplied" in line


def test_a_bug_in_trainready_is_one_line_exit_2(
    user_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception from trainready itself (injected here) is one line too, exit 2, never 1."""
    gc = sys.modules["trainready.gradcheck"]  # tr.gradcheck is also the function's name

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("injected")

    with monkeypatch.context() as m:  # inside the check: named as what failed
        m.setattr(gc, "gradcheck", broken)
        line = one_line_error(runner.invoke(app, ["check", f"{user_file}:good"]))
        assert "checking the gradients raised ZeroDivisionError: injected" in line
        assert "user.py, line" not in line  # no frame of the user's file: not blamed on it

    from trainready.gradcheck import GradcheckReport

    def broken_str(self: object) -> str:
        raise ZeroDivisionError("injected in rendering")

    monkeypatch.setattr(GradcheckReport, "__str__", broken_str)
    line = one_line_error(runner.invoke(app, ["check", f"{user_file}:good"]))
    assert "trainready failed: ZeroDivisionError: injected in rendering" in line
    assert "please report it" in line and "TRAINREADY_TRACEBACK=1" in line
    monkeypatch.setenv("TRAINREADY_TRACEBACK", "1")
    with pytest.raises(ZeroDivisionError):
        runner.invoke(app, ["check", f"{user_file}:good"], catch_exceptions=False)


# ------------------------------------------------------ output paths and arguments, up front
def test_demo_bad_seed_and_out_fail_before_any_work(tmp_path: Path) -> None:
    line = one_line_error(runner.invoke(app, ["demo", "--seed", "-1", "--quick"]))
    assert "--seed" in line
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    cases = [
        (str(a_file), "is a file"),
        (str(a_file / "report"), "is a file"),
        ("/proc/trainready-report", "cannot write"),  # unwritable even for root
    ]
    for out, expected in cases:
        res = runner.invoke(app, ["demo", "--quick", "--out", out])
        assert expected in one_line_error(res), out
        assert res.stdout == ""  # nothing started: not even the banner


def test_normalize_output_paths_checked_before_reading(tmp_path: Path) -> None:
    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(0).normal(size=(20, 2)))
    folder = tmp_path / "dir.npz"
    folder.mkdir()
    cases = [
        (["normalize", "fit", str(data), "-o", str(tmp_path)], "is a folder"),
        (["normalize", "fit", str(data), "-o", str(folder)], "is a folder"),
        (["normalize", "fit", str(data), "-o", "/proc/scaler.npz"], "cannot write"),
        (["normalize", "fit", str(data), "-o", str(tmp_path / "no" / "s.npz")], "does not exist"),
    ]
    for args, expected in cases:
        assert expected in one_line_error(runner.invoke(app, args)), args
    fit = runner.invoke(app, ["normalize", "fit", str(data), "-o", str(tmp_path / "s.npz")])
    assert fit.exit_code == 0, fit.output
    for out, expected in [(str(tmp_path), "is a folder"), ("/proc/z.npy", "cannot write")]:
        args = ["normalize", "transform", str(data), "-s", str(tmp_path / "s.npz"), "-o", out]
        assert expected in one_line_error(runner.invoke(app, args)), out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.npz", "s.npz", "x.npy"]


def test_subprocess_exit_codes_for_exits(user_file: Path) -> None:
    """The real entry point: sys.exit(0) in user code must not read as success."""
    proc = subprocess.run(
        [sys.executable, "-m", "trainready", "check", f"{user_file}:loss_exits_0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1
