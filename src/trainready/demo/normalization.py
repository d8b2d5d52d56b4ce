"""Demo section 1: inputs on one scale.

A real data set whose features differ in scale by five orders of magnitude (the Wisconsin breast
cancer data bundled with scikit-learn, read offline; a generated stand-in without scikit-learn),
its feature scales before and after :class:`trainready.StandardScaler` (fitted on the training
split only), the input audit of both, and the same network trained on raw and on standardized
inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .._optional import is_available
from ..normalize import AuditReport, StandardScaler, audit
from ._common import ProgressFn, Settings, TrainingRun, fit_run

__all__ = ["NormalizationResult", "run_normalization"]

FloatArray = NDArray[np.float64]

LAYER_DIMS = (30, 16, 8, 1)
FAST_LR = 0.1  # what standardized inputs train well with
SLOW_LR = 0.001  # the largest rate of {0.1, 0.01, 0.001} at which the raw inputs learn at all


@dataclass(frozen=True)
class NormalizationResult:
    """What section 1 measured.

    Attributes:
        dataset: the data set's description.
        feature_names: one name per feature.
        n_train, n_test: split sizes.
        std_raw, std_scaled: ``(n_features,)`` per-feature std of the training split, before and
            after standardization.
        mean_raw, mean_scaled: the same for the mean.
        audit_raw, audit_scaled: :func:`trainready.audit` of the training inputs before and after.
        layer_dims: the network trained.
        runs: raw inputs at the fast rate, raw inputs at a slow rate, standardized inputs at the
            fast rate (same network, same seed).
    """

    dataset: str
    feature_names: tuple[str, ...]
    n_train: int
    n_test: int
    std_raw: FloatArray = field(repr=False)
    std_scaled: FloatArray = field(repr=False)
    mean_raw: FloatArray = field(repr=False)
    mean_scaled: FloatArray = field(repr=False)
    audit_raw: AuditReport = field(repr=False)
    audit_scaled: AuditReport = field(repr=False)
    layer_dims: tuple[int, ...]
    runs: tuple[TrainingRun, ...]

    @property
    def scale_ratio(self) -> float:
        """Largest over smallest feature std of the raw training inputs."""
        return float(self.std_raw.max() / self.std_raw.min())


def _load(rng: np.random.Generator) -> tuple[str, tuple[str, ...], FloatArray, NDArray[np.int64]]:
    if is_available("sklearn"):
        from sklearn.datasets import load_breast_cancer

        bunch = load_breast_cancer()
        names = tuple(str(n) for n in bunch.feature_names)
        return (
            "Wisconsin breast cancer (UCI; 569 tumours, 30 measurements, 2 classes; "
            "scikit-learn's bundled copy, offline)",
            names,
            np.asarray(bunch.data, dtype=np.float64),
            np.asarray(bunch.target, dtype=np.int64),
        )
    # A stand-in with the same problem: informative features on wildly different scales.
    n = 569
    y = (rng.random(n) < 0.5).astype(np.int64)
    scales = np.logspace(-3, 3, 30)
    offsets = 5 * scales
    X = (rng.standard_normal((n, 30)) + 0.8 * y[:, None]) * scales + offsets
    return (
        "generated: 30 Gaussian features, stds from 1e-3 to 1e3 (install scikit-learn for the "
        "real breast cancer data)",
        tuple(f"x{i}" for i in range(30)),
        X,
        y,
    )


def run_normalization(
    settings: Settings, *, rng: int = 0, progress: ProgressFn | None = None
) -> NormalizationResult:
    """Run section 1 (see the module docstring).

    Args:
        settings: the demo's settings (epochs).
        rng: seed of the split and of the networks' initialization.
        progress: ``progress(step, done, total)``.

    Returns:
        A :class:`NormalizationResult`.
    """
    from ..nn import MLP

    gen = np.random.default_rng(rng)
    dataset, names, X, y = _load(gen)
    idx = gen.permutation(len(X))
    n_test = len(X) // 4
    te, tr = idx[:n_test], idx[n_test:]
    X_train, y_train, X_test, y_test = X[tr], y[tr], X[te], y[te]
    scaler = StandardScaler().fit(X_train)  # training statistics only
    Z_train, Z_test = scaler.transform(X_train), scaler.transform(X_test)
    dims = (X.shape[1], *LAYER_DIMS[1:])
    epochs = settings.norm_epochs
    runs = []
    for label, data, lr in (
        (f"raw inputs, lr {FAST_LR:g}", (X_train, y_train, X_test, y_test), FAST_LR),
        (f"raw inputs, lr {SLOW_LR:g}", (X_train, y_train, X_test, y_test), SLOW_LR),
        (f"standardized inputs, lr {FAST_LR:g}", (Z_train, y_train, Z_test, y_test), FAST_LR),
    ):
        net = MLP(list(dims), activation="relu", output="sigmoid", init="he", rng=rng)
        runs.append(
            fit_run(
                label,
                net,
                data,
                lr=lr,
                epochs=epochs,
                progress=progress,
                step=f"1 normalization: {label}",
            )
        )
    return NormalizationResult(
        dataset=dataset,
        feature_names=names,
        n_train=len(tr),
        n_test=len(te),
        std_raw=X_train.std(axis=0),
        std_scaled=Z_train.std(axis=0),
        mean_raw=X_train.mean(axis=0),
        mean_scaled=Z_train.mean(axis=0),
        audit_raw=audit(X_train),
        audit_scaled=audit(Z_train),
        layer_dims=dims,
        runs=tuple(runs),
    )
