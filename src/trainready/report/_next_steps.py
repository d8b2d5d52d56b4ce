"""The report's closing section, "What to do with your own network", as data and as HTML.

:data:`OWN_NETWORK` holds the three commands and the three API calls, each with a one-line
example and what it does; :func:`section_own_network` renders them.

Example:
    >>> from trainready.report._next_steps import OWN_NETWORK, section_own_network
    >>> [step.example.split()[1] for step in OWN_NETWORK if step.kind == "command"]
    ['check', 'doctor', 'normalize']
    >>> "What to do with your own network" in section_own_network()
    True
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Literal

from ._blocks import paragraph

__all__ = ["OWN_NETWORK", "NextStep", "section_own_network"]


@dataclass(frozen=True)
class NextStep:
    """One line of the closing section: a command or an API call, its example and its use.

    Attributes:
        kind: ``"command"`` (a shell line) or ``"api"`` (a Python expression).
        example: the one-line example, exactly as a user types it.
        what: what it does, in words.
    """

    kind: Literal["command", "api"]
    example: str
    what: str


#: The closing section "What to do with your own network": three commands, three API calls.
OWN_NETWORK: tuple[NextStep, ...] = (
    NextStep(
        "command",
        "trainready check model.py:make_problem",
        "checks your backprop: make_problem() returns (loss, params, grads) for NumPy or "
        "(loss_fn, module) for PyTorch; exit 1 names the parameter, the element and the pattern",
    ),
    NextStep(
        "command",
        "trainready doctor model.py:make_model",
        "diagnoses the signal across depth: make_model() returns (model, X) or (model, X, y); "
        "each finding comes with a fix the doctor verified",
    ),
    NextStep(
        "command",
        "trainready normalize fit train.csv --out scaler.npz",
        "fits a scaler on the training CSV; then trainready normalize transform test.csv "
        "--scaler scaler.npz applies the same statistics to dev and test data",
    ),
    NextStep(
        "api",
        "rep = tr.gradcheck(cost, params, backprop)",
        "rep.verdict is ok, check or wrong; rep.params['W1'].worst_index and .hint say where "
        "and how",
    ),
    NextStep(
        "api",
        "diag = tr.diagnose(net, X)",
        "diag.findings: kind (vanishing, exploding, dead_units, ...), layer, message and a "
        "verified fix",
    ),
    NextStep(
        "api",
        "Z_test = tr.StandardScaler().fit(X_train).transform(X_test)",
        "training-set statistics reused for test data (scikit-learn's contract; save() and "
        "load() without pickle)",
    ),
)


def section_own_network() -> str:
    """The closing section: the three commands and the three API calls, one example each."""
    rows = []
    for kind, title in (("command", "From the shell"), ("api", "From Python")):
        rows.append(f"<h3>{title}</h3><table><tbody>")
        for step in (s for s in OWN_NETWORK if s.kind == kind):
            rows.append(
                f"<tr><td><code>{html.escape(step.example)}</code></td>"
                f"<td>{html.escape(step.what)}</td></tr>"
            )
        rows.append("</tbody></table>")
    return "\n".join(
        [
            '<h2 id="own">What to do with your own network</h2>',
            paragraph(
                "Install with pip install 'trainready[all]'. In Python, import trainready as tr; "
                "cost(params) is your whole cost (regularization included), backprop(params) "
                "your gradients by name, net your model and X a batch of its inputs. Check at "
                "initialization and again after some training."
            ),
            *rows,
        ]
    )
