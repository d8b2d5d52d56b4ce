"""Building blocks of the HTML report: escaped tables, embedded images, key boxes, numbers.

Every block returns a string of HTML with all text escaped; none reads a result's ``str()``.

Example:
    >>> from trainready.report._blocks import html_table
    >>> html_table([{"param": "<W1>"}])
    '<table><thead><tr><th>param</th></tr></thead><tbody><tr><td>&lt;W1&gt;</td></tr></tbody></table>'
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "CSS",
    "FIGURES",
    "figure_html",
    "fmt_number",
    "fmt_percent",
    "html_table",
    "img_tag",
    "key_box",
    "paragraph",
    "verdict_class",
]

#: figure file name -> (section, drawing function name in report.demo_figures, alt text)
FIGURES: dict[str, tuple[str, str, str]] = {
    "1_normalization.png": (
        "normalization",
        "figure_normalization",
        "Feature scales before and after standardization, and training curves",
    ),
    "2_vanishing_exploding.png": (
        "depth",
        "figure_depth",
        "Deep linear powers and the activation std per layer of a 50-layer ReLU network",
    ),
    "3_init_cost.png": (
        "initialization",
        "figure_init_curves",
        "Training cost per epoch for four initializations",
    ),
    "3_init_boundaries.png": (
        "initialization",
        "figure_boundaries",
        "Decision boundaries after training from four initializations",
    ),
    "4_gradcheck.png": (
        "gradcheck",
        "figure_gradcheck",
        "Per-parameter differences and loss calls of probe mode",
    ),
}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1180px;
margin:2em auto;padding:0 1.2em;color:#1f2328;line-height:1.5}
h1{font-size:1.9em;margin-bottom:.1em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;
margin-top:2.2em}.sub{color:#59636e;margin-top:0}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #d0d7de;border-radius:6px}
figcaption{color:#59636e;font-size:.9em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1a7f37;font-weight:600}.check{color:#9a6700;font-weight:600}
.wrong{color:#cf222e;font-weight:600}
.key{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}
.key div{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.5em .9em}
.key b{display:block;font-size:1.35em}
code{background:#f6f8fa;padding:.1em .3em;border-radius:4px}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:.6em .9em;
overflow-x:auto}
nav a{margin-right:1em}footer{margin-top:3em;color:#59636e;font-size:.85em}
"""


def img_tag(png: bytes, alt: str) -> str:
    """An ``<img>`` whose source is the PNG itself (a ``data:`` URI)."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def html_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    numeric: Sequence[str] = (),
    classes: Mapping[str, Callable[[Any], str]] | None = None,
) -> str:
    """An HTML table of ``rows`` (each a mapping column -> value), values escaped.

    Args:
        rows: the rows.
        columns: which keys, in order (default: the first row's keys).
        numeric: columns aligned right.
        classes: column -> function of the value giving a CSS class for that cell.
    """
    if not rows:
        return ""
    cols = list(columns or rows[0].keys())
    classes = classes or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = []
    for r in rows:
        cells = []
        for c in cols:
            value = r.get(c, "")
            cls = [*(["num"] if c in numeric else []), classes[c](value) if c in classes else ""]
            attr = f' class="{" ".join(x for x in cls if x)}"' if any(cls) else ""
            cells.append(f"<td{attr}>{html.escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def verdict_class(value: Any) -> str:
    """The CSS class of a table cell that shows a verdict word (``ok``, ``check``, ``wrong``)."""
    v = str(value).lower()
    if v in ("ok", "passed", "caught", "healthy", "yes"):
        return "ok"
    if v in ("check",):
        return "check"
    if v in ("wrong", "missed", "no") or v.startswith("wrong"):
        return "wrong"
    return ""


def fmt_number(x: float | None) -> str:
    """Three significant digits, or scientific notation outside [1e-3, 1e5); '—' when missing."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if x == 0:
        return "0"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e5 else f"{x:.2e}"


def fmt_percent(x: float) -> str:
    """``0.953`` -> ``'95.3%'``; '—' when not finite (a diverged run)."""
    return "—" if not math.isfinite(x) else f"{x:.1%}"


def key_box(items: Sequence[tuple[str, str]]) -> str:
    """The row of headline numbers: (label, value) pairs, each value large above its label."""
    return (
        '<div class="key">'
        + "".join(f"<div><b>{html.escape(v)}</b>{html.escape(k)}</div>" for k, v in items)
        + "</div>"
    )


def figure_html(images: Mapping[str, bytes], name: str, caption: str) -> str:
    """The ``<figure>`` of the PNG ``images[name]`` with its caption ('' when not drawn)."""
    if name not in images:
        return ""
    alt = FIGURES[name][2] if name in FIGURES else caption
    return (
        f"<figure>{img_tag(images[name], alt)}<figcaption>{html.escape(caption)}"
        f"</figcaption></figure>"
    )


def paragraph(text: str) -> str:
    """``<p>`` with ``text`` escaped."""
    return f"<p>{html.escape(text)}</p>"
