"""Every trainready check for PyTorch models: gradients, initialization, the signal doctor.

The NumPy core does the maths; this package only moves tensors to named float64 arrays and back,
records per-layer statistics through hooks (:class:`ModuleRecorder`), shows LSUV a module layer
by layer (:class:`ModuleLayers`) and walks modules. Same names, arguments and result types as
the NumPy half (``diagnose(model, X, y=None, *, loss=None)``, ``init_``/``lsuv_`` tables).

- :func:`gradcheck` -- check autograd's gradient of ``loss_fn()`` for an ``nn.Module`` or tensors
  (parameters converted to float64 for the check, restored bit-exactly afterwards).
- :func:`check_function` -- check a custom ``torch.autograd.Function``'s backward, like
  ``torch.autograd.gradcheck`` but with a verdict, a location and a hint.
- :func:`init_` -- initialize every Linear/Conv layer for the nonlinearity that follows it.
- :func:`lsuv_` -- layer-sequential unit-variance initialization on a batch.
- :func:`diagnose` (and :func:`record`) -- the signal doctor through forward/backward hooks, with
  :mod:`trainready.signal`'s findings and verified fixes.
- :func:`gradient_monitor` -- a :class:`trainready.GradientMonitor` for a PyTorch training loop.

Needs the optional dependency ``torch`` (``pip install 'trainready[torch]'``). Inside this
package ``import torch`` is absolute and means PyTorch.

Example:
    >>> import torch, trainready as tr
    >>> model = torch.nn.Linear(3, 1)
    >>> X = torch.randn(5, 3)
    >>> tr.torch.gradcheck(lambda: model(X).pow(2).mean(), model).passed
    True
"""

from __future__ import annotations

from .._optional import require

require("torch", "trainready.torch")

from ._diagnose import ModuleRecorder, diagnose  # noqa: E402
from ._gradcheck import check_function, gradcheck  # noqa: E402
from ._init import InitRow, InitTable, init_  # noqa: E402
from ._loss import pick_loss  # noqa: E402
from ._loss_choice import LossChoice, choose_loss  # noqa: E402
from ._lsuv import LsuvRow, LsuvTable, ModuleLayers, lsuv_  # noqa: E402
from ._monitor import gradient_monitor  # noqa: E402
from ._record import record  # noqa: E402

__all__ = [
    "InitRow",
    "InitTable",
    "LossChoice",
    "LsuvRow",
    "LsuvTable",
    "ModuleLayers",
    "ModuleRecorder",
    "check_function",
    "choose_loss",
    "diagnose",
    "gradcheck",
    "gradient_monitor",
    "init_",
    "lsuv_",
    "pick_loss",
    "record",
]
