"""``trainready check FILE.py:FUNC``: gradient-check a user's model."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Annotated, Any

import typer

from ._common import UsageProblem, call_target, help_text, one_line

EXAMPLE = "trainready check model.py:make_problem"

HELP = help_text(f"""Gradient-check your model's backprop against numeric differences.

FUNC takes no arguments and returns [bold](loss, params, grads)[/bold] for NumPy -- loss(params)
-> float is the whole cost, params a dict name -> array, grads a dict of the same names (or a
function params -> dict) -- or [bold](loss_fn, module)[/bold] for PyTorch, where loss_fn() returns
the scalar loss tensor of the module's current parameters.

Exit code 0: the gradients are right; 1: a bug was found (the table names the parameter, the
worst element and the pattern); 2: a usage or input error.

[bold]Example:[/bold] {EXAMPLE} --mode full

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


def _is_torch_module(obj: Any) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def run_check(
    target: str, mode: str, eps: float | None, as_json: bool, seed: int
) -> tuple[Any, str]:
    """Call the target, run the right gradcheck, return ``(report, "file.py:func")``."""
    value, where = call_target(target, EXAMPLE)
    if not isinstance(value, tuple | list):
        raise UsageProblem(
            f"{where}() must return (loss, params, grads) for NumPy or (loss_fn, module) for "
            f"PyTorch; it returned a {type(value).__name__}"
        )
    options: dict[str, Any] = {"mode": mode, "eps": eps, "rng": seed}
    try:
        if len(value) == 3:
            loss, params, grads = value
            if not callable(loss):
                raise UsageProblem(
                    f"{where}() returned (loss, params, grads) whose loss is a "
                    f"{type(loss).__name__}; it must be a function params -> float"
                )
            if not isinstance(params, Mapping):
                raise UsageProblem(
                    f"{where}() returned params of type {type(params).__name__}; it must be a "
                    "dict name -> array, e.g. {'W1': W1, 'b1': b1}"
                )
            from ..gradcheck import gradcheck

            return gradcheck(loss, params, grads, **options), where
        if len(value) == 2:
            loss_fn, module = value
            if not callable(loss_fn):
                raise UsageProblem(
                    f"{where}() returned (loss_fn, module) whose loss_fn is a "
                    f"{type(loss_fn).__name__}; it must be a function () -> scalar tensor"
                )
            if not _is_torch_module(module) and not isinstance(module, Mapping | list | tuple):
                raise UsageProblem(
                    f"{where}() returned (loss_fn, {type(module).__name__}); the second item must "
                    "be a torch.nn.Module (or a dict of tensors)"
                )
            try:
                from ..torch import gradcheck as torch_gradcheck
            except ImportError as exc:
                raise UsageProblem(
                    f"checking a PyTorch model needs trainready.torch ({one_line(str(exc), 160)})"
                ) from None
            return torch_gradcheck(loss_fn, module, **options), where
    except UsageProblem:
        raise
    except (ValueError, TypeError, KeyError, RuntimeError, ArithmeticError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        raise UsageProblem(f"{where}: {one_line(str(message))}") from None
    raise UsageProblem(
        f"{where}() returned {len(value)} items; return (loss, params, grads) for NumPy or "
        "(loss_fn, module) for PyTorch"
    )


def register(app: typer.Typer, guard: Callable[..., Any]) -> None:
    """Add the ``check`` command to ``app``."""

    @app.command("check", help=HELP, epilog=f"Example: {EXAMPLE} --json")
    def check(
        target: Annotated[
            str,
            typer.Argument(
                metavar="FILE.py:FUNC", help="The file and the function that builds the problem."
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
            int, typer.Option("--seed", help="Seed of the sampled elements and probes.")
        ] = 0,
    ) -> None:
        if eps is not None and not eps > 0:
            guard(_bad_eps, eps)
        report, where = guard(run_check, target, mode.value, eps, as_json, seed)
        if as_json:
            out = report.to_dict()
            out["target"] = where
            typer.echo(json.dumps(out, indent=2))
        else:
            typer.echo(f"{where}: {report}")
        raise typer.Exit(0 if report.passed else 1)


def _bad_eps(eps: float) -> None:
    raise UsageProblem(f"--eps must be a positive step such as 1e-6; got {eps:g}")
