"""The report's sections, one function per section, each reading fields of a frozen result.

A section function takes its section's result (``DemoResult.normalization``, ...) and the drawn
PNGs (file name -> bytes) and returns HTML. Numbers come from the result's fields, never from its
``str()`` or ``summary()`` text (the closing section is in :mod:`._next_steps`).

Example:
    >>> from trainready.report._sections import section_initialization
    >>> section_initialization.__doc__.split(":")[0]
    'Section 3'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ..gradcheck._hints import format_index
from ._blocks import (
    figure_html,
    fmt_number,
    fmt_percent,
    html_table,
    key_box,
    paragraph,
    verdict_class,
)

if TYPE_CHECKING:
    from ..demo import DepthResult, GradcheckResult, InitializationResult, NormalizationResult
    from ..gradcheck import GradcheckReport
    from ..normalize import AuditFinding

__all__ = [
    "section_depth",
    "section_gradcheck",
    "section_initialization",
    "section_normalization",
    "worst_element",
]


def _findings_table(findings: Sequence[AuditFinding]) -> str:
    rows = [{"kind": f.kind, "what was found": f.message, "fix": f.fix} for f in findings]
    return html_table(rows) if rows else paragraph("nothing to report")


def section_normalization(res: NormalizationResult, images: Mapping[str, bytes]) -> str:
    """Section 1: feature scales, the input audit, raw vs standardized training."""
    raw, slow, std = res.runs
    parts = [
        '<h2 id="normalization">1. Inputs on one scale</h2>',
        paragraph(
            f"Data: {res.dataset}; {res.n_train} training and {res.n_test} test rows. Feature "
            f"standard deviations span a factor {res.scale_ratio:.3g}. The scaler is fitted on "
            "the training split only and the same statistics transform the test split."
        ),
        key_box(
            [
                ("std ratio, raw features", f"{res.scale_ratio:.2g}"),
                (f"test accuracy, {raw.label}", fmt_percent(raw.test_accuracy)),
                (f"test accuracy, {slow.label}", fmt_percent(slow.test_accuracy)),
                (f"test accuracy, {std.label}", fmt_percent(std.test_accuracy)),
            ]
        ),
        figure_html(
            images,
            "1_normalization.png",
            "Left: per-feature std of the training split, raw (red) and standardized (blue). "
            "Right: training cost of the same network from the same initialization. On raw "
            "inputs a learning rate that suits standardized inputs stalls; a small one learns "
            "slowly.",
        ),
        "<h3>What the input audit says about the raw training inputs</h3>",
        _findings_table(res.audit_raw.findings),
        "<h3>... and about the standardized training inputs</h3>",
        _findings_table(res.audit_scaled.findings),
        html_table(
            [
                {
                    "run": r.label,
                    "final cost": fmt_number(r.final_loss),
                    "train accuracy": fmt_percent(r.train_accuracy),
                    "test accuracy": fmt_percent(r.test_accuracy),
                    "epochs": r.epochs,
                    "diverged": "yes" if r.diverged else "no",
                }
                for r in res.runs
            ],
            numeric=("final cost", "train accuracy", "test accuracy", "epochs"),
        ),
    ]
    return "\n".join(parts)


def section_depth(res: DepthResult, images: Mapping[str, bytes]) -> str:
    """Section 2: deep linear powers and a deep ReLU network under five initializations."""
    up, down = res.linear
    depth = len(res.layer_dims) - 1
    rows = []
    for s in res.schemes:
        d = s.diagnosis
        first = d.findings[0] if d.findings else None
        rows.append(
            {
                "initialization": s.label,
                "last hidden std": fmt_number(s.last_std),
                "doctor": "healthy" if d.ok else ", ".join(dict.fromkeys(d.kinds())),
                "first finding and its verified fix": (
                    "" if first is None else f"{first.message} — fix: {first.fix}"
                ),
            }
        )
    healthy = [s.label for s in res.schemes if s.diagnosis.ok]
    spread = max(
        (float(np.max(a) / np.min(a)) for a in _hidden_stds(res, healthy) if np.min(a) > 0),
        default=float("nan"),
    )
    parts = [
        '<h2 id="depth">2. Vanishing and exploding signals</h2>',
        paragraph(
            f"A deep linear network whose every weight matrix is 1.5·I multiplies its input by "
            f"1.5^l at layer l: after {up.depth} layers by {up.activation_ratio[-1]:.3g} "
            f"(exactly 1.5^{up.depth} = {up.expected_activation[-1]:.3g}); with 0.5·I by "
            f"{down.activation_ratio[-1]:.3g}. Gradients follow the same powers backwards."
        ),
        paragraph(
            f"A {depth}-layer ReLU network of width {res.layer_dims[1]}, one batch of "
            f"{res.n_samples} standard-normal rows, under five initializations; "
            "trainready.diagnose judged each and verified its fix by re-running the statistics."
        ),
        figure_html(
            images,
            "2_vanishing_exploding.png",
            "Left: the deep linear network, measured (dots) against the exact powers (lines). "
            "Top: std of each hidden layer's output and the backward signal per layer, every "
            "initialization on one log axis. Bottom: the same for the initializations the doctor "
            f"judged healthy ({', '.join(healthy) or 'none'}) on a linear axis, where they can "
            "be told apart: across the layers each one's std varies by at most a factor "
            f"{spread:.2g}. LeCun (Var = 1/n) halves the variance per ReLU layer; N(0, 1) "
            "multiplies it by about n/2.",
        ),
        html_table(rows, numeric=("last hidden std",), classes={"doctor": verdict_class}),
    ]
    return "\n".join(parts)


def _hidden_stds(res: DepthResult, labels: Sequence[str]) -> list[NDArray[np.float64]]:
    """The hidden layers' activation std of the schemes named ``labels``."""
    return [s.diagnosis.record.column("a_std")[:-1] for s in res.schemes if s.label in labels]


