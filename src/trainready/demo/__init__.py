"""The demo: the whole story of trainready on embedded data, computed (rendering lives apart).

:func:`run_demo` runs four sections and returns a frozen :class:`DemoResult`;
:func:`trainready.report.html.write_demo_report` draws the figures and writes the self-contained
``index.html``; ``trainready demo`` does both with progress bars and a terminal summary.

1. :mod:`~trainready.demo.normalization`: inputs on one scale (real data, raw vs standardized).
2. :mod:`~trainready.demo.depth`: vanishing and exploding signals (deep linear; a 50-layer ReLU
   network under zeros, N(0, 1), LeCun, He and LSUV).
3. :mod:`~trainready.demo.initialization`: the ``[2, 10, 5, 1]`` network from four
   initializations.
4. :mod:`~trainready.demo.gradchecking`: backprop checked, injected bugs localized, probe mode on
   a million parameters.

Example:
    >>> from trainready.demo import run_demo
    >>> result = run_demo(quick=True, sections=("gradcheck",))      # doctest: +SKIP
    >>> result.gradcheck.after_training.passed                       # doctest: +SKIP
    True
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .._optional import is_available
from ._common import ProgressFn, Settings, TrainingRun
from .depth import DepthResult, SchemeDiagnosis, run_depth
from .gradchecking import BugCase, GradcheckResult, run_gradcheck
from .initialization import BoundaryGrid, InitializationResult, InitRun, run_initialization
from .normalization import NormalizationResult, run_normalization

__all__ = [
    "SECTIONS",
    "BoundaryGrid",
    "BugCase",
    "DemoResult",
    "DepthResult",
    "GradcheckResult",
    "InitRun",
    "InitializationResult",
    "NormalizationResult",
    "ProgressFn",
    "SchemeDiagnosis",
    "Settings",
    "TrainingRun",
    "run_demo",
]

#: The sections in order: name -> (title, runner).
SECTIONS = ("normalization", "depth", "initialization", "gradcheck")


@dataclass(frozen=True)
class DemoResult:
    """Everything the demo computed.

    Attributes:
        settings: the :class:`Settings` used (full or quick).
        normalization, depth, initialization, gradcheck: each section's result, None when the
            section was not run.
        seconds: wall time per section.
        environment: versions and machine, for the report's footer.
    """

    settings: Settings
    normalization: NormalizationResult | None = None
    depth: DepthResult | None = None
    initialization: InitializationResult | None = None
    gradcheck: GradcheckResult | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        """Wall time of all sections."""
        return sum(self.seconds.values())


def _environment() -> dict[str, str]:
    import os

    import numpy as np

    from .. import __version__

    return {
        "trainready": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU(s)",
    }


def _blas_limit(threads: int | None) -> contextlib.AbstractContextManager[object]:
    if threads is None or not is_available("threadpoolctl"):
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")  # type: ignore[no-any-return]


def run_demo(
    quick: bool = False,
    *,
    rng: int = 0,
    progress: ProgressFn | None = None,
    sections: Sequence[str] = SECTIONS,
    blas_threads: int | None = 1,
) -> DemoResult:
    """Run the demo's sections and return what they measured.

    Args:
        quick: the short version (fewer epochs, smaller batches), for a first look and for CI.
        rng: seed of everything random (data, initializations, checks).
        progress: ``progress(step, done, total)``, called as steps advance (one name per step).
        sections: which of :data:`SECTIONS` to run, in any order (they run in the canonical one).
        blas_threads: BLAS threads while the demo runs (through ``threadpoolctl`` when it is
            installed; None leaves them alone). The demo's matrices are small (at most
            1000 x 1000): extra threads gain little on an idle machine and, measured on a shared
            2-core machine, made the 50-layer section 10x slower.

    Returns:
        A :class:`DemoResult`.

    Raises:
        ValueError: an unknown section name.
    """
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise ValueError(f"sections: unknown {unknown}; expected names from {SECTIONS}")
    if isinstance(rng, bool) or not isinstance(rng, int):
        raise TypeError(f"rng: the demo needs an int seed; got {type(rng).__name__}")
    settings = Settings.make(bool(quick))
    runners = {
        "normalization": run_normalization,
        "depth": run_depth,
        "initialization": run_initialization,
        "gradcheck": run_gradcheck,
    }
    results: dict[str, object] = {}
    seconds: dict[str, float] = {}
    with _blas_limit(blas_threads):
        for name in SECTIONS:
            if name not in sections:
                continue
            t0 = time.perf_counter()
            results[name] = runners[name](settings, rng=rng, progress=progress)
            seconds[name] = time.perf_counter() - t0
    return DemoResult(
        settings=settings,
        seconds=seconds,
        environment=_environment(),
        **results,  # type: ignore[arg-type]
    )
