"""Demo section 2: vanishing and exploding signals.

The deep linear experiment (every ``W = 1.5 I`` or ``0.5 I``: the signal is multiplied by 1.5^l or
0.5^l), then a 50-layer ReLU network of width 256 under five initializations -- zeros, N(0, 1),
LeCun (``Var = 1/n``, LeCun et al. 1998), He (``Var = 2/n``, He et al. 2015) and LSUV (Mishkin &
Matas 2016) -- each measured and judged by :func:`trainready.diagnose`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._common import ProgressFn, Settings, notify

if TYPE_CHECKING:
    from ..signal import DeepLinear, Diagnosis

__all__ = ["DepthResult", "SchemeDiagnosis", "run_depth"]

#: (label, scheme of trainready.init.initialize or "lsuv", init_scale)
SCHEMES: tuple[tuple[str, str, float], ...] = (
    ("zeros", "zeros", 1.0),
    ("N(0, 1)", "random", 1.0),
    ("LeCun", "lecun", 1.0),
    ("He", "he", 1.0),
    ("LSUV", "lsuv", 1.0),
)
LINEAR_SCALES = (1.5, 0.5)


@dataclass(frozen=True)
class SchemeDiagnosis:
    """One initialization of the deep ReLU network and what the doctor said.

    Attributes:
        label: the scheme's display name.
        scheme: its name in :func:`trainready.init.initialize` (or ``"lsuv"``).
        diagnosis: the :class:`trainready.signal.Diagnosis` (``.record`` has every layer).
    """

    label: str
    scheme: str
    diagnosis: Diagnosis

    @property
    def last_std(self) -> float:
        """Std of the last hidden layer's activations (the signal that reaches the output)."""
        return float(self.diagnosis.record.layers[-2].a_std)


@dataclass(frozen=True)
class DepthResult:
    """What section 2 measured.

    Attributes:
        linear: one :class:`trainready.signal.DeepLinear` per scale of ``LINEAR_SCALES``.
        layer_dims: the deep ReLU network.
        n_samples: rows of the batch pushed through it.
        schemes: one :class:`SchemeDiagnosis` per initialization.
    """

    linear: tuple[DeepLinear, ...]
    layer_dims: tuple[int, ...]
    n_samples: int
    schemes: tuple[SchemeDiagnosis, ...]


def run_depth(
    settings: Settings, *, rng: int = 0, progress: ProgressFn | None = None
) -> DepthResult:
    """Run section 2 (see the module docstring).

    Args:
        settings: the demo's settings (depth, width, batch).
        rng: seed of the batch and of the initializations.
        progress: ``progress(step, done, total)``.
    """
    from ..init import lsuv_
    from ..nn import MLP
    from ..signal import deep_linear, diagnose

    depth = settings.depth
    linear = tuple(deep_linear(depth, s, rng=rng) for s in LINEAR_SCALES)
    dims = (settings.width, *([settings.width] * (depth - 1)), 1)
    X = np.random.default_rng(rng).standard_normal((settings.batch, settings.width))
    step = f"2 vanishing/exploding: {depth}-layer ReLU network, 5 initializations"
    out = []
    for i, (label, scheme, scale) in enumerate(SCHEMES):
        notify(progress, step, i, len(SCHEMES))
        net = MLP(
            list(dims),
            activation="relu",
            output="linear",
            init="orthogonal" if scheme == "lsuv" else scheme,
            init_scale=scale,
            rng=rng,
        )
        if scheme == "lsuv":
            lsuv_(net, X, rng=rng)
        with np.errstate(over="ignore", invalid="ignore"):
            diag = diagnose(net, X, rng=rng)
        out.append(SchemeDiagnosis(label, scheme, diag))
    notify(progress, step, len(SCHEMES), len(SCHEMES))
    return DepthResult(linear, dims, settings.batch, tuple(out))