def section_initialization(res: InitializationResult, images: Mapping[str, bytes]) -> str:
    """Section 3: the small network from four initializations, curves and boundaries."""
    rows = [
        {
            "initialization": r.run.label,
            "W1 std": fmt_number(r.first_layer_std),
            "initial cost": fmt_number(r.initial_loss),
            "final cost": fmt_number(r.run.final_loss),
            "train accuracy": fmt_percent(r.run.train_accuracy),
            "test accuracy": fmt_percent(r.run.test_accuracy),
        }
        for r in res.runs
    ]
    return "\n".join(
        [
            '<h2 id="initialization">3. Initialization</h2>',
            paragraph(
                f"The {list(res.layer_dims)} ReLU network with a sigmoid output on {res.dataset}, "
                f"trained by full-batch gradient descent for {res.runs[0].run.epochs:,} epochs "
                f"at learning rate {res.runs[0].run.lr:g} from four initializations."
            ),
            html_table(
                rows,
                numeric=("W1 std", "initial cost", "final cost", "train accuracy", "test accuracy"),
            ),
            figure_html(
                images,
                "3_init_cost.png",
                "Zeros never break the symmetry (every unit of a layer stays identical, the cost "
                "stays at log 2). Large random weights start with a huge cost (saturated sigmoid) "
                "and learn slowly. LeCun and He train.",
            ),
            figure_html(
                images,
                "3_init_boundaries.png",
                "Decision boundaries after training: the training points by class, the network's "
                "probability of class 1 as background colour and the boundary where it is 0.5 "
                "(black line); each panel's title has the train and test accuracy.",
            ),
        ]
    )


def worst_element(rep: GradcheckReport) -> str:
    """Where ``rep`` is worst, as ``'W2[1, 3]'`` (a parameter name alone for a scalar); '—'
    when every parameter passed. Read from ``rep.failing`` and its ``worst_index``."""
    worst = rep.failing[0] if rep.failing else None
    if worst is None:
        return "—"
    return worst.name if worst.worst_index is None else format_index(worst.name, worst.worst_index)


