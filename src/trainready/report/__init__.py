"""Rendering: text tables, matplotlib figures and reports. Computing happens elsewhere.

Every plotting function imports matplotlib on first use (with the Agg backend when no backend was
chosen), returns the ``matplotlib.figure.Figure`` and never calls ``plt.show``. Reports read the
fields of frozen results, never their text.
"""

from __future__ import annotations

from .html import render_demo_html, write_demo_report  # demo report (issue 7)
from .signal_plots import plot_activation_histograms, plot_signal

__all__ = [
    "plot_activation_histograms",
    "plot_signal",
    # demo report (issue 7)
    "render_demo_html",
    "write_demo_report",
]
