"""LSUV (Mishkin & Matas 2016), written once over a small layer-wise-model protocol.

A :class:`LayerwiseModel` is a model seen one layer at a time: the NumPy reference network
provides one (``trainready.nn.MLP.layerwise(X)``), and so does ``trainready.torch`` for any
``nn.Module`` (forward hooks). :func:`run_lsuv` is the algorithm; :func:`lsuv_` is the NumPy entry
point and ``trainready.torch.lsuv_`` the PyTorch one; both return the same :class:`LsuvTable`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from .._results import HtmlFromSummary
from .._rng import RngLike, as_generator
from .._validation import check_int, check_real, warn
from ..errors import ConvergenceWarning
from ._draw import orthogonal

__all__ = [
    "LayerwiseModel",
    "LsuvRow",
    "LsuvTable",
    "check_lsuv_options",
    "lsuv",
    "lsuv_",
    "run_lsuv",
]


class LayerwiseModel(Protocol):
    """A model seen one layer at a time on a fixed batch (what LSUV needs).

    ``layer_names()`` lists the layers in registration order (the order of the orthonormal
    start), ``call_order()`` those the forward pass calls, in that order. ``output_std(name)``
    is the std of that layer's output on the batch with every layer as it is now (use
    :func:`trainready._stats.robust_std`: no overflow at 1e300). ``commit(ok)`` ends the run:
    with ``ok`` the model keeps its new weights, without (an error) it is left as it was; the
    NumPy network assigns its new parameters, PyTorch restores its training flags and buffers.
    """

    def layer_names(self) -> Sequence[str]: ...

    def call_order(self) -> Sequence[str]: ...

    def weight_shape(self, name: str) -> tuple[int, ...]: ...

    def set_weight(self, name: str, W: NDArray[np.float64]) -> None: ...

    def zero_bias(self, name: str) -> None: ...

    def scale_weight(self, name: str, factor: float) -> None: ...

    def output_std(self, name: str) -> float: ...

    def commit(self, ok: bool) -> None: ...


@dataclass(frozen=True, kw_only=True)
class LsuvRow:
    """What LSUV did to one layer (in forward order).

    Attributes:
        name: the layer (``"W2"``, or a PyTorch module path).
        iterations: rescalings made (0 when the variance was already within ``tol``).
        variance_before: variance of the layer's output before rescaling (after the
            orthonormal start when ``orthonormal=True``).
        variance_after: variance of the layer's output at the end.
        scale: the factor the weights were multiplied by in total.
        converged: ``|variance_after - 1| < tol``.
    """

    name: str
    iterations: int
    variance_before: float
    variance_after: float
    scale: float
    converged: bool = True


@dataclass(frozen=True)
class LsuvTable(HtmlFromSummary):
    """The rows an ``lsuv_`` returns; ``skipped`` names layers the forward pass never called."""

    rows: tuple[LsuvRow, ...]
    skipped: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[LsuvRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> LsuvRow:
        return self.rows[i]

    @property
    def ok(self) -> bool:
        """True when every layer reached unit variance within ``tol``."""
        return all(r.converged for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"rows": [vars(r) for r in self.rows], "skipped": list(self.skipped)}

    def summary(self) -> str:
        """One line per layer: variance before -> after, rescalings, converged or not."""
        lines = [
            f"{r.name}: variance {r.variance_before:.3g} -> {r.variance_after:.3g} in "
            f"{r.iterations} rescaling(s){'' if r.converged else ' (NOT converged)'}"
            for r in self.rows
        ]
        if self.skipped:
            lines.append(f"skipped (never called): {', '.join(self.skipped)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def check_lsuv_options(tol: Any, max_iter: Any) -> tuple[float, int]:
    """Validate LSUV's ``tol`` and ``max_iter`` (one message grammar for both halves)."""
    return check_real(tol, "tol", example="0.1"), check_int(max_iter, "max_iter", example="10")


def run_lsuv(
    model: LayerwiseModel,
    *,
    tol: float = 0.1,
    max_iter: int = 10,
    rng: RngLike = None,
    orthonormal: bool = True,
) -> LsuvTable:
    """LSUV over any :class:`LayerwiseModel`; ``model.commit()`` is called at the end.

    1. With ``orthonormal``, every weight becomes an orthonormal matrix (:func:`orthogonal`,
       gain 1) and every bias 0, in registration order.
    2. Layer by layer in call order: divide the weight by the std of the layer's output on the
       batch until ``|Var - 1| < tol`` or ``max_iter`` rescalings.

    Raises:
        ValueError: bad ``tol``/``max_iter``, or a layer's output is NaN or inf on the batch (the
        message names the fix); the model is then left as it was.

    Warns:
        ConvergenceWarning: a layer ended outside ``|Var - 1| < tol`` (its output is constant
        zero, or ``max_iter`` was too small); its row says ``converged=False``.
    """
    ok = False
    try:
        tol, max_iter = check_lsuv_options(tol, max_iter)
        gen = as_generator(rng)
        if orthonormal:
            for name in model.layer_names():
                W = orthogonal(model.weight_shape(name), rng=gen)
                model.set_weight(name, np.asarray(W, dtype=np.float64))
                model.zero_bias(name)
        rows = [_rescale(model, name, tol, max_iter) for name in model.call_order()]
        ok = True
    finally:
        model.commit(ok)
    called = {r.name for r in rows}
    bad = [r.name for r in rows if not r.converged]
    if bad:
        warn(
            f"lsuv: layers {', '.join(bad)} did not reach unit variance (|Var - 1| < {tol:g}) "
            f"in {max_iter} rescalings (an output that is zero for the whole batch cannot be "
            "rescaled); see the returned table's variance_after",
            ConvergenceWarning,
        )
    return LsuvTable(tuple(rows), tuple(n for n in model.layer_names() if n not in called))