def section_gradcheck(res: GradcheckResult, images: Mapping[str, bytes]) -> str:
    """Section 4: the reference network's backprop, injected bugs, probe mode."""
    from ..gradcheck._report import CHECK_BELOW, OK_BELOW

    init, good = res.at_init, res.after_training
    bug_rows = []
    for i, case in enumerate(res.bugs, start=1):
        worst = case.report.failing[0] if case.report.failing else None
        bug_rows.append(
            {
                "#": i,
                "bug injected": case.bug,
                "verdict": case.report.verdict,
                "parameter named": worst.name if worst else "—",
                "worst element": worst_element(case.report),
                "difference": fmt_number(worst.difference) if worst else "—",
                "what it says": worst.hint if worst else "",
                "caught": "caught" if case.caught else "missed",
            }
        )
    pb = res.probe_buggy
    params_rows = [
        {
            "param": p.name,
            "shape": "×".join(map(str, p.shape)) or "scalar",
            "checked": p.checked,
            "difference": fmt_number(p.difference),
            "verdict": p.verdict,
        }
        for p in good.params.values()
    ]
    correct = [p.difference for p in good.params.values()]
    trained = f"after {res.train_epochs:,} epochs of training"
    return "\n".join(
        [
            '<h2 id="gradcheck">4. Gradient checking</h2>',
            paragraph(
                f"The {list(res.layer_dims)} network of section 3 (ReLU hidden units, sigmoid "
                f"output, L2 term λ = {res.l2:g} in the cost) has {res.n_params} parameters. Its "
                "backprop is checked element by element (central differences with steps chosen "
                "from the loss's measured noise) at random initialization and again "
                f"{trained}. In the trained check, {len(good.kinks)} element(s) crossed a ReLU "
                "kink within the step: the check saw the left and right slopes disagree, "
                "re-checked them with a smaller step, and did not blame them."
            ),
            key_box(
                [
                    ("verdict at initialization", init.verdict.upper()),
                    ("difference at initialization", fmt_number(init.difference)),
                    (f"verdict {trained}", good.verdict.upper()),
                    ("difference after training", fmt_number(good.difference)),
                    ("loss calls of the check after training", f"{good.evaluations:,}"),
                ]
            ),
            paragraph(f"Per parameter, {trained}:"),
            html_table(
                params_rows, numeric=("checked", "difference"), classes={"verdict": verdict_class}
            ),
            "<h3>Injected bugs: caught and localized</h3>",
            paragraph(
                "Each row changes one thing in the correct backward pass of the trained network; "
                "the check must fail, name the parameter and say what the mismatch looks like."
            ),
            html_table(
                bug_rows,
                numeric=("#", "difference"),
                classes={"verdict": verdict_class, "caught": verdict_class},
            ),
            "<h3>Probe mode on a million parameters</h3>",
            paragraph(
                f"A one-hidden-layer tanh regression network {list(res.big_dims)} with "
                f"N = {res.big_n_params:,} parameters. The classic loop needs 2N = "
                f"{res.classic_calls:,} loss calls ({res.seconds_per_loss * 1e3:.2g} ms each "
                f"here, about {res.classic_seconds / 3600:.2g} h). Probe mode compares random "
                "directional derivatives, then bisects the mismatching direction to localize."
            ),
            key_box(
                [
                    ("correct gradients: verdict", res.probe_correct.verdict.upper()),
                    ("loss calls (correct)", f"{res.probe_correct.evaluations:,}"),
                    ("element made 10% wrong", format_index("W1", res.probe_bug_index)),
                    ("probe mode found", worst_element(pb) if pb.failing else "nothing"),
                    ("loss calls (buggy)", f"{pb.evaluations:,}"),
                ]
            ),
            figure_html(
                images,
                "4_gradcheck.png",
                f"Left: each parameter's relative difference {trained}, for the correct "
                f"backprop ({fmt_number(min(correct))} to {fmt_number(max(correct))}; "
                f"{fmt_number(good.difference)} over the whole vector) and for each injected "
                f"bug, against the verdict's lines: ok below {OK_BELOW:g}, check from "
                f"{OK_BELOW:g}, wrong from {CHECK_BELOW:g}. Right: loss evaluations of probe "
                f"mode ({res.probe_correct.evaluations:,} with correct gradients, "
                f"{pb.evaluations:,} to find the wrong element) against the classic "
                f"element-by-element loop's 2N = {res.classic_calls:,}.",
            ),
        ]
    )
