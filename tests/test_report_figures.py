"""The demo's figures, checked on the geometry of the real matplotlib artists they draw.

One quick demo run feeds every test: legends never cover a line or a mark, figure 4 draws the
verdict's own lines, figure 2 tells the healthy schemes apart, the boundary panels have axes, a
colour legend and the accuracy.
"""

from __future__ import annotations

import math
from dataclasses import fields, replace

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.path import Path as MplPath
from matplotlib.transforms import Bbox

from trainready.demo import run_demo
from trainready.gradcheck import GradcheckReport
from trainready.gradcheck._report import CHECK_BELOW, OK_BELOW, classify
from trainready.report import demo_figures
from trainready.report._blocks import FIGURES
from trainready.report._mpl import REFERENCE


@pytest.fixture(scope="module")
def result():
    return run_demo(quick=True, sections=("normalization", "depth", "initialization", "gradcheck"))


def _drawn(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _axes(fig, label):
    found = [ax for ax in fig.axes if ax.get_label() == label]
    assert len(found) == 1, [ax.get_label() for ax in fig.axes]
    return found[0]


def _legends(fig):
    out = list(fig.legends)
    for ax in fig.axes:
        if ax.get_legend() is not None:
            out.append(ax.get_legend())
    return out


def _display_runs(xy):
    """Finite runs of display-coordinate points (NaN gaps split a line)."""
    ok = np.all(np.isfinite(xy), axis=1)
    runs, start = [], None
    for i, good in enumerate([*ok, False]):
        if good and start is None:
            start = i
        elif not good and start is not None:
            runs.append(xy[start:i])
            start = None
    return runs


def _covered(fig, renderer):
    """(legend text, what it covers) for every line, contour or marker under a legend."""
    hits = []
    for legend in _legends(fig):
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            inner = Bbox.intersection(box, ax.get_window_extent(renderer))
            if inner is None or inner.width <= 0 or inner.height <= 0:
                continue  # lines and marks are clipped to their axes
            for line in ax.lines:
                xy = line.get_transform().transform(np.column_stack(line.get_data()))
                for run in _display_runs(xy):
                    if len(run) == 1 and inner.contains(*run[0]):
                        hits.append((legend.texts[0].get_text(), line.get_label()))
                    elif len(run) > 1 and MplPath(run).intersects_bbox(inner, filled=False):
                        hits.append((legend.texts[0].get_text(), line.get_label()))
            for coll in ax.collections:
                offsets = coll.get_offsets()
                if len(offsets) and coll.get_offset_transform() is not None:
                    pts = coll.get_offset_transform().transform(offsets)
                    if any(inner.contains(*p) for p in pts if np.all(np.isfinite(p))):
                        hits.append((legend.texts[0].get_text(), "markers"))
                for path in coll.get_paths() if coll.get_gid() == REFERENCE else ():
                    if (
                        coll.get_transform()
                        .transform_path(path)
                        .intersects_bbox(inner, filled=False)
                    ):
                        hits.append((legend.texts[0].get_text(), "reference contour"))
    return hits


@pytest.mark.parametrize("name", list(FIGURES))
def test_no_legend_covers_a_line_or_a_mark(result, name):
    section, func, _ = FIGURES[name]
    fig = getattr(demo_figures, func)(getattr(result, section))
    renderer = _drawn(fig)
    assert _legends(fig), "every demo figure explains its colours"
    assert _covered(fig, renderer) == []


def test_the_overlap_check_sees_a_legend_on_a_reference_line():
    """The geometry test above can fail: a legend drawn over an axhline is reported."""
    from trainready.report._mpl import new_figure

    fig = new_figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], label="data")
    ax.axhline(0.5, gid=REFERENCE, label="line")
    ax.legend(loc="center")
    assert ("data", "line") in _covered(fig, _drawn(fig))


def test_figure_gradcheck_draws_the_verdicts_lines_and_words(result):
    res = result.gradcheck
    fig = demo_figures.figure_gradcheck(res)
    _drawn(fig)
    ax = _axes(fig, "differences")
    refs = [line for line in ax.lines if line.get_gid() == REFERENCE]
    assert sorted(float(line.get_ydata()[0]) for line in refs) == [OK_BELOW, CHECK_BELOW]
    assert all(line.get_ydata()[0] == line.get_ydata()[1] for line in refs)  # horizontal
    # the zones are labelled with the verdict's words, each placed inside its own zone
    words = {t.get_text(): t.get_position()[1] for t in ax.texts if t.get_text().isalpha()}
    assert set(words) == {"OK", "CHECK", "WRONG"}
    for word, y in words.items():
        assert classify(y).upper() == word
    # every plotted point sits in the zone of the verdict its parameter got
    names = list(res.after_training.params)
    reports = [res.after_training, *(c.report for c in res.bugs)]
    points = [c for c in ax.collections if len(c.get_offsets()) == len(names)]
    assert len(points) == len(reports)
    for coll, rep in zip(points, reports, strict=True):
        for (_, y), name in zip(coll.get_offsets(), names, strict=True):
            assert classify(float(y)) == rep.params[name].verdict, (name, y)
    # the bug of one element off by 1% (WRONG, 7e-5 in the issue) is above the WRONG line
    w2 = res.bugs[3].report.params["W2"]
    assert w2.verdict == "wrong" and w2.difference > CHECK_BELOW


