"""The signal doctor: what a network does to its signal, layer by layer, and what to change.

Deep networks fail silently when each layer multiplies the signal by a constant factor: after 50
layers a factor 0.41 (PyTorch's default U(±1/sqrt(n)) before ReLUs) leaves 3e-20 of it, a factor
11 (N(0, 1) at width 256) 1e52. This module separates two steps so that any framework can reuse
the second:

1. **record** (:func:`record`): push a batch forward and a gradient backward and keep, per layer,
   a frozen :class:`LayerRecord` -- pre-activation and activation mean and std, dead and saturated
   fractions, duplicate units, gradient norms and their ratio to the weights.
2. **judge** (:func:`judge`): turn a :class:`SignalRecord` into :class:`Finding` objects of a
   :class:`Kind` -- ``"vanishing"``, ``"exploding"``, ``"dead_units"``, ``"saturation"``,
   ``"symmetry"`` (plus ``"unnormalized_input"`` from :func:`trainready.normalize.audit`).
3. **verify** (:func:`examine`): try each finding's :class:`Fix` on a copy and keep the first
   that clears the line.

:func:`diagnose` does all three for the reference network; an adapter does the same by
implementing :class:`Recorder` (``trainready.torch`` does, with hooks).
:func:`deep_linear` is the textbook experiment (``W = scale * I``: exact powers of ``scale``).
Figures live in :mod:`trainready.report.signal_plots`.

Example:
    >>> import numpy as np, trainready as tr
    >>> r = tr.signal.deep_linear(50, 0.5)
    >>> float(r.activation_ratio[-1]) == 0.5**50
    True
"""

from __future__ import annotations

from ..init import required_gain
from ._diagnose import Diagnosis, diagnose
from ._experiments import DeepLinear, compare, deep_linear
from ._findings import Finding, Thresholds, backward_ratio, forward_ratio, judge
from ._kinds import KINDS, Fix, Kind, Measure
from ._mlp import MLPRecorder, Network, as_network, record, standardize_columns
from ._record import LayerRecord, Recorder, SignalRecord
from ._stats import SATURATION_Z, LayerStats, duplicate_fraction, probe_gradient
from ._verify import VERIFY_ROWS, examine

__all__ = [
    "KINDS",
    "SATURATION_Z",
    "VERIFY_ROWS",
    "DeepLinear",
    "Diagnosis",
    "Finding",
    "Fix",
    "Kind",
    "LayerRecord",
    "LayerStats",
    "MLPRecorder",
    "Measure",
    "Network",
    "Recorder",
    "SignalRecord",
    "Thresholds",
    "as_network",
    "backward_ratio",
    "compare",
    "deep_linear",
    "diagnose",
    "duplicate_fraction",
    "examine",
    "forward_ratio",
    "judge",
    "probe_gradient",
    "record",
    "required_gain",
    "standardize_columns",
]
