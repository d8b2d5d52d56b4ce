"""Numerical gradient checking that says whether backprop is wrong, where, and how.

Re-exports :func:`gradcheck`, :func:`check_derivative`, :func:`check_layer` (one layer's
``backward(dout, cache)``), :func:`numeric_gradient` and the report classes.

``trainready.gradcheck`` is this package *and* the function: the package module is callable
(``tr.gradcheck(loss, params, grads)`` calls :func:`gradcheck`), so that after
``import trainready.gradcheck`` its members (``trainready.gradcheck.numeric_gradient``) are
there too.
"""

import inspect
import sys
import types
from typing import Any

from ._check import AUTO_FULL_MAX, gradcheck, numeric_gradient
from ._derivative import DerivativeCheck, check_derivative
from ._hvp import check_hvp
from ._layer import InPlaceWarning, check_layer
from ._monitor import GradientMonitor, check_terms, summarize_checks
from ._report import GradcheckReport, Kink, ParamResult, Probe

__all__ = [
    "AUTO_FULL_MAX",
    "DerivativeCheck",
    "GradcheckReport",
    "GradientMonitor",
    "InPlaceWarning",
    "Kink",
    "ParamResult",
    "Probe",
    "check_derivative",
    "check_hvp",
    "check_layer",
    "check_terms",
    "gradcheck",
    "numeric_gradient",
    "summarize_checks",
]


class _CallablePackage(types.ModuleType):
    """This package, callable as :func:`gradcheck` (the function of the same name)."""

    def __call__(self, *args: Any, **kwargs: Any) -> GradcheckReport:
        return gradcheck(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
sys.modules[__name__].__signature__ = inspect.signature(gradcheck)  # type: ignore[attr-defined]
