"""trainready's gradient checks for JAX: pytrees of arrays, ``jax.grad`` and ``jax.vjp``.

The NumPy core does the maths; this package only turns pytrees into named float64 arrays and
back, computes the analytic gradient once with JAX (with 64-bit types enabled for the check
only) and hands both to :func:`trainready.gradcheck`.

- :func:`gradcheck` -- check ``jax.grad(loss_fn)(params)`` for any pytree of arrays.
- :func:`check_function` -- the counterpart of ``jax.test_util.check_grads(fn, args, order=1,
  modes=("rev",))``, with a verdict, a location and a hint.
- :func:`init_` and :func:`lsuv_` -- ``trainready.torch.init_``/``lsuv_`` for Flax NNX models
  (needs ``flax``).
- :func:`diagnose` (and :func:`record`) -- the signal doctor for Flax NNX models (probes on
  every Linear/Conv output), with :mod:`trainready.signal`'s findings and verified fixes.

Needs the optional dependency ``jax`` (``pip install 'trainready[jax]'``). Inside this package
``import jax`` is absolute and means JAX.

Example:
    >>> import jax.numpy as jnp, trainready as tr
    >>> params = {"w": jnp.arange(3.0), "b": jnp.ones(2)}
    >>> tr.jax.gradcheck(lambda p: jnp.sum(p["w"] ** 2) + jnp.sum(p["b"]), params).passed
    True
"""

from __future__ import annotations

from .._optional import require

require("jax", "trainready.jax")

from ._diagnose import NNXRecorder, diagnose  # noqa: E402
from ._gradcheck import check_function, gradcheck  # noqa: E402
from ._init import init_  # noqa: E402
from ._loss_choice import choose_loss, pick_loss  # noqa: E402
from ._lsuv import lsuv_  # noqa: E402
from ._monitor import gradient_monitor  # noqa: E402
from ._record import record  # noqa: E402
from ._tree import leaf_name  # noqa: E402

__all__ = [
    "NNXRecorder",
    "check_function",
    "choose_loss",
    "diagnose",
    "gradcheck",
    "gradient_monitor",
    "init_",
    "leaf_name",
    "lsuv_",
    "pick_loss",
    "record",
]
