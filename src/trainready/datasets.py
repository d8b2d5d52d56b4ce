"""Small data sets for the reference network: four generated from an rng, one real and offline.

Every function returns a :class:`Dataset` (a frozen dataclass with ``X_train``, ``y_train``,
``X_test``, ``y_test``) in trainready's shape convention: ``X`` is ``(n_samples, n_features)``
float64, ``y`` is ``(n_samples,)`` int64 class labels. Generated sets draw train and test points
independently from the same distribution with the given ``rng`` (a Generator, an int seed or
None); they never touch NumPy's global random state. Only NumPy is imported;
:func:`digits` needs scikit-learn (the ``sklearn`` extra) and reads its bundled copy, no network.

======================  ==========  ========  =====================================================
function                features    classes   shape
======================  ==========  ========  =====================================================
:func:`circles`         2           2         two concentric rings (radius 1 and ``factor``)
:func:`moons`           2           2         two interleaving half circles
:func:`spirals`         2           K         K interleaved spiral arms (the CS231n toy set)
:func:`blobs`           d           K         K isotropic Gaussian clusters
:func:`digits`          64          10        8x8 handwritten digits (UCI, via scikit-learn)
======================  ==========  ========  =====================================================

Example:
    >>> from trainready.datasets import circles
    >>> data = circles(rng=0)
    >>> data.X_train.shape, data.y_train.shape, data.X_test.shape
    ((300, 2), (300,), (100, 2))
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Dataset", "blobs", "circles", "digits", "moons", "spirals"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Dataset:
    """Train and test splits.

    Attributes:
        X_train: (n_train, n_features) float64.
        y_train: (n_train,) int64 labels 0..n_classes-1.
        X_test: (n_test, n_features) float64.
        y_test: (n_test,) int64.
        name: the data set's name.
        n_classes: number of classes.
    """

    X_train: FloatArray
    y_train: IntArray
    X_test: FloatArray
    y_test: IntArray
    name: str
    n_classes: int

    @property
    def n_features(self) -> int:
        """Number of input features (columns of X)."""
        return int(self.X_train.shape[1])

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={self.X_train.shape}, test={self.X_test.shape}, "
            f"n_classes={self.n_classes})"
        )


def _gen(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(None if rng is None else int(rng))
    raise TypeError(
        f"rng must be a numpy.random.Generator, an int seed or None; got {type(rng).__name__}."
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _count(value: Any, name: str, minimum: int = 1) -> int:
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool | np.bool_)
        or value < minimum
    ):
        raise ValueError(
            f"{name}: expected an integer >= {minimum}; got {value!r}. Pass a whole number "
            "(True/False and floats are not counts)."
        )
    return int(value)


def _nonneg(value: Any, name: str) -> float:
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise ValueError(
            f"{name}: expected a finite number >= 0; got {value!r}. Pass a number such as 0.1 "
            "(True/False and strings are not numbers)."
        )
    return float(value)


def _fraction(value: Any, name: str, fix: str) -> float:
    if not _is_number(value) or not 0 < value < 1:
        raise ValueError(f"{name}: expected a number in (0, 1); got {value!r}. {fix}")
    return float(value)


def _split(
    sample: Callable[[int, np.random.Generator], tuple[FloatArray, IntArray]],
    n_train: int,
    n_test: int,
    rng: Any,
    name: str,
    n_classes: int,
) -> Dataset:
    n_train = _count(n_train, "n_train")
    n_test = _count(n_test, "n_test", minimum=0)
    gen = _gen(rng)
    X_tr, y_tr = sample(n_train, gen)
    X_te, y_te = sample(n_test, gen)
    return Dataset(X_tr, y_tr, X_te, y_te, name, n_classes)


def _balanced_labels(n: int, k: int, gen: np.random.Generator) -> IntArray:
    """n labels with class counts differing by at most one, in random order."""
    labels = np.arange(n, dtype=np.int64) % k
    gen.shuffle(labels)
    return labels


def circles(
    n_train: int = 300,
    n_test: int = 100,
    *,
    noise: float = 0.08,
    factor: float = 0.5,
    rng: Any = None,
) -> Dataset:
    """Two concentric rings: class 0 on radius 1, class 1 on radius ``factor``, plus noise.

    Points lie at a uniform angle; Gaussian noise of std ``noise`` is added to each coordinate.
    The classes are not linearly separable: a logistic regression stays near chance, a small ReLU
    network separates them (``[2, 10, 5, 1]`` with He initialization, 15000 full-batch epochs at
    lr 0.01 reaches about 99% train and test accuracy with the defaults).

    Args:
        n_train, n_test: number of points in each split (classes balanced to within one).
        noise: std of the Gaussian noise.
        factor: inner radius, in (0, 1).
        rng: Generator, int seed or None.

    Example:
        >>> float(circles(100, 50, rng=1).y_train.mean())
        0.5
    """
    noise = _nonneg(noise, "noise")
    factor = _fraction(factor, "factor", "It is the inner ring's radius, e.g. 0.5.")

    def sample(n: int, gen: np.random.Generator) -> tuple[FloatArray, IntArray]:
        y = _balanced_labels(n, 2, gen)
        t = gen.uniform(0.0, 2 * np.pi, n)
        r = np.where(y == 1, float(factor), 1.0)
        X = np.column_stack([r * np.cos(t), r * np.sin(t)])
        X += noise * gen.standard_normal((n, 2))
        return X, y

    return _split(sample, n_train, n_test, rng, "circles", 2)


def moons(n_train: int = 300, n_test: int = 100, *, noise: float = 0.1, rng: Any = None) -> Dataset:
    """Two interleaving half circles (scikit-learn's ``make_moons`` geometry).

    Class 0: ``(cos t, sin t)``; class 1: ``(1 - cos t, 0.5 - sin t)``, ``t`` uniform in [0, pi],
    plus Gaussian noise of std ``noise``.

    Example:
        >>> moons(rng=0).X_train.shape
        (300, 2)
    """
    noise = _nonneg(noise, "noise")

    def sample(n: int, gen: np.random.Generator) -> tuple[FloatArray, IntArray]:
        y = _balanced_labels(n, 2, gen)
        t = gen.uniform(0.0, np.pi, n)
        X = np.where(
            (y == 0)[:, None],
            np.column_stack([np.cos(t), np.sin(t)]),
            np.column_stack([1 - np.cos(t), 0.5 - np.sin(t)]),
        )
        X += noise * gen.standard_normal((n, 2))
        return X, y

    return _split(sample, n_train, n_test, rng, "moons", 2)


def spirals(
    n_train: int = 300,
    n_test: int = 100,
    *,
    n_classes: int = 3,
    noise: float = 0.2,
    turns: float = 1.0,
    rng: Any = None,
) -> Dataset:
    """``n_classes`` interleaved spiral arms (the CS231n "spiral" toy set).

    A point of class k at radius ``r`` (uniform in [0, 1]) has angle
    ``2 pi (turns r + k / n_classes)`` plus Gaussian angle noise of std ``noise`` (radians).

    Example:
        >>> spirals(n_classes=4, rng=0).n_classes
        4
    """
    k = _count(n_classes, "n_classes", minimum=2)
    noise = _nonneg(noise, "noise")
    turns = _nonneg(turns, "turns")

    def sample(n: int, gen: np.random.Generator) -> tuple[FloatArray, IntArray]:
        y = _balanced_labels(n, k, gen)
        r = gen.uniform(0.0, 1.0, n)
        theta = 2 * np.pi * (turns * r + y / k) + noise * gen.standard_normal(n)
        return np.column_stack([r * np.sin(theta), r * np.cos(theta)]), y

    return _split(sample, n_train, n_test, rng, "spirals", k)


def blobs(
    n_train: int = 300,
    n_test: int = 100,
    *,
    n_classes: int = 3,
    n_features: int = 2,
    spread: float = 1.0,
    center_box: float = 10.0,
    rng: Any = None,
) -> Dataset:
    """``n_classes`` isotropic Gaussian clusters (std ``spread``) around centers drawn uniformly
    in ``[-center_box, center_box]^n_features`` (the same centers for train and test).

    Example:
        >>> blobs(n_features=5, rng=0).X_test.shape
        (100, 5)
    """
    k = _count(n_classes, "n_classes", minimum=2)
    d = _count(n_features, "n_features")
    spread = _nonneg(spread, "spread")
    box = _nonneg(center_box, "center_box")
    gen = _gen(rng)
    centers = gen.uniform(-box, box, (k, d))

    def sample(n: int, g: np.random.Generator) -> tuple[FloatArray, IntArray]:
        y = _balanced_labels(n, k, g)
        return centers[y] + spread * g.standard_normal((n, d)), y

    return _split(sample, n_train, n_test, gen, "blobs", k)


def digits(*, test_fraction: float = 0.25, rng: Any = 0) -> Dataset:
    """The UCI 8x8 handwritten digits (1797 images, 10 classes), bundled with scikit-learn.

    Works offline (scikit-learn ships the file). ``X`` holds the raw pixel intensities 0..16 as
    float64, one image of 64 pixels per row (not normalized: see :mod:`trainready.normalize`);
    the split is a seeded shuffle stratified by class.

    Args:
        test_fraction: share of each class held out for testing, in (0, 1).
        rng: Generator, int seed or None for the split.

    Raises:
        trainready.errors.MissingDependencyError: scikit-learn is not installed
            (``pip install 'trainready[sklearn]'``).

    Example:
        >>> d = digits()                                     # doctest: +SKIP
        >>> d.X_train.shape[1], d.n_classes                  # doctest: +SKIP
        (64, 10)
    """
    from ._optional import require

    test_fraction = _fraction(test_fraction, "test_fraction", "Hold out e.g. 0.25 of each class.")
    sk_datasets = require("sklearn.datasets", "trainready.datasets.digits")
    bunch = sk_datasets.load_digits()
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    gen = _gen(rng)
    test_idx: list[NDArray[np.intp]] = []
    train_idx: list[NDArray[np.intp]] = []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        gen.shuffle(idx)
        n_test = round(len(idx) * test_fraction)
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    tr = gen.permutation(np.concatenate(train_idx))
    te = gen.permutation(np.concatenate(test_idx))
    return Dataset(X[tr], y[tr], X[te], y[te], "digits", 10)