def test_figure_depth_tells_the_healthy_schemes_apart(result):
    res = result.depth
    fig = demo_figures.figure_depth(res)
    renderer = _drawn(fig)
    del renderer
    healthy = [s.label for s in res.schemes if s.diagnosis.ok]
    assert healthy == ["He", "LSUV"]
    zoom, full = _axes(fig, "forward healthy"), _axes(fig, "forward")
    assert [line.get_label() for line in zoom.lines] == healthy
    assert zoom.get_yscale() == "linear" and full.get_yscale() == "log"

    def gap_pixels(ax):
        a, b = (
            ax.transData.transform(np.column_stack(line.get_data()))[:, 1]
            for line in ax.lines
            if line.get_label() in healthy
        )
        return float(np.nanmax(np.abs(a - b)))

    # on the shared log axis (N(0, 1) reaches 1e44) He and LSUV are pixels apart; on their own
    # panel they are a good part of the axis apart
    height = zoom.get_window_extent().height
    assert gap_pixels(zoom) > 0.25 * height
    assert gap_pixels(zoom) > 10 * gap_pixels(full)
    for ax in (zoom, _axes(fig, "backward healthy")):
        lo, hi = ax.get_ylim()
        data = np.concatenate([line.get_ydata() for line in ax.lines])
        assert (np.nanmax(data) - np.nanmin(data)) / (hi - lo) > 0.3  # data fills the panel


def test_figure_boundaries_has_axes_a_colour_legend_and_the_accuracy(result):
    res = result.initialization
    fig = demo_figures.figure_boundaries(res)
    _drawn(fig)
    panels = [ax for ax in fig.axes if ax.get_label() in {r.run.label for r in res.runs}]
    assert len(panels) == len(res.runs)
    assert panels[0].get_ylabel() and all(ax.get_xlabel() for ax in panels)
    for ax, r in zip(panels, res.runs, strict=True):
        assert ax.axison and len([t for t in ax.get_xticklabels() if t.get_text()]) >= 3
        assert (
            f"train {r.run.train_accuracy:.0%} · test {r.run.test_accuracy:.0%}" in ax.get_title()
        )
    # the colour bar of P(class 1)
    bars = [ax for ax in fig.axes if "P(class 1)" in ax.get_ylabel()]
    assert len(bars) == 1
    # one legend: class 0 and class 1 in the colours of the points, and the boundary line
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.texts]
    assert any("class 0" in t for t in texts) and any("class 1" in t for t in texts)
    assert any("boundary" in t for t in texts)
    handle_color = {
        t.split()[1]: to_hex(h.get_color())
        for t, h in zip(texts, legend.legend_handles, strict=True)
        if t.startswith("class")
    }
    scatter = next(c for c in panels[-1].collections if len(c.get_offsets()) == len(res.y_train))
    face = [to_hex(c) for c in scatter.get_facecolors()]
    for label in (0, 1):
        assert {face[i] for i in np.flatnonzero(res.y_train == label)} == {handle_color[str(label)]}
    # trained networks draw their 0.5 boundary; the zeros network says it has none
    drawn = {
        ax.get_label() for ax in panels if any(c.get_gid() == REFERENCE for c in ax.collections)
    }
    assert {"LeCun", "He"} <= drawn and "zeros" not in drawn
    assert "no boundary" in panels[0].get_title()


class _TextlessReport(GradcheckReport):
    """A real report whose text a renderer may not read."""

    def summary(self) -> str:
        raise AssertionError("a renderer read summary() instead of the report's fields")

    def __str__(self) -> str:
        raise AssertionError("a renderer read str() instead of the report's fields")


def _textless(rep):
    return _TextlessReport(**{f.name: getattr(rep, f.name) for f in fields(rep)})


def test_renderers_read_fields_never_text(result):
    from trainready.report._sections import section_gradcheck

    res = result.gradcheck
    res = replace(
        res,
        at_init=_textless(res.at_init),
        after_training=_textless(res.after_training),
        bugs=tuple(replace(c, report=_textless(c.report)) for c in res.bugs),
        probe_correct=_textless(res.probe_correct),
        probe_buggy=_textless(res.probe_buggy),
    )
    page = section_gradcheck(res, {})
    demo_figures.figure_gradcheck(res)
    # the worst elements come from worst_index: bug 4's element and the probe's find
    assert "<td>W2[1, 3]</td>" in page
    i, j = res.probe_bug_index
    assert f"<b>W1[{i}, {j}]</b>probe mode found" in page


def test_gradcheck_caption_and_headline_come_from_the_run(result):
    from trainready.report._blocks import fmt_number
    from trainready.report._sections import section_gradcheck

    res = result.gradcheck
    page = section_gradcheck(res, {"4_gradcheck.png": b"png"})
    good = res.after_training
    assert f"{fmt_number(good.difference)} over the whole vector" in page
    assert f"{res.probe_buggy.evaluations:,} to find the wrong element" in page
    assert "1e-11" not in page and "1e-3" not in page
    assert f"ok below {OK_BELOW:g}" in page and f"wrong from {CHECK_BELOW:g}" in page
    # the headline box says which check each verdict is of
    assert "<b>OK</b>verdict at initialization" in page
    assert f"<b>OK</b>verdict after {res.train_epochs:,} epochs of training" in page
    # another run, other numbers: nothing is written in by hand
    swapped = replace(res, after_training=res.at_init, train_epochs=7)
    other = section_gradcheck(swapped, {"4_gradcheck.png": b"png"})
    assert f"{fmt_number(res.at_init.difference)} over the whole vector" in other
    assert "verdict after 7 epochs of training" in other
    assert math.isfinite(good.difference)
