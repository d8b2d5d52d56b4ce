"""The doctor's decisions as data: kinds of finding, what each measures, and the fixes it tries.

These are ``StrEnum`` members, so ``finding.kind == "vanishing"`` and JSON output keep working;
the code that chooses a measure or a fix reads the member, never a display string.

Example:
    >>> Kind.VANISHING == "vanishing", Measure.FORWARD_RATIO.label
    (True, 'last-layer / first-layer pre-activation std')
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["KINDS", "Fix", "Kind", "Measure"]


class Kind(StrEnum):
    """What a finding is about, in the order findings are reported."""

    SYMMETRY = "symmetry"
    UNNORMALIZED_INPUT = "unnormalized_input"
    EXPLODING = "exploding"
    VANISHING = "vanishing"
    DEAD_UNITS = "dead_units"
    SATURATION = "saturation"


#: The kinds of finding, in the order they are reported (plain strings).
KINDS: tuple[str, ...] = tuple(k.value for k in Kind)


class Measure(StrEnum):
    """What a finding's ``value`` measures (``label`` is the words)."""

    NONFINITE = "nonfinite"
    FORWARD_RATIO = "forward_ratio"
    BACKWARD_RATIO = "backward_ratio"
    DEAD_FRACTION = "dead_fraction"
    SATURATED_FRACTION = "saturated_fraction"
    DUPLICATE_FRACTION = "duplicate_fraction"
    INPUT_AUDIT = "input_audit"

    @property
    def label(self) -> str:
        """The measure in words (``Finding.quantity``)."""
        return _LABELS[self]


_LABELS = {
    Measure.NONFINITE: "non-finite values",
    Measure.FORWARD_RATIO: "last-layer / first-layer pre-activation std",
    Measure.BACKWARD_RATIO: "first-layer / last-layer ||dLoss/dz||_F",
    Measure.DEAD_FRACTION: "fraction of a ReLU layer's units that are zero for every example",
    Measure.SATURATED_FRACTION: "fraction of tanh/sigmoid pre-activations beyond ±5",
    Measure.DUPLICATE_FRACTION: "fraction of a layer's units that duplicate another unit",
    Measure.INPUT_AUDIT: "input audit",
}


class Fix(StrEnum):
    """A change the doctor tries on a copy (an adapter says how, and in what words)."""

    REINIT = "reinit"  # the scheme each activation needs (He before ReLU, LeCun elsewhere)
    LSUV = "lsuv"
    STANDARDIZE = "standardize"  # the inputs, with their mean and std
    LEAKY_RELU = "leaky_relu"  # ReLU -> leaky ReLU (slope 0.01), then REINIT
