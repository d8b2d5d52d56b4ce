"""``trainready doctor FILE.py:FUNC``: the signal doctor and the input audit on a user's model."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from ._common import UsageProblem, guard, help_text, is_jax, is_torch, one_line, print_notes
from ._loss import LOSS_OF_OUTPUT, Loss, choose_loss, words
from ._typer import Command
from ._user import Target, call_target, user_code

EXAMPLE = "trainready doctor model.py:make_model"

HELP = help_text(f"""
Diagnose what your model does to the signal, layer by layer, and audit its inputs.

FUNC takes no arguments and returns [bold](model, X)[/bold], [bold](model, X, y)[/bold] or
[bold](model, X, y, loss_fn)[/bold]: a network (a torch.nn.Module, a flax.nnx.Module, or
trainready.nn.MLP) and a representative batch X of shape (n_samples, n_features). Without y the
backward pass starts from a seeded random gradient; with y from the loss, read from y for a
PyTorch or Flax model (integer classes:
cross-entropy; 0/1 with one output: binary cross-entropy; other floats: mean squared error) or
chosen with --loss, and said in the output. The doctor reports vanishing or exploding activations
and gradients, dead ReLUs, saturated units, identical units and unnormalized inputs, each with a
fix it has verified by re-running with it.

Exit code 0: nothing found; 1: findings (listed with their fixes); 2: anything else (a usage
error, bad input, your code raising or exiting), in one line.

[bold]Example:[/bold] {EXAMPLE} --loss cross_entropy (or --json for machine-readable findings)

[dim]# model.py
def make_model():
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))
    return model, X_batch, y_batch[/dim]
""")


@dataclass(frozen=True)
class DoctorResult:
    """What ``doctor`` prints: the diagnosis, the input audit, and the loss it started from."""

    diagnosis: Any
    audit: Any
    where: Target
    loss: str | None  # "cross_entropy", "mse", "bce", "yours" or None (random probe gradient)
    loss_why: str | None


_FRAMEWORK = {"torch": "PyTorch", "jax": "Flax"}


def adapter_diagnose(framework: str, model: Any, X: Any, y: Any, loss: Any, seed: int) -> Any:
    """The one call into ``trainready.torch.diagnose`` or ``trainready.jax.diagnose``."""
    diagnose: Any
    try:
        if framework == "torch":
            from ..torch import diagnose
        else:
            from ..jax import diagnose
    except ImportError as exc:
        raise UsageProblem(
            f"diagnosing a {_FRAMEWORK[framework]} model needs trainready.{framework} "
            f"({one_line(str(exc), 160)})"
        ) from None
    return diagnose(model, X, y, loss=loss, rng=seed)


def _as_tensor_batch(model: Any, X: Any) -> Any:
    """A NumPy batch for a torch model becomes a tensor of the model's dtype (said in a note)."""
    import numpy as np

    from .._arrays import from_numpy

    first = next(iter(model.parameters()), None)
    if not isinstance(X, np.ndarray) or first is None:
        return X
    warnings.warn(
        f"X is a NumPy array: the doctor converted it to a {str(first.dtype).split('.')[-1]} "
        "tensor for the PyTorch model",
        UserWarning,
        stacklevel=2,
    )
    return from_numpy(X.astype(np.float64, copy=False), like=first)


def _run_adapter(
    framework: str, value: tuple[Any, ...], where: Target, loss: str | None, seed: int
) -> DoctorResult:
    model = value[0]
    X = _as_tensor_batch(model, value[1]) if framework == "torch" else value[1]
    y = value[2] if len(value) >= 3 else None
    fn: Any = None
    target: Any = None
    name: str | None = None
    why: str | None = None
    with user_code(where.path, f"{where.label}: diagnosing the model"):
        if len(value) == 4:
            if not callable(value[3]):
                raise UsageProblem(
                    f"{where.label}() returned (model, X, y, loss_fn) whose loss_fn is a "
                    f"{type(value[3]).__name__}; it must be a function (output, y) -> scalar"
                )
            if loss is not None:
                raise UsageProblem(
                    f"--loss {loss} and a loss_fn from {where.label}() both choose the loss; "
                    "drop one"
                )
            fn, target, name, why = value[3], y, "yours", f"your loss_fn from {where.label}()"
        elif y is not None:
            choice = choose_loss(framework, model, X, y, loss)
            fn, target, name, why = choice.fn, choice.target, choice.name, choice.why
        elif loss is not None:
            raise UsageProblem(
                f"--loss {loss} needs a target: return (model, X, y) from {where.label}()"
            )
        diag = adapter_diagnose(framework, model, X, target, fn, seed)
    return DoctorResult(diag, getattr(diag, "audit", None), where, name, why)


