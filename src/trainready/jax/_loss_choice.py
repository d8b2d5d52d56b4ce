"""Which loss the JAX doctor's backward pass starts from: given, named, or picked from ``y``.

The rule is ``trainready.signal._loss_rule.guess_loss`` (the PyTorch adapter's too), read
from the target and the shape of the model's output: integer classes with K >= 2 outputs ->
cross-entropy; 0/1 values with one output -> binary cross-entropy on logits; other floats with
one value per output -> mean squared error. Each loss is the mean over rows (over every entry
for ``"bce"``/``"mse"``), as PyTorch's ``F.cross_entropy``,
``F.binary_cross_entropy_with_logits`` and ``F.mse_loss``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import describe, invalid
from ..signal._loss_rule import LossChoice, checked_loss, guess_loss, pick_loss

__all__ = ["LOSSES", "LossLike", "choose_loss", "pick_loss", "resolve_loss"]

LossFn = Callable[[Any, Any], Any]
LossLike = LossFn | str | None


def _cross_entropy(out: Any, y: Any) -> Any:
    logp = jax.nn.log_softmax(out, axis=1)
    if jnp.issubdtype(y.dtype, jnp.floating) and y.shape == out.shape:
        return -jnp.mean(jnp.sum(y * logp, axis=1))  # class probabilities
    picked = jnp.take_along_axis(logp, y.astype(jnp.int32).reshape(-1, 1), axis=1)
    return -jnp.mean(picked)


def _bce(out: Any, y: Any) -> Any:
    t = y.reshape(out.shape).astype(out.dtype)
    # softplus(x) - x t: stable, and its derivative is sigmoid(x) - t at x = 0 too (the
    # max(x, 0) + log1p(exp(-|x|)) form has a kink there in JAX's derivative rules)
    return jnp.mean(jnp.logaddexp(out, 0.0) - out * t)


def _mse(out: Any, y: Any) -> Any:
    return jnp.mean((out - y.reshape(out.shape).astype(out.dtype)) ** 2)


#: The losses a name selects (the model's output is taken as logits).
LOSSES: dict[str, LossFn] = {"cross_entropy": _cross_entropy, "mse": _mse, "bce": _bce}


def _check_classes(y: np.ndarray, out_shape: tuple[int, ...]) -> None:
    if y.dtype.kind not in "iub" and not (y.size and np.all(y == np.round(y))):
        return
    if len(out_shape) == 2 and y.ndim == 1 and y.size:
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= out_shape[1]:
            raise invalid(
                "y",
                f"classes 0..{out_shape[1] - 1} (the model has {out_shape[1]} outputs)",
                f"classes {lo}..{hi}",
                "pass integer labels from 0, or a model with one output per class",
            )


def resolve_loss(loss: LossLike, out_shape: tuple[int, ...], y: np.ndarray) -> LossFn:
    """The callable for ``loss``: a callable, a name of :data:`LOSSES`, or None (picked).

    Example:
        >>> float(resolve_loss("mse", (2, 1), np.ones((2, 1)))(jnp.zeros((2, 1)), jnp.ones(2)))
        1.0
    """
    loss = checked_loss(
        pick_loss(out_shape, y) if loss is None else loss,
        LOSSES,
        "lambda out, y: optax.softmax_cross_entropy(out, y).mean()",
    )
    if not isinstance(loss, str):
        return cast(LossFn, loss)
    if loss == "cross_entropy":
        _check_classes(y, out_shape)
    elif y.size != math.prod(out_shape):
        raise invalid(
            "y",
            f"one value per output for loss={loss!r} (the output has shape {out_shape})",
            f"shape {y.shape}",
            "pass y shaped like the model's output",
        )
    return LOSSES[loss]


_WHY = {
    "cross_entropy": "cross-entropy: y holds integer classes for the output's {k} columns",
    "bce": "binary cross-entropy on logits: y holds 0/1 for one output",
    "mse": "mean squared error: y holds real values shaped like the output {shape}",
}


def choose_loss(model: Any, X: Any, y: Any, requested: str | None) -> LossChoice:
    """Pick (or check the requested) loss for ``model(X)`` and ``y``, saying which and why.

    The counterpart of :func:`trainready.torch.choose_loss` (the CLI's ``doctor --loss``):
    the output's shape comes from one forward pass of a copy (``nnx.clone``), so the model's
    own state (batch statistics, RNG counts) is left as it was.

    Example:
        >>> from flax import nnx
        >>> model = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
        >>> choice = choose_loss(model, np.ones((4, 2)), [0, 2, 1, 0], None)
        >>> choice.name, choice.why.split(":")[0]
        ('cross_entropy', 'cross-entropy')
    """
    from flax import nnx

    out = nnx.clone(model)(jnp.asarray(X))
    if not isinstance(out, jax.Array):
        raise ValueError(
            f"the model returns {describe(out)}, not one array; return (model, X, y, loss_fn) "
            "with loss_fn(output, y) -> scalar"
        )
    shape = tuple(out.shape)
    t = np.asarray(y)
    picked = requested if requested is not None else guess_loss(t, shape)
    if picked is None:
        raise ValueError(
            f"cannot tell the loss from y ({t.dtype}, shape {t.shape}) and the output (shape "
            f"{shape}): pass --loss cross_entropy, mse or bce, or return (model, X, y, loss_fn)"
        )
    fn = resolve_loss(picked, shape, t)
    how = "chosen with --loss" if requested is not None else "read from y; --loss to choose"
    why = _WHY[picked].format(k=shape[-1] if shape else 1, shape=shape)
    return LossChoice(picked, fn, t, f"{why} ({how})")
