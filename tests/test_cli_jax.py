"""The command line on JAX problems: ``check`` and ``doctor`` with FUNCs that return JAX objects."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trainready.cli import app

pytest.importorskip("jax")

runner = CliRunner()

JAX_MODEL = textwrap.dedent(
    """
    import jax, jax.numpy as jnp

    key = jax.random.key(0)
    X = jax.random.normal(key, (16, 3))
    y = jnp.sin(X[:, 0])
    params = {"dense": {"kernel": 0.5 * jax.random.normal(jax.random.key(1), (3, 4)),
                        "bias": jnp.zeros(4)},
              "out": {"kernel": 0.5 * jax.random.normal(jax.random.key(2), (4, 1))}}

    @jax.custom_vjp
    def act(z):
        return jnp.tanh(z)

    def act_fwd(z):
        return jnp.tanh(z), z

    def act_bwd(z, g):
        return (2.0 * g * (1 - jnp.tanh(z) ** 2),)  # wrong: twice the derivative

    act.defvjp(act_fwd, act_bwd)

    def predict(p, act_fn):
        h = act_fn(X @ p["dense"]["kernel"] + p["dense"]["bias"])
        return (h @ p["out"]["kernel"])[:, 0]

    def make():
        return jax.jit(lambda p: jnp.mean((predict(p, jnp.tanh) - y) ** 2)), params

    def make_buggy():
        return (lambda p: jnp.mean((predict(p, act) - y) ** 2)), params

    def make_not_callable():
        return 3.0, params

    def make_nnx():
        from flax import nnx
        rngs = nnx.Rngs(0)
        model = nnx.Sequential(nnx.Linear(3, 4, rngs=rngs), jnp.tanh, nnx.Linear(4, 1, rngs=rngs))
        return (lambda m: jnp.mean((m(X)[:, 0] - y) ** 2)), model
    """
)


@pytest.fixture
def jax_file(tmp_path: Path) -> Path:
    path = tmp_path / "jax_model.py"
    path.write_text(JAX_MODEL)
    return path


def test_check_jax_pytree_loss_exits_0(jax_file: Path) -> None:
    result = runner.invoke(app, ["check", f"{jax_file}:make", "--mode", "full"])
    assert result.exit_code == 0, result.output
    assert "gradcheck OK" in result.stdout
    assert "dense/kernel" in result.stdout and "out/kernel" in result.stdout


def test_check_jax_wrong_custom_vjp_exits_1_and_names_the_leaves(jax_file: Path) -> None:
    result = runner.invoke(app, ["check", f"{jax_file}:make_buggy", "--mode", "full"])
    assert result.exit_code == 1, result.output
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[3:] if line.strip()}
    # the doubled tanh backward reaches the first layer's kernel and bias, not the output's
    assert "WRONG" in rows["dense/kernel"] and "WRONG" in rows["dense/bias"]
    assert "WRONG" not in rows["out/kernel"]


def test_check_an_nnx_module_names_its_params_by_path(jax_file: Path) -> None:
    pytest.importorskip("flax")
    result = runner.invoke(app, ["check", f"{jax_file}:make_nnx"])
    assert result.exit_code == 0, result.output
    for name in ("layers/0/kernel", "layers/0/bias", "layers/2/kernel", "layers/2/bias"):
        assert name in result.stdout


def test_check_jax_loss_that_is_not_callable_exits_2(jax_file: Path) -> None:
    result = runner.invoke(app, ["check", f"{jax_file}:make_not_callable"])
    assert result.exit_code == 2
    assert "loss_fn is a float" in result.output and "JAX" in result.output


# ------------------------------------------------------------------------------------ doctor
FLAX_MODEL = textwrap.dedent(
    """
    import jax, numpy as np
    from flax import nnx

    X = np.random.default_rng(0).standard_normal((256, 32))
    labels = np.random.default_rng(1).integers(0, 4, 256)

    def deep(n_out):
        rngs = nnx.Rngs(0)  # Flax's default LeCun kernels: half the variance ReLU needs
        body = [m for _ in range(30) for m in (nnx.Linear(32, 32, rngs=rngs), jax.nn.relu)]
        return nnx.Sequential(*body, nnx.Linear(32, n_out, rngs=rngs))

    def vanishing():
        return deep(1), X

    def classes():
        return deep(4), X, labels

    def yours():
        return deep(4), X, labels, lambda out, y: ((out - 1.0) ** 2).mean()

    def healthy():
        rngs = nnx.Rngs(0)
        return nnx.Sequential(nnx.Linear(32, 16, rngs=rngs), jax.nn.tanh,
                              nnx.Linear(16, 1, rngs=rngs)), X
    """
)


@pytest.fixture
def flax_file(tmp_path: Path) -> Path:
    pytest.importorskip("flax")
    path = tmp_path / "flax_model.py"
    path.write_text(FLAX_MODEL)
    return path


def test_doctor_flax_model_finds_vanishing_with_a_verified_fix(flax_file: Path) -> None:
    result = runner.invoke(app, ["doctor", f"{flax_file}:vanishing"])
    assert result.exit_code == 1, result.output
    assert "vanishing" in result.stdout and "fix (verified)" in result.stdout
    assert "trainready.jax.init_" in result.stdout


def test_doctor_flax_model_reads_the_loss_from_y_and_says_so(flax_file: Path) -> None:
    result = runner.invoke(app, ["doctor", f"{flax_file}:classes"])
    assert result.exit_code == 1, result.output
    assert "cross-entropy: y holds integer classes" in result.stdout
    mse = runner.invoke(app, ["doctor", f"{flax_file}:classes", "--loss", "bce"])
    assert mse.exit_code == 2 and "y" in mse.output


def test_doctor_flax_model_with_its_own_loss_fn_and_healthy(flax_file: Path) -> None:
    yours = runner.invoke(app, ["doctor", f"{flax_file}:yours"])
    assert yours.exit_code == 1, yours.output
    assert "your loss_fn" in yours.stdout
    both = runner.invoke(app, ["doctor", f"{flax_file}:yours", "--loss", "mse"])
    assert both.exit_code == 2 and "drop one" in both.output
    healthy = runner.invoke(app, ["doctor", f"{flax_file}:healthy"])
    assert healthy.exit_code == 0, healthy.output
