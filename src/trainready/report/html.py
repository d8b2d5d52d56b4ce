"""The demo's self-contained HTML report: figures embedded as base64 PNG, no external URL.

:func:`write_demo_report` draws every figure of a :class:`trainready.demo.DemoResult`, writes the
PNG files and one ``index.html`` that reads offline (inline CSS, ``data:`` images, no script).
:func:`render_demo_html` returns the page as a string. :func:`img_tag` and :func:`html_table` are
the building blocks.

Example:
    >>> from trainready.demo import run_demo                          # doctest: +SKIP
    >>> from trainready.report.html import write_demo_report          # doctest: +SKIP
    >>> files = write_demo_report(run_demo(quick=True), "trainready-report")  # doctest: +SKIP
    >>> files.index.name                                               # doctest: +SKIP
    'index.html'
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..demo import DemoResult

__all__ = ["DemoFiles", "html_table", "img_tag", "render_demo_html", "write_demo_report"]

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

_CSS = """
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
nav a{margin-right:1em}footer{margin-top:3em;color:#59636e;font-size:.85em}
"""


@dataclass(frozen=True)
class DemoFiles:
    """What :func:`write_demo_report` wrote.

    Attributes:
        index: the ``index.html`` path.
        figures: the PNG paths, in section order.
    """

    index: Path
    figures: tuple[Path, ...]


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


def _verdict_class(value: Any) -> str:
    v = str(value).lower()
    if v in ("ok", "passed", "caught", "healthy", "yes"):
        return "ok"
    if v in ("check",):
        return "check"
    if v in ("wrong", "missed", "no") or v.startswith("wrong"):
        return "wrong"
    return ""


def _g(x: float) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if x == 0:
        return "0"
    return f"{x:.3g}" if 1e-3 <= abs(x) < 1e5 else f"{x:.2e}"


def _pct(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{x:.1%}"


def _key(items: Sequence[tuple[str, str]]) -> str:
    return (
        '<div class="key">'
        + "".join(f"<div><b>{html.escape(v)}</b>{html.escape(k)}</div>" for k, v in items)
        + "</div>"
    )


def _figure(images: Mapping[str, bytes], name: str, caption: str) -> str:
    if name not in images:
        return ""
    alt = FIGURES[name][2] if name in FIGURES else caption
    return (
        f"<figure>{img_tag(images[name], alt)}<figcaption>{html.escape(caption)}"
        f"</figcaption></figure>"
    )


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


def _section_normalization(res: Any, images: Mapping[str, bytes]) -> str:
    raw, slow, std = res.runs
    findings = [
        {"kind": f.kind, "what was found": f.message, "fix": f.fix} for f in res.audit_raw.findings
    ]
    parts = [
        '<h2 id="normalization">1. Inputs on one scale</h2>',
        _p(
            f"Data: {res.dataset}; {res.n_train} training and {res.n_test} test rows. Feature "
            f"standard deviations span a factor {res.scale_ratio:.3g}. The scaler is fitted on "
            "the training split only and the same statistics transform the test split."
        ),
        _key(
            [
                ("std ratio, raw features", f"{res.scale_ratio:.2g}"),
                (f"test accuracy, {raw.label}", _pct(raw.test_accuracy)),
                (f"test accuracy, {slow.label}", _pct(slow.test_accuracy)),
                (f"test accuracy, {std.label}", _pct(std.test_accuracy)),
            ]
        ),
        _figure(
            images,
            "1_normalization.png",
            "Left: per-feature std of the training split, raw (red) and standardized (blue). "
            "Right: training cost of the same network from the same initialization. On raw "
            "inputs a learning rate that suits standardized inputs stalls; a small one learns "
            "slowly.",
        ),
        "<h3>What the input audit says about the raw training inputs</h3>",
        html_table(findings) if findings else _p("nothing to report"),
        _p(
            "After standardization: "
            + ("no finding." if res.audit_scaled.ok else str(res.audit_scaled))
        ),
        html_table(
            [
                {
                    "run": r.label,
                    "final cost": _g(r.final_loss),
                    "train accuracy": _pct(r.train_accuracy),
                    "test accuracy": _pct(r.test_accuracy),
                    "epochs": r.epochs,
                    "diverged": "yes" if r.diverged else "no",
                }
                for r in res.runs
            ],
            numeric=("final cost", "train accuracy", "test accuracy", "epochs"),
        ),
    ]
    return "\n".join(parts)


def _section_depth(res: Any, images: Mapping[str, bytes]) -> str:
    up, down = res.linear
    depth = len(res.layer_dims) - 1
    rows = []
    for s in res.schemes:
        d = s.diagnosis
        rows.append(
            {
                "initialization": s.label,
                "last hidden std": _g(s.last_std),
                "doctor": "healthy" if d.ok else ", ".join(dict.fromkeys(d.kinds())),
                "first finding and its verified fix": (
                    "" if d.ok else f"{d.findings[0].message} — fix: {d.findings[0].fix}"
                ),
            }
        )
    parts = [
        '<h2 id="depth">2. Vanishing and exploding signals</h2>',
        _p(
            f"A deep linear network whose every weight matrix is 1.5·I multiplies its input by "
            f"1.5^l at layer l: after {up.depth} layers by {up.activation_ratio[-1]:.3g} "
            f"(exactly 1.5^{up.depth} = {up.expected_activation[-1]:.3g}); with 0.5·I by "
            f"{down.activation_ratio[-1]:.3g}. Gradients follow the same powers backwards."
        ),
        _p(
            f"A {depth}-layer ReLU network of width {res.layer_dims[1]}, one batch of "
            f"{res.n_samples} standard-normal rows, under five initializations; "
            "trainready.diagnose judged each and verified its fix by re-running the statistics."
        ),
        _figure(
            images,
            "2_vanishing_exploding.png",
            "Left: the deep linear network, measured (dots) against the exact powers (lines). "
            "Middle: std of each hidden layer's output. Right: the backward signal per layer. "
            "He (Var = 2/n) and LSUV stay flat; LeCun (Var = 1/n) halves the variance per ReLU "
            "layer; N(0, 1) multiplies it by about n/2.",
        ),
        html_table(rows, numeric=("last hidden std",), classes={"doctor": _verdict_class}),
    ]
    return "\n".join(parts)


def _section_init(res: Any, images: Mapping[str, bytes]) -> str:
    rows = [
        {
            "initialization": r.run.label,
            "W1 std": _g(r.first_layer_std),
            "initial cost": _g(r.initial_loss),
            "final cost": _g(r.run.final_loss),
            "train accuracy": _pct(r.run.train_accuracy),
            "test accuracy": _pct(r.run.test_accuracy),
        }
        for r in res.runs
    ]
    return "\n".join(
        [
            '<h2 id="initialization">3. Initialization</h2>',
            _p(
                f"The {list(res.layer_dims)} ReLU network with a sigmoid output on {res.dataset}, "
                f"trained by full-batch gradient descent for {res.runs[0].run.epochs:,} epochs "
                f"at learning rate {res.runs[0].run.lr:g} from four initializations."
            ),
            html_table(
                rows,
                numeric=("W1 std", "initial cost", "final cost", "train accuracy", "test accuracy"),
            ),
            _figure(
                images,
                "3_init_cost.png",
                "Zeros never break the symmetry (every unit of a layer stays identical, the cost "
                "stays at log 2). Large random weights start with a huge cost (saturated sigmoid) "
                "and learn slowly. LeCun and He train.",
            ),
            _figure(
                images,
                "3_init_boundaries.png",
                "Decision boundaries after training (black line: probability 0.5).",
            ),
        ]
    )


def _section_gradcheck(res: Any, images: Mapping[str, bytes]) -> str:
    good = res.after_training
    bug_rows = []
    for i, case in enumerate(res.bugs, start=1):
        worst = case.report.failing[0] if case.report.failing else None
        bug_rows.append(
            {
                "#": i,
                "bug injected": case.bug,
                "verdict": case.report.verdict,
                "parameter named": worst.name if worst else "—",
                "worst element": (
                    case.report.summary().split(":", 1)[1].split(" — ")[0].strip() if worst else "—"
                ),
                "difference": _g(worst.difference) if worst else "—",
                "what it says": worst.hint if worst else "",
                "caught": "caught" if case.caught else "missed",
            }
        )
    pb = res.probe_buggy
    found = pb.failing[0] if pb.failing else None
    where = (
        pb.summary().split(":", 1)[1].split(" — ")[0].strip() if found is not None else "nothing"
    )
    params_rows = [
        {k: v for k, v in r.items() if k in ("param", "shape", "checked", "difference", "verdict")}
        for r in good.rows()
    ]
    return "\n".join(
        [
            '<h2 id="gradcheck">4. Gradient checking</h2>',
            _p(
                f"The {list(res.layer_dims)} network of section 3 (ReLU hidden units, sigmoid "
                f"output, L2 term λ = 0.7 in the cost) has {res.n_params} parameters. Its backprop "
                "is checked element by element (Richardson-extrapolated central differences with "
                "steps chosen from the loss's measured noise) at random initialization and after "
                f"training. After training, {len(good.kinks)} element(s) crossed a ReLU kink "
                "within the step: the check saw the left and right slopes disagree, re-checked "
                "them with a smaller step, and did not blame them."
            ),
            _key(
                [
                    ("difference at initialization", _g(res.at_init.difference)),
                    ("difference after training", _g(good.difference)),
                    ("verdict", good.verdict.upper()),
                    ("loss calls", f"{good.evaluations:,}"),
                ]
            ),
            html_table(
                params_rows, numeric=("checked", "difference"), classes={"verdict": _verdict_class}
            ),
            "<h3>Injected bugs: caught and localized</h3>",
            _p(
                "Each row changes one thing in the correct backward pass; the check must fail, "
                "name the parameter and say what the mismatch looks like."
            ),
            html_table(
                bug_rows,
                numeric=("#", "difference"),
                classes={"verdict": _verdict_class, "caught": _verdict_class},
            ),
            "<h3>Probe mode on a million parameters</h3>",
            _p(
                f"A one-hidden-layer tanh regression network {list(res.big_dims)} with "
                f"N = {res.big_n_params:,} parameters. The classic loop needs 2N = "
                f"{res.classic_calls:,} loss calls ({res.seconds_per_loss * 1e3:.2g} ms each "
                f"here, about {res.classic_seconds / 3600:.2g} h). Probe mode compares random "
                "directional derivatives, then bisects the mismatching direction to localize."
            ),
            _key(
                [
                    ("correct gradients: verdict", res.probe_correct.verdict.upper()),
                    ("loss calls (correct)", f"{res.probe_correct.evaluations:,}"),
                    ("element made 10% wrong", _index(res.probe_bug_index)),
                    ("probe mode found", where),
                    ("loss calls (buggy)", f"{pb.evaluations:,}"),
                ]
            ),
            _figure(
                images,
                "4_gradcheck.png",
                "Left: per-parameter relative difference for the correct backprop (≈1e-11) and "
                "each injected bug. Right: loss evaluations of probe mode against the classic "
                "element-by-element loop.",
            ),
        ]
    )


def _index(idx: Sequence[int]) -> str:
    return "W1[" + ", ".join(str(i) for i in idx) + "]"


def render_demo_html(result: DemoResult, images: Mapping[str, bytes]) -> str:
    """The report page for ``result`` with ``images`` (file name -> PNG bytes) embedded."""
    sections = []
    nav = []
    titles = {
        "normalization": "1. Normalization",
        "depth": "2. Vanishing / exploding",
        "initialization": "3. Initialization",
        "gradcheck": "4. Gradient checking",
    }
    renderers = {
        "normalization": _section_normalization,
        "depth": _section_depth,
        "initialization": _section_init,
        "gradcheck": _section_gradcheck,
    }
    for name, render in renderers.items():
        res = getattr(result, name)
        if res is None:
            continue
        nav.append(f'<a href="#{name}">{titles[name]}</a>')
        sections.append(render(res, images))
    env = ", ".join(f"{k} {v}" for k, v in result.environment.items())
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    mode = "quick" if result.settings.quick else "full"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>trainready demo report</title><style>{_CSS}</style></head><body>"
        "<h1>trainready: ready to train, and proved</h1>"
        '<p class="sub">Three things decide whether a deep network trains at all: inputs on one '
        "scale, a signal that neither vanishes nor explodes across depth, and gradients that are "
        f"right. This report shows each on embedded data ({mode} run).</p>"
        f"<nav>{''.join(nav)}</nav>" + "\n".join(sections) + f"<footer>Generated by "
        f"<code>trainready demo{' --quick' if result.settings.quick else ''}</code> in "
        f"{result.total_seconds:.1f} s ({html.escape(timing)}). {html.escape(env)}.</footer>"
        "</body></html>\n"
    )


def write_demo_report(
    result: DemoResult,
    out: str | os.PathLike[str],
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> DemoFiles:
    """Draw the figures, write them as PNG and write ``index.html`` into the folder ``out``.

    Args:
        result: what :func:`trainready.demo.run_demo` returned.
        out: the folder (created if missing; existing files of the same names are replaced).
        progress: ``progress(step, done, total)`` as figures are drawn.

    Returns:
        A :class:`DemoFiles` with the paths written.

    Raises:
        NotADirectoryError: ``out`` exists and is not a folder.
    """
    from . import demo_figures

    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(
            f"out: expected a folder for the report, but {str(folder)!r} is a file; pass another "
            "path (e.g. --out trainready-report)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    todo = [(n, spec) for n, spec in FIGURES.items() if getattr(result, spec[0]) is not None]
    images: dict[str, bytes] = {}
    paths = []
    step = "writing the report: figures"
    for i, (name, (section, func, _)) in enumerate(todo):
        if progress is not None:
            progress(step, i, len(todo))
        fig = getattr(demo_figures, func)(getattr(result, section))
        png = demo_figures.png_bytes(fig)
        path = folder / name
        path.write_bytes(png)
        images[name] = png
        paths.append(path)
    if progress is not None:
        progress(step, len(todo), len(todo))
    index = folder / "index.html"
    index.write_text(render_demo_html(result, images), encoding="utf-8")
    return DemoFiles(index, tuple(paths))