def _run_numpy(value: tuple[Any, ...], where: Target, loss: str | None, seed: int) -> DoctorResult:
    model, X = value[0], value[1]
    y = value[2] if len(value) >= 3 else None
    if not all(hasattr(model, a) for a in ("params", "activations", "output")):
        raise UsageProblem(
            f"{where.label}() returned a model of type {type(model).__name__}; the doctor needs "
            "a trainready.nn.MLP (or an object with params, activations and output), a "
            "torch.nn.Module or a flax.nnx.Module"
        )
    if len(value) == 4:
        raise UsageProblem(
            f"{where.label}() returned a loss_fn for a {type(model).__name__}: a loss_fn is for "
            "PyTorch and Flax models; the reference network uses its output's own loss"
        )
    own = LOSS_OF_OUTPUT.get(str(model.output))
    if loss is not None and (y is None or own is None or Loss(loss) is not own):
        raise UsageProblem(
            f"--loss {loss} does not apply: a {type(model).__name__} with a {model.output} "
            f"output trains with {words(own) if own else 'its own loss'}"
            + ("" if y is not None else f", and needs y: return (model, X, y) from {where.label}()")
        )
    from ..signal import diagnose

    with user_code(where.path, f"{where.label}: diagnosing the model"):
        diag = diagnose(model, X, y, rng=seed)
    name = own.value if y is not None and own is not None else None
    why = (
        f"{words(own)}, the loss of the network's {model.output} output"
        if name is not None and own is not None
        else None
    )
    return DoctorResult(diag, getattr(diag, "audit", None), where, name, why)


def run_doctor(target: str, loss: str | None, seed: int) -> DoctorResult:
    """Call the target and diagnose; return the :class:`DoctorResult`."""
    value, where = call_target(target, EXAMPLE)
    if not isinstance(value, tuple | list) or len(value) not in (2, 3, 4):
        n = f"{len(value)} items" if isinstance(value, tuple | list) else type(value).__name__
        raise UsageProblem(
            f"{where.label}() must return (model, X), (model, X, y) or (model, X, y, loss_fn); "
            f"it returned {n}"
        )
    value = tuple(value)
    if is_torch(value[0]):
        result = _run_adapter("torch", value, where, loss, seed)
    elif is_jax(value[0]):
        result = _run_adapter("jax", value, where, loss, seed)
    else:
        result = _run_numpy(value, where, loss, seed)
    if result.audit is None:
        from ..normalize import audit as run_audit

        with user_code(where.path, f"{where.label}: auditing X"):
            result = DoctorResult(
                result.diagnosis, run_audit(value[1]), where, result.loss, result.loss_why
            )
    return result


def _jsonable(x: Any) -> Any:
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, float):
        return None
    return str(x)


def register(app: typer.Typer) -> None:
    """Add the ``doctor`` command to ``app``."""

    @app.command("doctor", help=HELP, cls=Command)
    def doctor(
        target: Annotated[
            str,
            typer.Argument(
                metavar="FILE.py:FUNC", help="The file and the function that returns the model."
            ),
        ],
        loss: Annotated[
            Loss | None,
            typer.Option(
                "--loss",
                help="The loss the backward pass starts from, when FUNC returns y (default: read "
                "from y).",
            ),
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print the findings as JSON.")
        ] = False,
        seed: Annotated[
            int, typer.Option("--seed", min=0, help="Seed of the probe gradient and the re-runs.")
        ] = 0,
    ) -> None:
        res, notes = guard(run_doctor, target, loss.value if loss is not None else None, seed)
        diag, audit = res.diagnosis, res.audit
        healthy = diag.ok and audit.ok
        if as_json:
            out = {
                "target": res.where.label,
                "ok": healthy,
                "loss": res.loss,
                "findings": [f.to_dict() for f in diag.findings],
                "audit": audit.to_dict(),
                "layers": [dict(layer.to_dict()) for layer in diag.record.layers],
                "notes": list(notes),
            }
            typer.echo(json.dumps(out, indent=2, default=_jsonable))
        else:
            typer.echo(f"{res.where.label}: {diag}")
            if res.loss_why is not None:
                typer.echo(f"loss: {res.loss_why}")
            else:
                typer.echo(
                    "loss: none (no y): the backward pass starts from a seeded random gradient"
                )
            typer.echo(str(audit))
            print_notes(notes)
        raise typer.Exit(0 if healthy else 1)
