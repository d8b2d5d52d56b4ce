"""Exceptions and warnings raised by trainready.

Every exception derives from a built-in one, so ``except ValueError`` keeps working; catch the
specific class to tell trainready's complaints apart. Messages name the argument, what was
expected, what was received and the fix.
"""

from __future__ import annotations

__all__ = [
    "ConstantFeatureWarning",
    "ConvergenceWarning",
    "FormatError",
    "MissingDependencyError",
    "NondeterministicLossError",
    "NotFittedError",
    "PrecisionWarning",
    "TrainingDivergedError",
    "TrainreadyWarning",
]


class TrainreadyWarning(UserWarning):
    """Base class of every warning trainready emits."""


class PrecisionWarning(TrainreadyWarning):
    """Inputs were promoted (e.g. float32 to float64) or a result is limited by precision."""


class ConstantFeatureWarning(TrainreadyWarning):
    """A feature has (near-)zero variance; its scale is set to 1."""


class ConvergenceWarning(TrainreadyWarning):
    """An iterative procedure (LSUV) stopped before reaching its goal; the result says how far."""


class NondeterministicLossError(RuntimeError):
    """The loss returned different values for the same parameters (dropout on, unseeded noise)."""


class NotFittedError(ValueError, AttributeError):
    """An estimator was used before ``fit`` (the same bases as scikit-learn's NotFittedError)."""


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite."""


class FormatError(ValueError):
    """A saved file is corrupted, foreign or of an unsupported format version."""


class MissingDependencyError(ImportError):
    """An optional dependency is needed; the message names the extra to install."""
