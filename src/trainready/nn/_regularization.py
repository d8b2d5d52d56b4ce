"""When a gradient check of an L2-regularized network fails: which term's gradient is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from numpy.typing import NDArray

from ._engine import Backprop

__all__ = ["split_regularization"]

Array = NDArray[Any]


def split_regularization(
    net: Backprop, report: Any, X64: Array, Y64: Array, p64: dict[str, Array], options: Any
) -> Any:
    """Check the data term and the L2 term on their own: which one's gradient is wrong.

    The L2 strength is passed to the engine (``l2=``); the network is never changed. Returns
    ``report`` with a note naming the wrong term.
    """
    from ..gradcheck import check_terms

    def run(p: Mapping[str, Array], need: bool, with_l2: bool) -> Any:
        # the L2 strength is an argument of the engine: the network is never changed
        l2 = net.l2 if with_l2 else 0.0
        return net._cost_grads(p, X64, Y64, train=True, need_grads=need, l2=l2)

    def data_loss(p: Mapping[str, Array]) -> float:
        return float(run(p, False, False)[0])

    def data_grads(p: Mapping[str, Array]) -> Any:
        return run(p, True, False)[1]

    def l2_loss(p: Mapping[str, Array]) -> float:
        return float(run(p, False, True)[0]) - data_loss(p)

    def l2_grads(p: Mapping[str, Array]) -> Any:
        full, data = run(p, True, True)[1], run(p, True, False)[1]
        return {k: full[k] - data[k] for k in full}

    terms = check_terms(
        {"data": (data_loss, data_grads), "l2": (l2_loss, l2_grads)}, p64, **options
    )
    bad = [name for name, rep in terms.items() if not rep.passed]
    what = {
        (): "each term passes on its own, so the mismatch is in how they are combined",
        ("data",): "the data term's gradient is wrong; the L2 term's is right",
        ("l2",): "the L2 term's gradient is wrong (λ/m·W); the data term's is right",
        ("data", "l2"): "both the data term's and the L2 term's gradients are wrong",
    }[tuple(bad)]
    details = [f"{name}: {terms[name].summary()}" for name in bad]
    return replace(report, notes=(*report.notes, f"checked on their own: {what}", *details))
