"""``trainready check FILE.py:FUNC``: gradient-check a user's model."""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

import typer

from ._common import UsageProblem, guard, help_text, is_jax, is_torch, one_line
from ._progress import job_bar
from ._render import print_gradcheck
from ._typer import Command
from ._user import Target, call_target, user_code

EXAMPLE = "trainready check model.py:make_problem"

HELP = help_text(f"""Gradient-check your model's backprop against numeric differences.

FUNC takes no arguments and returns [bold](loss, params, grads)[/bold] for NumPy -- loss(params)
-> float is the whole cost, params a dict name -> array, grads a dict of the same names (or a
function params -> dict) -- [bold](loss_fn, module)[/bold] for PyTorch, where loss_fn() returns
the scalar loss tensor of the module's current parameters -- or [bold](loss_fn, params)[/bold] for
JAX, where loss_fn(params) returns the scalar loss and params is a pytree of jax arrays or a
flax.nnx.Module (the analytic side is jax.grad of loss_fn).

Exit code 0: the gradients are right; 1: a bug was found (the table names the parameter, the
worst element and the pattern); 2: anything else (a usage error, bad input, your code raising or
exiting), in one line.

[bold]Example:[/bold] {EXAMPLE} --mode full (or --json for a machine-readable report)

[dim]# model.py
def make_problem():
    X, y, params = ...
    loss = lambda p: cost(p, X, y)
    grads = lambda p: backprop(p, X, y)
    return loss, params, grads[/dim]
""")


class Mode(StrEnum):
    auto = "auto"
    full = "full"
    sample = "sample"
    probe = "probe"


def _run(where: Target, check: Any, *args: Any, **options: Any) -> Any:
    """``check(*args, **options)`` with a progress bar, errors said as the user's code's."""
    with (
        job_bar(f"checking {where.label}: loss calls") as tick,
        user_code(where.path, f"{where.label}: checking the gradients"),
    ):
        return check(*args, **options, progress=tick)


def _numpy_problem(value: tuple[Any, ...], where: Target, options: dict[str, Any]) -> Any:
    loss, params, grads = value
    if not callable(loss):
        raise UsageProblem(
            f"{where.label}() returned (loss, params, grads) whose loss is a "
            f"{type(loss).__name__}; it must be a function params -> float"
        )
    if not isinstance(params, Mapping):
        raise UsageProblem(
            f"{where.label}() returned params of type {type(params).__name__}; it must be a "
            "dict name -> array, e.g. {'W1': W1, 'b1': b1}"
        )
    from ..gradcheck import gradcheck

    return _run(where, gradcheck, loss, params, grads, **options)


def _torch_problem(value: tuple[Any, ...], where: Target, options: dict[str, Any]) -> Any:
    loss_fn, module = value
    if (
        isinstance(module, Mapping)
        and module
        and not any(is_torch(v, "Tensor") or is_torch(v) for v in module.values())
    ):
        kinds = sorted({type(v).__name__ for v in module.values()})
        raise UsageProblem(
            f"{where.label}() returned 2 items, a function and a dict of {', '.join(kinds)}: a "
            "NumPy problem is (loss, params, grads) -- return the gradients too (a dict of the "
            "same names, or a function params -> dict); (loss_fn, module) is for PyTorch"
        )
    if not callable(loss_fn):
        raise UsageProblem(
            f"{where.label}() returned (loss_fn, module) whose loss_fn is a "
            f"{type(loss_fn).__name__}; it must be a function () -> scalar tensor"
        )
    if not is_torch(module) and not isinstance(module, Mapping | list | tuple):
        raise UsageProblem(
            f"{where.label}() returned (loss_fn, {type(module).__name__}); the second item must "
            "be a torch.nn.Module (or a dict of tensors), or a pytree of jax arrays for JAX; a "
            "NumPy problem is (loss, params, grads)"
        )
    try:
        from ..torch import gradcheck as torch_gradcheck
    except ImportError as exc:
        raise UsageProblem(
            f"checking a PyTorch model needs trainready.torch ({one_line(str(exc), 160)})"
        ) from None
    return _run(where, torch_gradcheck, loss_fn, module, **options)


def _jax_problem(value: tuple[Any, ...], where: Target, options: dict[str, Any]) -> Any:
    loss_fn, params = value
    if not callable(loss_fn):
        raise UsageProblem(
            f"{where.label}() returned (loss_fn, params) whose loss_fn is a "
            f"{type(loss_fn).__name__}; it must be a function params -> scalar (JAX)"
        )
    try:
        from ..jax import gradcheck as jax_gradcheck
    except ImportError as exc:
        raise UsageProblem(
            f"checking a JAX model needs trainready.jax ({one_line(str(exc), 160)})"
        ) from None
    return _run(where, jax_gradcheck, loss_fn, params, **options)


def run_check(target: str, mode: str, eps: float | None, seed: int) -> tuple[Any, Target]:
    """Call the target, run the right gradcheck, return ``(report, Target)``."""
    value, where = call_target(target, EXAMPLE)
    if not isinstance(value, tuple | list) or len(value) not in (2, 3):
        got = (
            f"{len(value)} items"
            if isinstance(value, tuple | list)
            else f"a {type(value).__name__}"
        )
        raise UsageProblem(
            f"{where.label}() must return (loss, params, grads) for NumPy, (loss_fn, module) "
            f"for PyTorch or (loss_fn, params) for JAX; it returned {got}"
        )
    options: dict[str, Any] = {"mode": mode, "eps": eps, "rng": seed}
    if len(value) == 3:
        return _numpy_problem(tuple(value), where, options), where
    if is_jax(value[1]):
        return _jax_problem(tuple(value), where, options), where
    return _torch_problem(tuple(value), where, options), where


def register(app: typer.Typer) -> None:
    """Add the ``check`` command to ``app``."""

    @app.command("check", help=HELP, cls=Command)
    def check(
        target: Annotated[
            str,
            typer.Argument(
                metavar="FILE.py:FUNC",
                help="The file and the function that builds the problem.",
                show_default=False,
            ),
        ],
        mode: Annotated[
            Mode,
            typer.Option(
                "--mode",
                "-m",
                help="full: every element; sample: a few per tensor; probe: random directions "
                "(millions of parameters); auto: full up to 2000 parameters, else probe.",
            ),
        ] = Mode.auto,
        eps: Annotated[
            float | None,
            typer.Option(
                "--eps",
                help="Force the textbook central difference with this step (default: automatic "
                "steps from the loss's measured noise).",
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
        seed: Annotated[
            int, typer.Option("--seed", min=0, help="Seed of the sampled elements and probes.")
        ] = 0,
    ) -> None:
        if eps is not None and not eps > 0:
            guard(_bad_eps, eps)
        (report, where), notes = guard(run_check, target, mode.value, eps, seed)
        if as_json:
            out = report.to_dict()
            out["target"] = where.label
            out["notes"] = list(notes)
            typer.echo(json.dumps(out, indent=2))
        else:
            print_gradcheck(report, where.label, notes)
        raise typer.Exit(0 if report.passed else 1)


def _bad_eps(eps: float) -> None:
    raise UsageProblem(f"--eps must be a positive step such as 1e-6; got {eps:g}")
