"""matplotlib helpers shared by the report's figures: a Figure, PNG bytes, log-axis values,
axis style, legends outside the data, and the mark of reference lines.

Only matplotlib's object API is used (``Figure``, no pyplot): no window opens, no global state is
touched, PNGs are written with the Agg renderer.

Example:
    >>> from trainready.report._mpl import new_figure, png_bytes
    >>> fig = new_figure(figsize=(2, 1))
    >>> png_bytes(fig)[:4]
    b'\\x89PNG'
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._optional import require

__all__ = [
    "COLORS",
    "DPI",
    "REFERENCE",
    "legend_right",
    "new_figure",
    "png_bytes",
    "positive",
    "style",
]

DPI = 110
#: ``gid`` of the reference lines a figure draws (exact powers, the verdict's lines, a decision
#: boundary): tests find them by it, and no legend may cover one.
REFERENCE = "reference"
COLORS = {
    "zeros": "#8c8c8c",
    "N(0, 1)": "#d62728",
    "random × 10": "#d62728",
    "LeCun": "#ff7f0e",
    "He": "#1f77b4",
    "LSUV": "#2ca02c",
}


def new_figure(**kwargs: Any) -> Any:
    """A ``matplotlib.figure.Figure`` with constrained layout (``kwargs`` go to Figure)."""
    require("matplotlib", "the demo's figures")
    from matplotlib.figure import Figure

    return Figure(layout="constrained", **kwargs)


def png_bytes(fig: Any, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (Agg renderer, white background)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def positive(values: ArrayLike) -> NDArray[np.float64]:
    """``values`` as floats with zeros, negatives and non-finite values as NaN (a log axis
    cannot show them: matplotlib leaves a gap)."""
    out = np.asarray(values, dtype=float).copy()
    out[~(out > 0) | ~np.isfinite(out)] = np.nan
    return out


def style(ax: Any, *, logy: bool = True) -> None:
    """Log y axis (unless ``logy=False``), a light grid, no top and right spines."""
    if logy:
        ax.set_yscale("log")
    ax.grid(True, which="major", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)


def legend_right(ax: Any, **kwargs: Any) -> Any:
    """The axes' legend outside it, to its right and top-aligned: it never covers a data mark
    or a reference line (constrained layout makes room for it)."""
    options: dict[str, Any] = {
        "loc": "upper left",
        "bbox_to_anchor": (1.02, 1.0),
        "borderaxespad": 0.0,
        "fontsize": "small",
        "frameon": False,
    }
    options.update(kwargs)
    return ax.legend(**options)
