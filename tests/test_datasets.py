"""trainready.datasets: shapes, seeding, geometry against closed forms, digits against
scikit-learn's copy, and errors."""

from __future__ import annotations

import numpy as np
import pytest

from trainready import datasets
from trainready.datasets import Dataset, blobs, circles, digits, moons, spirals

GENERATED = [circles, moons, spirals, blobs]


@pytest.mark.parametrize("make", GENERATED, ids=lambda f: f.__name__)
def test_shapes_dtypes_and_balance(make) -> None:
    d = make(n_train=120, n_test=30, rng=0)
    assert isinstance(d, Dataset)
    assert d.X_train.shape == (120, d.n_features) and d.X_test.shape == (30, d.n_features)
    assert d.y_train.shape == (120,) and d.y_test.shape == (30,)
    assert d.X_train.dtype == np.float64 and d.y_train.dtype == np.int64
    counts = np.bincount(d.y_train, minlength=d.n_classes)
    assert counts.max() - counts.min() <= 1 and len(counts) == d.n_classes
    with pytest.raises(AttributeError):
        d.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize("make", GENERATED, ids=lambda f: f.__name__)
def test_seeded_and_independent_of_the_global_state(make) -> None:
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - checks the global state
    a, b = make(rng=3), make(rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.X_train, make(rng=4).X_train)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002
    # train and test are different draws
    assert not np.array_equal(a.X_train[: len(a.X_test)], a.X_test)


def test_circles_radii_follow_the_definition() -> None:
    d = circles(4000, 10, noise=0.0, factor=0.3, rng=0)
    r = np.hypot(*d.X_train.T)
    np.testing.assert_allclose(r[d.y_train == 0], 1.0, atol=1e-12)
    np.testing.assert_allclose(r[d.y_train == 1], 0.3, atol=1e-12)
    noisy = circles(20000, 10, noise=0.1, rng=0)
    r = np.hypot(*noisy.X_train.T)[noisy.y_train == 0]
    # isotropic noise of std s moves the radius by about N(s^2 / 2, s^2)
    assert np.mean(r) == pytest.approx(1.005, abs=0.003)
    assert np.std(r) == pytest.approx(0.1, rel=0.05)


def test_circles_is_not_linearly_separable() -> None:
    sklearn = pytest.importorskip("sklearn.linear_model")
    d = circles(rng=0)
    clf = sklearn.LogisticRegression().fit(d.X_train, d.y_train)
    assert clf.score(d.X_test, d.y_test) < 0.75


def test_moons_geometry() -> None:
    d = moons(1000, 10, noise=0.0, rng=0)
    upper, lower = d.X_train[d.y_train == 0], d.X_train[d.y_train == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-12)
    assert upper[:, 1].min() >= 0 and lower[:, 1].max() <= 0.5


def test_spirals_arms() -> None:
    d = spirals(3000, 10, n_classes=4, noise=0.0, rng=0)
    r = np.hypot(*d.X_train.T)
    theta = np.arctan2(d.X_train[:, 0], d.X_train[:, 1])
    expected = 2 * np.pi * (r + d.y_train / 4)
    diff = np.angle(np.exp(1j * (theta - expected)))
    np.testing.assert_allclose(diff, 0, atol=1e-9)
    assert d.n_classes == 4 and set(np.unique(d.y_train)) == {0, 1, 2, 3}


def test_blobs_share_centers_between_splits() -> None:
    d = blobs(3000, 3000, n_classes=3, n_features=5, spread=0.5, rng=0)
    for c in range(3):
        mtr = d.X_train[d.y_train == c].mean(axis=0)
        mte = d.X_test[d.y_test == c].mean(axis=0)
        np.testing.assert_allclose(mtr, mte, atol=0.1)  # std of a mean: 0.5/sqrt(1000)
        assert d.X_train[d.y_train == c].std(axis=0).mean() == pytest.approx(0.5, rel=0.1)


def test_digits_is_sklearns_copy_split_by_class() -> None:
    sk = pytest.importorskip("sklearn.datasets")
    ref = sk.load_digits()
    d = digits(test_fraction=0.2, rng=0)
    assert d.X_train.shape[1] == 64 and d.n_classes == 10
    assert len(d.X_train) + len(d.X_test) == len(ref.data)
    # every row is a row of the original with its own label
    lookup = {
        row.tobytes(): int(t)
        for row, t in zip(ref.data.astype(np.float64), ref.target, strict=True)
    }
    for X, y in ((d.X_train, d.y_train), (d.X_test, d.y_test)):
        assert all(lookup[row.tobytes()] == label for row, label in zip(X, y, strict=True))
    test_share = np.bincount(d.y_test, minlength=10) / np.bincount(ref.target, minlength=10)
    np.testing.assert_allclose(test_share, 0.2, atol=0.01)
    np.testing.assert_array_equal(digits(rng=0).X_test, digits(rng=0).X_test)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="n_train"):
        circles(0)
    with pytest.raises(ValueError, match="noise"):
        moons(noise=-1)
    with pytest.raises(ValueError, match="factor"):
        circles(factor=1.5)
    with pytest.raises(ValueError, match="n_classes"):
        spirals(n_classes=1)
    with pytest.raises(TypeError, match="rng"):
        blobs(rng="seed")
    with pytest.raises(ValueError, match="test_fraction"):
        digits(test_fraction=1.0)


def test_datasets_is_reachable_from_the_package() -> None:
    import trainready as tr

    assert tr.datasets is datasets
    assert "circles" in repr(tr.datasets.circles(rng=0))
