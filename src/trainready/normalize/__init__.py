"""Inputs on one scale: exact streaming scalers, their persistence, and an input audit.

``StandardScaler`` and ``MinMaxScaler`` follow scikit-learn's contract (``fit``, ``partial_fit``,
``transform``, ``inverse_transform``, fitted attributes ending in ``_``) and add exact streaming
moments (shifted float64 passes merged with Chan et al. 1979), per-channel statistics of N-D data,
torch / pandas / dask inputs, ``nan_policy`` and pickle-free persistence. ``audit(X)`` says whether
inputs are finite, centered and on one scale, with the fix.

Example:
    >>> import numpy as np
    >>> from trainready.normalize import audit
    >>> audit(np.random.default_rng(0).normal(size=(100, 3))).ok
    True
"""

from __future__ import annotations

from ..errors import ConstantFeatureWarning, FormatError
from ._audit import AuditFinding, AuditReport, audit
from ._io import FORMAT_VERSION, load, save
from ._moments import RunningMoments
from ._scalers import MinMaxScaler, StandardScaler

__all__ = [
    "FORMAT_VERSION",
    "AuditFinding",
    "AuditReport",
    "ConstantFeatureWarning",
    "FormatError",
    "MinMaxScaler",
    "RunningMoments",
    "StandardScaler",
    "audit",
    "load",
    "save",
]
