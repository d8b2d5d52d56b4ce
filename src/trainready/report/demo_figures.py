"""The demo's figures, one function per figure, each taking a section's result.

matplotlib is imported on first use and only its object API is used (``Figure``, no pyplot): no
window opens, no global state is touched, and PNGs are written with the Agg renderer.

Example:
    >>> from trainready.demo import run_demo                         # doctest: +SKIP
    >>> from trainready.report.demo_figures import figure_gradcheck  # doctest: +SKIP
    >>> fig = figure_gradcheck(run_demo(True, sections=["gradcheck"]).gradcheck)  # doctest: +SKIP
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .._optional import require

if TYPE_CHECKING:
    from ..demo import (
        DepthResult,
        GradcheckResult,
        InitializationResult,
        NormalizationResult,
    )

__all__ = [
    "figure_boundaries",
    "figure_depth",
    "figure_gradcheck",
    "figure_init_curves",
    "figure_normalization",
    "png_bytes",
]

DPI = 110
_COLORS = {
    "zeros": "#8c8c8c",
    "N(0, 1)": "#d62728",
    "random × 10": "#d62728",
    "LeCun": "#ff7f0e",
    "He": "#1f77b4",
    "LSUV": "#2ca02c",
}


def _figure(**kwargs: Any) -> Any:
    require("matplotlib", "the demo's figures")
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kwargs)


def png_bytes(fig: Any, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (Agg renderer)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def _positive(values: Any) -> np.ndarray:
    out = np.asarray(values, dtype=float).copy()
    out[~(out > 0) | ~np.isfinite(out)] = np.nan
    return out


def _style(ax: Any, *, logy: bool = True) -> None:
    if logy:
        ax.set_yscale("log")
    ax.grid(True, which="major", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)


def figure_normalization(res: NormalizationResult) -> Any:
    """Feature scales before and after standardization, and the training curves."""
    fig = _figure(figsize=(12, 4.2))
    ax_s, ax_c = fig.subplots(1, 2, width_ratios=[1.1, 1])
    order = np.argsort(res.std_raw)[::-1]
    x = np.arange(len(order))
    ax_s.bar(x - 0.2, res.std_raw[order], width=0.4, color="#d62728", label="raw")
    ax_s.bar(x + 0.2, res.std_scaled[order], width=0.4, color="#1f77b4", label="standardized")
    _style(ax_s)
    ax_s.set_xticks(x)
    ax_s.set_xticklabels([res.feature_names[i] for i in order], rotation=90, fontsize=6)
    ax_s.set_ylabel("std on the training split")
    ax_s.set_title(f"feature scales: a factor {res.scale_ratio:.2g} apart, then all 1")
    ax_s.legend(fontsize="small")
    colors = ["#d62728", "#ff9896", "#1f77b4"]
    for run, color in zip(res.runs, colors, strict=False):
        loss = _positive(run.loss)
        acc = "" if run.diverged else f" (test acc {run.test_accuracy:.0%})"
        ax_c.plot(np.arange(1, len(loss) + 1), loss, color=color, label=run.label + acc)
    _style(ax_c)
    ax_c.set_xlabel("epoch (full-batch gradient descent)")
    ax_c.set_ylabel("training cost")
    dims = "-".join(map(str, res.layer_dims))
    ax_c.set_title(f"the same {dims} ReLU network, same seed")
    ax_c.legend(fontsize="small")
    return fig


def figure_depth(res: DepthResult) -> Any:
    """Deep linear powers, then activation std and gradient norm per layer per scheme."""
    fig = _figure(figsize=(14, 4.4))
    ax_l, ax_a, ax_g = fig.subplots(1, 3)
    for lin, color in zip(res.linear, ("#d62728", "#1f77b4"), strict=False):
        layers = np.arange(1, lin.depth + 1)  # type: ignore[attr-defined]
        ax_l.plot(
            layers,
            lin.activation_ratio,  # type: ignore[attr-defined]
            "o",
            ms=3,
            color=color,
            label=f"measured, W = {lin.scale:g}·I",  # type: ignore[attr-defined]
        )
        ax_l.plot(
            layers,
            lin.expected_activation,  # type: ignore[attr-defined]
            "-",
            lw=1,
            color=color,
            alpha=0.6,
            label=f"{lin.scale:g}^l",  # type: ignore[attr-defined]
        )
    _style(ax_l)
    ax_l.set_xlabel("layer l")
    ax_l.set_ylabel("activation size / input size")
    ax_l.set_title("deep linear network: W = 1.5·I and 0.5·I")
    ax_l.legend(fontsize="small")
    floor = []
    for s in res.schemes:
        rec = s.diagnosis.record  # type: ignore[attr-defined]
        a_std = rec.column("a_std")[:-1]  # hidden layers (the last is the linear output)
        d_norm = rec.column("delta_norm")
        layers = np.arange(1, len(a_std) + 1)
        hue = _COLORS.get(s.label)
        if not np.any(a_std > 0):
            floor.append(s.label)
            continue
        ax_a.plot(layers, _positive(a_std), color=hue, lw=1.6, label=s.label)
        ax_g.plot(
            np.arange(1, len(d_norm) + 1), _positive(d_norm), color=hue, lw=1.6, label=s.label
        )
    for ax in (ax_a, ax_g):
        _style(ax)
        ax.set_xlabel("layer")
    depth = len(res.layer_dims) - 1
    ax_a.set_ylabel("std of the layer's ReLU output")
    ax_a.set_title(f"{depth}-layer ReLU net, width {res.layer_dims[1]}: forward")
    ax_g.set_ylabel("||dLoss/dz|| (backward signal)")
    ax_g.set_title("backward (a probe gradient at the output)")
    if floor:
        ax_a.plot([], [], " ", label=f"{', '.join(floor)}: exactly 0 (off a log axis)")
    ax_a.legend(fontsize="small")
    return fig


def figure_init_curves(res: InitializationResult) -> Any:
    """Training cost per epoch, one line per initialization."""
    fig = _figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for r in res.runs:
        loss = _positive(r.run.loss)
        label = (
            f"{r.run.label}: diverged"
            if r.run.diverged
            else f"{r.run.label}: train {r.run.train_accuracy:.0%}, test {r.run.test_accuracy:.0%}"
        )
        ax.plot(
            np.arange(1, len(loss) + 1), loss, color=_COLORS.get(r.run.label), lw=1.6, label=label
        )
    _style(ax)
    ax.set_xlabel(f"epoch (full-batch gradient descent, lr {res.runs[0].run.lr:g})")
    ax.set_ylabel("training cost (cross-entropy)")
    ax.set_title(f"{list(res.layer_dims)} on two circles")
    ax.legend(fontsize="small")
    return fig


def figure_boundaries(res: InitializationResult) -> Any:
    """Decision boundaries of the trained networks, one panel per initialization."""
    from matplotlib.colors import ListedColormap

    n = len(res.runs)
    fig = _figure(figsize=(3.4 * n, 3.8))
    axes = np.atleast_1d(fig.subplots(1, n))
    points = ListedColormap(["#d62728", "#1f77b4"])
    for ax, r in zip(axes, res.runs, strict=False):
        if r.boundary is not None:
            b = r.boundary
            ax.contourf(b.xs, b.ys, b.proba, levels=np.linspace(0, 1, 11), cmap="RdBu", alpha=0.55)
            if float(b.proba.min()) < 0.5 < float(b.proba.max()):
                ax.contour(b.xs, b.ys, b.proba, levels=[0.5], colors="k", linewidths=1)
        ax.scatter(
            res.X_train[:, 0], res.X_train[:, 1], c=res.y_train, cmap=points, s=7, edgecolors="none"
        )
        acc = (
            "diverged"
            if r.run.diverged
            else f"train {r.run.train_accuracy:.0%} · test {r.run.test_accuracy:.0%}"
        )
        ax.set_title(r.run.label, fontsize="medium")
        ax.set_xlabel(acc)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
    return fig


def figure_gradcheck(res: GradcheckResult) -> Any:
    """Per-parameter differences (correct vs injected bugs) and the probe's loss calls vs 2N."""
    fig = _figure(figsize=(12, 4.2))
    ax_d, ax_n = fig.subplots(1, 2, width_ratios=[1.3, 1])
    names = list(res.after_training.params)
    x = np.arange(len(names))
    series = [("correct backprop", res.after_training, "#1f77b4", "o")]
    markers = ["s", "^", "v", "D"]
    colors = ["#d62728", "#9467bd", "#ff7f0e", "#8c564b"]
    for i, case in enumerate(res.bugs):
        series.append((f"bug {i + 1}: {case.bug}", case.report, colors[i % 4], markers[i % 4]))
    for k, (label, rep, color, marker) in enumerate(series):
        diffs = np.array([rep.params[n].difference for n in names], dtype=float)
        diffs = np.maximum(diffs, 1e-16)
        offset = (k - (len(series) - 1) / 2) * 0.12
        ax_d.scatter(x + offset, diffs, color=color, marker=marker, s=28, label=label, zorder=3)
    ax_d.axhline(1e-7, color="#1a7f37", ls="--", lw=1)
    ax_d.axhline(1e-3, color="#cf222e", ls="--", lw=1)
    ax_d.text(len(names) - 0.5, 1.4e-7, "1e-7: right", color="#1a7f37", fontsize=8, ha="right")
    ax_d.text(len(names) - 0.5, 1.4e-3, "1e-3: a bug", color="#cf222e", fontsize=8, ha="right")
    _style(ax_d)
    ax_d.set_xticks(x)
    ax_d.set_xticklabels(names)
    ax_d.set_ylabel("relative difference per parameter")
    ax_d.set_title(f"{list(res.layer_dims)}: backprop vs numeric gradient")
    ax_d.legend(fontsize=7, loc="center left")
    labels = ["probe mode,\ncorrect", "probe mode,\none wrong element", "classic loop\n(2N)"]
    calls = [res.probe_correct.evaluations, res.probe_buggy.evaluations, res.classic_calls]
    bars = ax_n.bar(labels, calls, color=["#1f77b4", "#d62728", "#8c8c8c"])
    for bar, c in zip(bars, calls, strict=False):
        ax_n.text(bar.get_x() + bar.get_width() / 2, c * 1.3, f"{c:,}", ha="center", fontsize=9)
    _style(ax_n)
    ax_n.set_ylim(1, max(calls) * 20)
    ax_n.set_ylabel("loss evaluations")
    minutes = res.classic_seconds / 60
    ax_n.set_title(
        f"N = {res.big_n_params:,} parameters (2N ≈ {_duration(minutes)} here)", fontsize="medium"
    )
    return fig


def _duration(minutes: float) -> str:
    if not math.isfinite(minutes):
        return "?"
    if minutes < 1:
        return f"{minutes * 60:.0f} s"
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"
