"""trainready: make a deep network ready to train, and prove it.

Three checks decide whether a deep network trains at all: inputs on one scale
(:mod:`trainready.normalize`), a signal that neither vanishes nor explodes across depth
(:mod:`trainready.init`, :mod:`trainready.signal`), and gradients that are right
(:mod:`trainready.gradcheck`).

``import trainready`` imports NumPy and nothing heavier; ``trainready.torch``, the reports and the
CLI load their optional dependencies on first use.

Example:
    >>> import numpy as np, trainready as tr
    >>> rep = tr.gradcheck(lambda p: float(np.sum(p["w"] ** 2)), {"w": np.arange(3.0)},
    ...                    {"w": 2 * np.arange(3.0)})
    >>> rep.passed
    True
"""

from __future__ import annotations

import importlib
from typing import Any

from . import (
    datasets,
    errors,
    gradcheck,  # the package, callable as the function gradcheck (see its docstring)
    init,
    nn,
    normalize,
    signal,
)
from ._params import ParamSpec, params_to_vector, vector_to_params
from .gradcheck import GradcheckReport, GradientMonitor, check_derivative, check_hvp, check_layer
from .normalize import MinMaxScaler, StandardScaler, audit
from .signal import diagnose

__version__ = "0.1.0"

__all__ = [
    "GradcheckReport",
    "GradientMonitor",
    "MinMaxScaler",
    "ParamSpec",
    "StandardScaler",
    "__version__",
    "audit",
    "check_derivative",
    "check_hvp",
    "check_layer",
    "datasets",
    "diagnose",
    "errors",
    "gradcheck",
    "init",
    "nn",
    "normalize",
    "params_to_vector",
    "signal",
    "vector_to_params",
]

# Submodules loaded on first attribute access (they import optional dependencies).
_LAZY_SUBMODULES = frozenset({"torch", "jax", "report", "cli", "testing", "demo"})


def __getattr__(name: str) -> Any:
    if name in _LAZY_SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