def _rescale(model: LayerwiseModel, name: str, tol: float, max_iter: int) -> LsuvRow:
    std = model.output_std(name)
    if not math.isfinite(std):
        raise ValueError(
            f"X: expected a batch on which layer {name} gives finite outputs, got NaN or inf "
            "there; standardize the batch (trainready.StandardScaler) and remove NaN/inf rows"
        )
    var0 = std * std
    total, it = 1.0, 0
    while it < max_iter and abs(std * std - 1.0) >= tol and std > 0:
        factor = 1.0 / std
        model.scale_weight(name, factor)
        total *= factor
        it += 1
        std = model.output_std(name)
    var = std * std
    return LsuvRow(
        name=name,
        iterations=it,
        variance_before=var0,
        variance_after=var,
        scale=total,
        converged=abs(var - 1.0) < tol,
    )


def lsuv_(
    model: Any,
    X: Any,
    *,
    tol: float = 0.1,
    max_iter: int = 10,
    rng: RngLike = None,
    orthonormal: bool = True,
) -> LsuvTable:
    """Layer-sequential unit-variance initialization (Mishkin & Matas 2016) of a reference
    network, in place.

    1. Every weight becomes an orthonormal matrix (:func:`orthogonal`, gain 1) and every bias 0
       (skipped with ``orthonormal=False``: the current weights are rescaled).
    2. For layers 1, 2, ..., L: run the batch ``X`` forward (batch norm with its running
       statistics), take the variance of the layer's pre-activation ``z`` and divide ``W`` by its
       square root; repeat until ``|Var(z) - 1| < tol`` or ``max_iter`` rounds.

    The data decide the scale, so LSUV also repairs what a formula cannot know (unusual
    activations, correlated inputs, the first layer of unnormalized data). ``model.params`` is
    replaced by new arrays; the arrays it held before and ``X`` are not modified.

    Args:
        model: a :class:`trainready.nn.MLP` (anything with ``layerwise(X)`` returning a
            :class:`LayerwiseModel`).
        X: a batch ``(n_samples, n_features)``, at least 2 rows, finite.
        tol: stop when ``|Var(z) - 1| < tol``.
        max_iter: at most this many rescalings per layer.
        rng: for the orthonormal matrices.
        orthonormal: start from orthonormal weights (step 1).

    Returns:
        An :class:`LsuvTable`: per layer the variance before and after, the rescalings and
        whether it converged (``table.ok``), as ``trainready.torch.lsuv_`` returns.

    Example:
        >>> import numpy as np, trainready as tr
        >>> net = tr.nn.MLP([8, 32, 32, 1], activation="relu", output="sigmoid", rng=0)
        >>> X = np.random.default_rng(0).standard_normal((128, 8))
        >>> tr.init.lsuv_(net, X, rng=0).ok
        True
    """
    layerwise = getattr(model, "layerwise", None)
    if not callable(layerwise):
        raise TypeError(
            f"model: expected a trainready.nn.MLP (or an object with layerwise(X)), got "
            f"{type(model).__name__}; for a torch.nn.Module use trainready.torch.lsuv_"
        )
    return run_lsuv(layerwise(X), tol=tol, max_iter=max_iter, rng=rng, orthonormal=orthonormal)


def lsuv(
    model: Any,
    X: Any,
    tol: float = 0.1,
    max_iter: int = 10,
    *,
    rng: RngLike = None,
    orthonormal: bool = True,
) -> Any:
    """Deprecated: use :func:`lsuv_` (same arguments; returns the table, not the model).

    Kept for one release: runs :func:`lsuv_` and returns ``model``.
    """
    warnings.warn(
        "trainready.init.lsuv is deprecated and will be removed in the next release: it "
        "changes its model in place, so it is now lsuv_(model, X), which returns the table "
        "(call lsuv_ and keep using model)",
        DeprecationWarning,
        stacklevel=2,
    )
    lsuv_(model, X, tol=tol, max_iter=max_iter, rng=rng, orthonormal=orthonormal)
    return model
