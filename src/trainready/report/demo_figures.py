"""The demo's figures, one function per figure, each taking a section's result.

matplotlib is imported on first use and only its object API is used (``Figure``, no pyplot): no
window opens, no global state is touched, and PNGs are written with the Agg renderer. Every
legend sits outside its axes, so it never covers a data mark or a reference line; reference
lines carry ``gid="reference"`` (:data:`trainready.report._mpl.REFERENCE`).

Example:
    >>> from trainready.demo import run_demo                         # doctest: +SKIP
    >>> from trainready.report.demo_figures import figure_gradcheck  # doctest: +SKIP
    >>> fig = figure_gradcheck(run_demo(True, sections=["gradcheck"]).gradcheck)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np

from ._mpl import COLORS, REFERENCE, legend_right, new_figure, png_bytes, positive, style

if TYPE_CHECKING:
    from ..demo import (
        DepthResult,
        GradcheckResult,
        InitializationResult,
        NormalizationResult,
        SchemeDiagnosis,
    )

__all__ = [
    "figure_boundaries",
    "figure_depth",
    "figure_gradcheck",
    "figure_init_curves",
    "figure_normalization",
    "png_bytes",
]

#: colours of the verdict's zones in figure 4 and of the two classes in figure 3
_VERDICT_COLORS = {"ok": "#1a7f37", "check": "#9a6700", "wrong": "#cf222e"}
_CLASS_COLORS = ("#d62728", "#1f77b4")


def figure_normalization(res: NormalizationResult) -> Any:
    """Feature scales before and after standardization, and the training curves."""
    fig = new_figure(figsize=(13, 4.4))
    ax_s, ax_c = fig.subplots(1, 2, width_ratios=[1.1, 1])
    order = np.argsort(res.std_raw)[::-1]
    x = np.arange(len(order))
    ax_s.bar(x - 0.2, res.std_raw[order], width=0.4, color="#d62728", label="raw")
    ax_s.bar(x + 0.2, res.std_scaled[order], width=0.4, color="#1f77b4", label="standardized")
    style(ax_s)
    ax_s.set_xticks(x)
    ax_s.set_xticklabels([res.feature_names[i] for i in order], rotation=90, fontsize=6)
    ax_s.set_ylabel("std on the training split")
    ax_s.set_title(f"feature scales: a factor {res.scale_ratio:.2g} apart, then all 1")
    legend_right(ax_s)
    colors = ["#d62728", "#ff9896", "#1f77b4"]
    for run, color in zip(res.runs, colors, strict=False):
        loss = positive(run.loss)
        acc = "" if run.diverged else f"\n(test acc {run.test_accuracy:.0%})"
        ax_c.plot(np.arange(1, len(loss) + 1), loss, color=color, label=run.label + acc)
    style(ax_c)
    ax_c.set_xlabel("epoch (full-batch gradient descent)")
    ax_c.set_ylabel("training cost")
    dims = "-".join(map(str, res.layer_dims))
    ax_c.set_title(f"the same {dims} ReLU network, same seed")
    legend_right(ax_c)
    return fig


def _signal_lines(
    ax_a: Any, ax_g: Any, schemes: tuple[SchemeDiagnosis, ...], *, logy: bool
) -> list[str]:
    """Forward std and backward norm per layer, one line per scheme; returns the schemes that
    are exactly 0 (not drawn on a log axis)."""
    floor = []
    for s in schemes:
        rec = s.diagnosis.record
        a_std = rec.column("a_std")[:-1]  # hidden layers (the last is the linear output)
        d_norm = rec.column("delta_norm")
        hue = COLORS.get(s.label)
        if logy and not np.any(a_std > 0):
            floor.append(s.label)
            continue
        fwd, bwd = (positive(a_std), positive(d_norm)) if logy else (a_std, d_norm)
        ax_a.plot(np.arange(1, len(a_std) + 1), fwd, color=hue, lw=1.6, label=s.label)
        ax_g.plot(np.arange(1, len(d_norm) + 1), bwd, color=hue, lw=1.6, label=s.label)
    for ax in (ax_a, ax_g):
        style(ax, logy=logy)
        ax.set_xlabel("layer")
        if not logy:
            ax.set_ylim(0, None)
    return floor


def figure_depth(res: DepthResult) -> Any:
    """Deep linear powers; activation std and backward norm per layer for every scheme (log
    axes), and again for the schemes the doctor judged healthy (linear axes, told apart)."""
    fig = new_figure(figsize=(15, 7.6))
    axes = fig.subplot_mosaic(
        [["linear", "forward", "backward"], ["linear", "forward healthy", "backward healthy"]],
        width_ratios=[1, 1.1, 1.1],
    )
    for name, ax in axes.items():
        ax.set_label(name)
    ax_l = axes["linear"]
    for lin, color in zip(res.linear, ("#d62728", "#1f77b4"), strict=False):
        layers = np.arange(1, lin.depth + 1)
        ax_l.plot(
            layers,
            lin.activation_ratio,
            "o",
            ms=3,
            color=color,
            label=f"measured, W = {lin.scale:g}·I",
        )
        ax_l.plot(
            layers,
            lin.expected_activation,
            "-",
            lw=1,
            color=color,
            alpha=0.6,
            label=f"exactly {lin.scale:g}^l",
            gid=REFERENCE,
        )
    style(ax_l)
    ax_l.set_xlabel("layer l")
    ax_l.set_ylabel("activation size / input size")
    ax_l.set_title("deep linear network: W = 1.5·I and 0.5·I")
    ax_l.legend(loc="upper center", bbox_to_anchor=(0.5, -0.07), ncols=2, fontsize="small")
    depth = len(res.layer_dims) - 1
    floor = _signal_lines(axes["forward"], axes["backward"], res.schemes, logy=True)
    axes["forward"].set_ylabel("std of the layer's ReLU output")
    axes["forward"].set_title(f"{depth}-layer ReLU net, width {res.layer_dims[1]}: forward")
    axes["backward"].set_ylabel("||dLoss/dz|| (backward signal)")
    axes["backward"].set_title("backward (a probe gradient at the output)")
    if floor:
        axes["backward"].plot([], [], " ", label=f"{', '.join(floor)}:\nexactly 0 (off a log axis)")
    legend_right(axes["backward"], title="every initialization")
    healthy = tuple(s for s in res.schemes if s.diagnosis.ok)
    _signal_lines(axes["forward healthy"], axes["backward healthy"], healthy, logy=False)
    names = ", ".join(s.label for s in healthy) or "none"
    axes["forward healthy"].set_ylabel("std of the layer's ReLU output")
    axes["forward healthy"].set_title(f"judged healthy ({names}), linear axis: forward")
    axes["backward healthy"].set_ylabel("||dLoss/dz||")
    axes["backward healthy"].set_title("judged healthy, linear axis: backward")
    if healthy:
        legend_right(axes["backward healthy"], title="judged healthy")
    return fig


def figure_init_curves(res: InitializationResult) -> Any:
    """Training cost per epoch, one line per initialization."""
    fig = new_figure(figsize=(9, 4.2))
    ax = fig.subplots()
    for r in res.runs:
        loss = positive(r.run.loss)
        label = (
            f"{r.run.label}: diverged"
            if r.run.diverged
            else f"{r.run.label}:\ntrain {r.run.train_accuracy:.0%}, test {r.run.test_accuracy:.0%}"
        )
        ax.plot(
            np.arange(1, len(loss) + 1), loss, color=COLORS.get(r.run.label), lw=1.6, label=label
        )
    style(ax)
    ax.set_xlabel(f"epoch (full-batch gradient descent, lr {res.runs[0].run.lr:g})")
    ax.set_ylabel("training cost (cross-entropy)")
    ax.set_title(f"{list(res.layer_dims)} on two circles")
    legend_right(ax)
    return fig


def figure_boundaries(res: InitializationResult) -> Any:
    """Decision boundaries of the trained networks, one panel per initialization: the training
    points by class, P(class 1) as background colour (a colour bar), the 0.5 line, the axes'
    features, and the train and test accuracy in each title."""
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D

    n = len(res.runs)
    fig = new_figure(figsize=(3.5 * n + 1.2, 4.6))
    axes = np.atleast_1d(fig.subplots(1, n, sharex=True, sharey=True))
    points = ListedColormap(list(_CLASS_COLORS))
    shading = None
    levels = np.linspace(0, 1, 11)
    for ax, r in zip(axes, res.runs, strict=False):
        ax.set_label(r.run.label)
        note = ""
        if r.boundary is not None:
            b = r.boundary
            shading = ax.contourf(b.xs, b.ys, b.proba, levels=levels, cmap="RdBu", alpha=0.55)
            if float(b.proba.min()) < 0.5 < float(b.proba.max()):
                c = ax.contour(b.xs, b.ys, b.proba, levels=[0.5], colors="k", linewidths=1.2)
                c.set_gid(REFERENCE)
            else:
                note = f"\nP(class 1) ≈ {float(b.proba.mean()):.2f} everywhere: no boundary"
        ax.scatter(
            res.X_train[:, 0],
            res.X_train[:, 1],
            c=res.y_train,
            cmap=points,
            vmin=0,
            vmax=1,
            s=7,
            edgecolors="none",
        )
        acc = (
            "diverged"
            if r.run.diverged
            else f"train {r.run.train_accuracy:.0%} · test {r.run.test_accuracy:.0%}"
        )
        ax.set_title(f"{r.run.label}: {acc}{note}", fontsize="medium")
        ax.set_xlabel("feature x₁")
        ax.set_aspect("equal")
        ax.tick_params(labelsize="small")
    axes[0].set_ylabel("feature x₂")
    if shading is not None:
        bar = fig.colorbar(shading, ax=list(axes), shrink=0.8, pad=0.01)
        bar.set_label("P(class 1) predicted by the network")
    handles = [
        Line2D([], [], ls="", marker="o", color=_CLASS_COLORS[0], label="class 0 (training point)"),
        Line2D([], [], ls="", marker="o", color=_CLASS_COLORS[1], label="class 1 (training point)"),
        Line2D([], [], color="k", lw=1.2, label="decision boundary: P(class 1) = 0.5"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
    return fig


def _wrap(label: str, width: int = 34) -> str:
    return "\n".join(textwrap.wrap(label, width, break_on_hyphens=False))


def figure_gradcheck(res: GradcheckResult) -> Any:
    """Per-parameter differences (correct vs injected bugs) against the verdict's own lines,
    and the probe's loss calls vs 2N.

    The lines and the words of the zones between them come from
    :func:`trainready.gradcheck._report.classify` (``OK_BELOW``, ``CHECK_BELOW``).
    """
    from matplotlib.transforms import blended_transform_factory

    from ..gradcheck._report import CHECK_BELOW, OK_BELOW, classify

    fig = new_figure(figsize=(14, 4.8))
    ax_d, ax_n = fig.subplots(1, 2, width_ratios=[1.5, 1])
    ax_d.set_label("differences")
    ax_n.set_label("loss calls")
    names = list(res.after_training.params)
    x = np.arange(len(names))
    series = [("correct backprop", res.after_training, "#1f77b4", "o")]
    markers = ["s", "^", "v", "D"]
    colors = ["#d62728", "#9467bd", "#ff7f0e", "#8c564b"]
    for i, case in enumerate(res.bugs):
        series.append((f"bug {i + 1}: {case.bug}", case.report, colors[i % 4], markers[i % 4]))
    floor = 1e-16
    shown = []
    for k, (label, rep, color, marker) in enumerate(series):
        diffs = np.maximum(np.array([rep.params[n].difference for n in names], dtype=float), floor)
        shown.append(diffs)
        offset = (k - (len(series) - 1) / 2) * 0.12
        ax_d.scatter(
            x + offset, diffs, color=color, marker=marker, s=28, label=_wrap(label), zorder=3
        )
    values = np.concatenate(shown)
    lo = min(float(np.nanmin(values)) / 10, OK_BELOW / 100)
    hi = max(float(np.nanmax(values)) * 10, CHECK_BELOW * 100)
    ax_d.set_ylim(lo, hi)
    side = blended_transform_factory(ax_d.transAxes, ax_d.transData)
    for bottom, top in ((lo, OK_BELOW), (OK_BELOW, CHECK_BELOW), (CHECK_BELOW, hi)):
        word = classify(math.sqrt(bottom * top))  # the verdict's own word for this zone
        ax_d.axhspan(bottom, top, color=_VERDICT_COLORS[word], alpha=0.07, lw=0)
        ax_d.text(
            1.01,
            math.sqrt(bottom * top),
            word.upper(),
            transform=side,
            color=_VERDICT_COLORS[word],
            fontsize=9,
            fontweight="bold",
            va="center",
        )
    for line in (OK_BELOW, CHECK_BELOW):
        ax_d.axhline(line, color=_VERDICT_COLORS[classify(line)], ls="--", lw=1, gid=REFERENCE)
        ax_d.text(1.01, line, f"{line:.0e}", transform=side, fontsize=7, va="center", color="0.3")
    style(ax_d)
    ax_d.set_xticks(x)
    ax_d.set_xticklabels(names)
    ax_d.set_ylabel("relative difference per parameter")
    ax_d.set_title(
        f"{list(res.layer_dims)} after {res.train_epochs:,} epochs: backprop vs numeric gradient"
    )
    legend_right(ax_d, bbox_to_anchor=(1.1, 1.0), fontsize=7)
    labels = ["probe mode,\ncorrect", "probe mode,\none wrong element", "classic loop\n(2N)"]
    calls = [res.probe_correct.evaluations, res.probe_buggy.evaluations, res.classic_calls]
    bars = ax_n.bar(labels, calls, color=["#1f77b4", "#d62728", "#8c8c8c"])
    for bar, c in zip(bars, calls, strict=False):
        ax_n.text(bar.get_x() + bar.get_width() / 2, c * 1.3, f"{c:,}", ha="center", fontsize=9)
    style(ax_n)
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
