"""``trainready doctor FILE.py:FUNC``: the signal doctor and the input audit on a user's model."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

import typer

from ._common import UsageProblem, call_target, help_text, one_line

EXAMPLE = "trainready doctor model.py:make_model"

HELP = help_text(f"""
Diagnose what your model does to the signal, layer by layer, and audit its inputs.

FUNC takes no arguments and returns [bold](model, X)[/bold] or [bold](model, X, y)[/bold]: a
network (trainready.nn.MLP, or any object with params, activations and output; a torch.nn.Module
when trainready.torch supports it) and a representative batch X of shape (n_samples, n_features).
The doctor reports vanishing or exploding activations and gradients, dead ReLUs, saturated units,
identical units and unnormalized inputs, each with a fix it has verified by re-running with it.

Exit code 0: nothing found; 1: findings (listed with their fixes); 2: a usage or input error.

[bold]Example:[/bold] {EXAMPLE}

[dim]# model.py
def make_model():
    net = trainready.nn.MLP([64] + [256] * 20 + [10], output="softmax", init="lecun")
    return net, X_batch[/dim]
""")


def _is_torch_module(obj: Any) -> bool:
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def run_doctor(target: str, seed: int) -> tuple[Any, Any, str]:
    """Call the target and diagnose; return ``(diagnosis, audit, "file.py:func")``."""
    value, where = call_target(target, EXAMPLE)
    if not isinstance(value, tuple | list) or len(value) not in (2, 3):
        n = f"{len(value)} items" if isinstance(value, tuple | list) else type(value).__name__
        raise UsageProblem(f"{where}() must return (model, X) or (model, X, y); it returned {n}")
    model, X = value[0], value[1]
    y = value[2] if len(value) == 3 else None
    try:
        if _is_torch_module(model):
            try:
                from ..torch import diagnose as torch_diagnose
            except ImportError as exc:
                raise UsageProblem(
                    f"diagnosing a PyTorch model needs trainready.torch.diagnose "
                    f"({one_line(str(exc), 160)})"
                ) from None
            diag = torch_diagnose(model, X, y, rng=seed)
        else:
            if not all(hasattr(model, a) for a in ("params", "activations", "output")):
                raise UsageProblem(
                    f"{where}() returned a model of type {type(model).__name__}; the doctor needs "
                    "a trainready.nn.MLP (or an object with params, activations and output) or a "
                    "torch.nn.Module"
                )
            from ..signal import diagnose

            diag = diagnose(model, X, y, rng=seed)
    except UsageProblem:
        raise
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        raise UsageProblem(f"{where}: {one_line(str(message))}") from None
    audit = getattr(diag, "audit", None)
    if audit is None:
        from ..normalize import audit as run_audit

        audit = run_audit(X)
    return diag, audit, where


def register(app: typer.Typer, guard: Callable[..., Any]) -> None:
    """Add the ``doctor`` command to ``app``."""

    @app.command("doctor", help=HELP, epilog=f"Example: {EXAMPLE} --json")
    def doctor(
        target: Annotated[
            str,
            typer.Argument(
                metavar="FILE.py:FUNC", help="The file and the function that returns the model."
            ),
        ],
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the findings as JSON.")
        ] = False,
        seed: Annotated[
            int, typer.Option("--seed", help="Seed of the probe gradient and the re-runs.")
        ] = 0,
    ) -> None:
        diag, audit, where = guard(run_doctor, target, seed)
        healthy = diag.ok and audit.ok
        if as_json:
            out = {
                "target": where,
                "ok": healthy,
                "findings": [f.to_dict() for f in diag.findings],
                "audit": audit.to_dict(),
                "layers": [
                    {k: v for k, v in layer.to_dict().items()} for layer in diag.record.layers
                ],
            }
            typer.echo(json.dumps(out, indent=2, default=_jsonable))
        else:
            typer.echo(f"{where}: {diag}")
            typer.echo(str(audit))
        raise typer.Exit(0 if healthy else 1)


def _jsonable(x: Any) -> Any:
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, float):
        return None
    return str(x)
