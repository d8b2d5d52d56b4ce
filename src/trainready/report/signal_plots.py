"""Figures of the signal across depth: std and gradient norm per layer, activation histograms.

matplotlib is imported on first use; the figures are built with the object API
(``matplotlib.figure.Figure``), so no window opens and no global pyplot state is touched.

Example:
    >>> import numpy as np, trainready as tr
    >>> from trainready.report.signal_plots import plot_signal
    >>> X = np.random.default_rng(0).standard_normal((128, 16))
    >>> recs = tr.signal.compare([16] + [64] * 20 + [1], X, ["he", "lecun", "random"])
    >>> fig = plot_signal(recs)
    >>> len(fig.axes)
    2
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._optional import require

__all__ = ["plot_activation_histograms", "plot_signal"]


def _figure(**kwargs: Any) -> Any:
    require("matplotlib", "plotting")
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _as_record(item: Any) -> Any:
    """A SignalRecord from a SignalRecord, a Diagnosis (``.record``) or a DeepLinear."""
    return getattr(item, "record", item)


def _positive(values: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=float).copy()
    out[~(out > 0) | ~np.isfinite(out)] = np.nan  # a log axis cannot show 0, inf or NaN
    return out


def plot_signal(
    records: Mapping[str, Any] | Any,
    *,
    gradient: str = "weight",
    title: str | None = None,
    figsize: tuple[float, float] = (10.0, 4.0),
) -> Any:
    """Activation std and gradient norm per layer on a log scale, one line per scheme.

    Left: the pre-activation std of each layer (a healthy initialization keeps it flat; a
    constant factor per layer is a straight line on the log axis). Right: ``||dLoss/dW||`` per
    layer (``gradient="weight"``, what the optimizer sees) or ``||dLoss/dz||``
    (``gradient="delta"``, the backward signal itself). In a ReLU network with a wrong scale the
    weight gradients can look flat while both signals vanish: ``dW = delta^T a`` multiplies a
    backward factor ``s^(L-l)`` by a forward factor ``s^(l-1)``. Zeros and non-finite values
    are left out (a log axis cannot show them).

    Args:
        records: name -> :class:`~trainready.signal.SignalRecord` (or Diagnosis / DeepLinear),
            e.g. from :func:`trainready.signal.compare`; or a single record.
        title: the figure's title.
        gradient: ``"weight"`` or ``"delta"``, see above.
        figsize: inches.

    Returns:
        The ``matplotlib.figure.Figure`` (two axes).
    """
    if not isinstance(records, Mapping):
        records = {"model": records}
    if not records:
        raise ValueError("records: expected at least one record, got an empty mapping")
    if gradient not in ("weight", "delta"):
        raise ValueError(f"gradient: expected 'weight' or 'delta', got {gradient!r}")
    column = "weight_grad_norm" if gradient == "weight" else "delta_norm"
    fig = _figure(figsize=figsize, layout="constrained")
    ax_a, ax_g = fig.subplots(1, 2)
    for name, item in records.items():
        rec = _as_record(item)
        layers = np.arange(1, rec.depth + 1)
        ax_a.plot(layers, _positive(rec.column("z_std")), marker=".", label=str(name))
        ax_g.plot(layers, _positive(rec.column(column)), marker=".", label=str(name))
    for ax, label in (
        (ax_a, "pre-activation std"),
        (ax_g, "||dLoss/dW||" if gradient == "weight" else "||dLoss/dz||"),
    ):
        ax.set_yscale("log")
        ax.set_xlabel("layer")
        ax.set_ylabel(label)
        ax.grid(True, which="major", alpha=0.3)
    ax_a.set_title("forward: activations")
    ax_g.set_title("backward: gradients")
    ax_a.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def plot_activation_histograms(
    record: Any,
    *,
    layers: Sequence[int] | None = None,
    max_panels: int = 12,
    bins: int = 50,
    title: str | None = None,
) -> Any:
    """Histograms of each layer's activations (from the values the record kept).

    Saturated tanh shows two spikes at ±1, dead ReLUs a spike at 0, a vanishing signal a
    histogram whose x-range shrinks layer after layer.

    Args:
        record: a :class:`~trainready.signal.SignalRecord` (or Diagnosis).
        layers: 1-based layers to show; default: up to ``max_panels`` evenly spaced ones, first
            and last included.
        max_panels: the most panels when ``layers`` is None.
        bins: histogram bins.
        title: the figure's title.

    Returns:
        The ``matplotlib.figure.Figure``, one panel per layer.
    """
    rec = _as_record(record)
    if layers is None:
        k = min(max_panels, rec.depth)
        layers = sorted({int(np.rint(x)) for x in np.linspace(1, rec.depth, k)})
    layers = list(layers)
    bad = [l for l in layers if not (isinstance(l, int | np.integer) and 1 <= l <= rec.depth)]
    if bad or not layers:
        raise ValueError(
            f"layers: expected 1-based layer numbers in [1, {rec.depth}], got {layers!r}"
        )
    cols = min(4, len(layers))
    rows = math.ceil(len(layers) / cols)
    fig = _figure(figsize=(3.0 * cols, 2.4 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax, l in zip(axes, layers, strict=False):
        r = rec.layers[l - 1]
        values = r.sample[np.isfinite(r.sample)]
        ax.hist(values, bins=bins, color="C0")
        ax.set_title(f"layer {l} ({r.activation}), std {r.a_std:.2g}", fontsize="small")
        ax.tick_params(labelsize="x-small")
    for ax in axes[len(layers) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return fig
