"""Scalers under bad input: all-or-nothing fits, the constant-feature line, and arguments that
are what they say (issue 11, items 8-10)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainready.errors import ConstantFeatureWarning, NotFittedError
from trainready.normalize import MinMaxScaler, StandardScaler
from trainready.normalize._scalers import constant_bound

SCALERS = [StandardScaler, MinMaxScaler]


def chunks(*parts: np.ndarray) -> Iterator[np.ndarray]:
    yield from parts


def ctrl_c_after(*parts: np.ndarray) -> Iterator[np.ndarray]:
    yield from parts
    raise KeyboardInterrupt  # what Ctrl-C inside a data loader looks like to fit


def fitted_state(sc: object) -> dict[str, bytes]:
    out = {}
    for k, v in sorted(vars(sc).items()):
        if k == "_state" and v is not None:
            v = [np.asarray(x) for x in (v if isinstance(v, list) else vars(v).values())]
            out[k] = b"".join(np.asarray(x, dtype=float).tobytes() for x in v)
        elif isinstance(v, np.ndarray) or np.isscalar(v):
            out[k] = np.asarray(v).tobytes() + str(np.asarray(v).dtype).encode()
        else:
            out[k] = repr(v).encode()
    return out


def bad_streams(rng: np.random.Generator) -> dict[str, tuple[type[BaseException], object]]:
    a, b = rng.normal(size=(100, 3)), rng.normal(size=(50, 3))
    nan = b.copy()
    nan[7, 1] = np.nan
    return {
        "NaN in chunk 2": (ValueError, lambda: chunks(a, nan)),
        "width changes in chunk 2": (ValueError, lambda: chunks(a, rng.normal(size=(50, 4)))),
        "Ctrl-C after chunk 1": (KeyboardInterrupt, lambda: ctrl_c_after(a)),
        "not an array in chunk 2": (ValueError, lambda: chunks(a, [["x", "y", "z"]])),
    }


@pytest.mark.parametrize("cls", SCALERS)
@pytest.mark.parametrize(
    "case",
    [
        "NaN in chunk 2",
        "width changes in chunk 2",
        "Ctrl-C after chunk 1",
        "not an array in chunk 2",
    ],
)
def test_a_failed_fit_leaves_an_unfitted_scaler_unfitted(cls, case):
    exc, stream = bad_streams(np.random.default_rng(0))[case]
    sc = cls()
    with pytest.raises(exc):
        sc.fit(stream())
    with pytest.raises(NotFittedError):  # not AttributeError from a half-fitted scaler
        sc.transform(np.ones((2, 3)))
    assert not hasattr(sc, "n_features_in_")
    sc.partial_fit(np.ones((4, 3)) * np.arange(4)[:, None])  # and starts from nothing
    assert sc.n_samples_seen_ == 4


@pytest.mark.parametrize("cls", SCALERS)
@pytest.mark.parametrize(
    "case",
    [
        "NaN in chunk 2",
        "width changes in chunk 2",
        "Ctrl-C after chunk 1",
        "not an array in chunk 2",
    ],
)
def test_a_failed_fit_or_partial_fit_keeps_the_previous_state(cls, case):
    rng = np.random.default_rng(1)
    exc, stream = bad_streams(rng)[case]
    sc = cls().fit(rng.normal(size=(150, 3)))
    before = fitted_state(sc)
    with pytest.raises(exc):
        sc.fit(stream())
    assert fitted_state(sc) == before
    with pytest.raises(exc):
        sc.partial_fit(stream())
    assert fitted_state(sc) == before
    assert sc.n_samples_seen_ == 150  # not 250: the aborted chunk is not kept


@pytest.mark.parametrize("cls", SCALERS)
def test_an_exception_in_progress_keeps_the_previous_state(cls):
    rng = np.random.default_rng(2)
    sc = cls().fit(rng.normal(size=(30, 2)))
    before = fitted_state(sc)

    def progress(i: int, n: int) -> None:
        if i == 2:
            raise RuntimeError("user's progress bar broke")

    with pytest.raises(RuntimeError, match="progress bar"):
        sc.fit(chunks(rng.normal(size=(5, 2)), rng.normal(size=(5, 2))), progress=progress)
    assert fitted_state(sc) == before
    with pytest.raises(TypeError, match="progress: expected a callable"):
        sc.fit(rng.normal(size=(5, 2)), progress=3)


@pytest.mark.parametrize("cls", SCALERS)
def test_a_failed_dask_fit_keeps_the_previous_state(cls):
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 3))
    X[180, 2] = np.nan
    sc = cls().fit(rng.normal(size=(40, 3)))
    before = fitted_state(sc)
    with pytest.raises(ValueError, match="NaN"):
        sc.fit(da.from_array(X, chunks=(50, 3)))
    assert fitted_state(sc) == before
    with pytest.raises(ValueError, match="NaN"):
        sc.partial_fit(da.from_array(X, chunks=(50, 3)))
    assert fitted_state(sc) == before
    fresh = cls()
    with pytest.raises(ValueError, match="NaN"):
        fresh.fit(chunks(X[:50], da.from_array(X, chunks=(50, 3))))
    assert not hasattr(fresh, "n_features_in_")
    with pytest.raises(ValueError, match="0 sample"):  # was: mean_ of NaN
        cls().fit(da.zeros((0, 3), chunks=(10, 3)))


# ------------------------------------------------------------------- constant features
def stream(n_rows: int, n_feat: int, mean: float, std: float, chunk: int, seed: int):
    rng = np.random.default_rng(seed)
    for start in range(0, n_rows, chunk):
        m = min(chunk, n_rows - start)
        yield mean + std * rng.standard_normal((m, n_feat)) if std else np.full((m, n_feat), mean)


def test_four_million_rows_with_a_small_spread_are_not_constant():
    # issue 11 item 9: the bound (n mean eps)^2 grew with n and called these constant
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConstantFeatureWarning)
        sc = StandardScaler().fit(stream(4_000_000, 2, 1e9, 0.25, 250_000, seed=0))
    assert sc.n_samples_seen_ == 4_000_000
    np.testing.assert_allclose(sc.scale_, 0.25, rtol=2e-3)  # sampling error only
    assert (sc.var_ > 1e3 * constant_bound(sc.mean_)).all()


def test_a_truly_constant_feature_is_still_constant_after_fifty_million_rows():
    chunks_ = ((np.full((1_000_000, 1), 1e9 + 0.5)) for _ in range(50))
    with pytest.warns(ConstantFeatureWarning, match="constant"):
        sc = StandardScaler().fit(chunks_)
    assert sc.n_samples_seen_ == 50_000_000
    assert sc.var_[0] == 0.0 and sc.scale_[0] == 1.0 and sc.mean_[0] == 1e9 + 0.5


def test_constant_features_of_every_kind_are_found():
    X = np.column_stack(
        [
            np.zeros(1000),
            np.full(1000, -3.7e-300),
            np.full(1000, 1e300),
            np.full(1000, np.pi),
            np.arange(1000.0),
        ]
    )
    for omit in ("raise", "omit"):
        with pytest.warns(ConstantFeatureWarning, match=r"4 feature\(s\)"):
            sc = StandardScaler(nan_policy=omit).fit(chunks(X[:300], X[300:]))
        np.testing.assert_array_equal(sc.scale_[:4], 1.0)
        assert sc.scale_[4] > 100


def test_a_spread_below_the_resolution_of_the_mean_is_constant():
    base = 1e9
    ulp = np.spacing(base)
    X = np.full((1000, 1), base)
    X[::500] += ulp  # two values one ulp apart: rounding, not signal
    with pytest.warns(ConstantFeatureWarning):
        assert StandardScaler().fit(X).scale_[0] == 1.0
    X[::2] += 1e3 * ulp  # a spread of a thousand ulps is signal
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConstantFeatureWarning)
        assert StandardScaler().fit(X).scale_[0] != 1.0


@settings(max_examples=60, deadline=None)
@given(
    offset=st.sampled_from([0.0, 1.0, -7.5, 1e6, 1e9, -1e12, 3e15]),
    steps=st.lists(st.integers(-50, 50), min_size=2, max_size=200),
    unit=st.sampled_from([1.0, 1e3, 0.25, 2.0**-20]),
    split=st.integers(1, 199),
)
def test_the_bound_is_above_the_computed_error_and_below_real_spreads(offset, steps, unit, split):
    # data = offset + k * ulp(offset) * unit: exact floats; the exact variance by Fractions
    step = float(np.spacing(offset)) * unit if offset else unit * 1e-3
    x = np.array([offset + k * step for k in steps])
    exact_mean = sum(Fraction(v) for v in x) / len(x)
    exact_var = sum((Fraction(v) - exact_mean) ** 2 for v in x) / len(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        sc = StandardScaler().fit(
            chunks(x[:split, None], x[split:, None]) if split < len(x) else x[:, None]
        )
    err = abs(Fraction(float(sc.var_[0])) - exact_var)
    n = len(x)
    assert (
        err
        <= Fraction(4 * n) * Fraction(np.finfo(float).eps) * exact_var
        + Fraction(float(constant_bound(sc.mean_)[0])) / 10**6
    )
    if exact_var == 0:
        assert sc.var_[0] == 0 and sc.scale_[0] == 1.0
    elif exact_var > 4 * Fraction(float(constant_bound(sc.mean_)[0])):
        assert sc.scale_[0] == np.sqrt(sc.var_[0])


# ------------------------------------------------------------- arguments are what they say
@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: StandardScaler(with_mean="no"), "with_mean: expected True or False; got 'no'"),
        (lambda: StandardScaler(with_std=1), "with_std: expected True or False; got 1"),
        (lambda: StandardScaler(copy="no"), "copy: expected True or False"),
        (lambda: MinMaxScaler(clip="yes"), "clip: expected True or False"),
        (lambda: MinMaxScaler(copy=None), "copy: expected True or False; got None"),
    ],
)
def test_boolean_parameters_must_be_booleans(make, match):
    X = np.arange(12.0).reshape(4, 3)
    kept = X.copy()
    sc = make()
    with pytest.raises(TypeError, match=match):
        sc.fit(X)
    assert not hasattr(sc, "n_features_in_")
    np.testing.assert_array_equal(X, kept)
    assert StandardScaler(with_mean=np.bool_(False)).fit(X).mean_ is not None  # NumPy bools ok


def test_transform_copy_must_be_a_boolean():
    X = np.arange(12.0).reshape(4, 3)
    sc = StandardScaler().fit(X)
    with pytest.raises(TypeError, match="copy: expected True or False; got 'no'"):
        sc.transform(X, copy="no")
    np.testing.assert_array_equal(X, np.arange(12.0).reshape(4, 3))


@pytest.mark.parametrize(
    ("feature_range", "match"),
    [
        ((0, np.inf), "finite bounds"),
        ((-np.inf, 0), "finite bounds"),
        ((np.nan, 1), "finite"),
        (("0", "1"), "pair \\(low, high\\) of numbers"),
        ((True, 2), "of numbers"),
        ((0, 1, 2), "pair"),
        ((1, 1), "smaller than maximum"),
    ],
)
def test_feature_range_must_be_finite_numbers(feature_range, match):
    with pytest.raises(ValueError, match=match):
        MinMaxScaler(feature_range=feature_range).fit(np.arange(6.0).reshape(3, 2))


def test_ranges_and_variances_that_overflow_are_refused():
    X = np.array([[-1.5e308, 1.0], [1.5e308, 2.0]])
    kept = X.copy()
    sc = MinMaxScaler()
    with pytest.raises(ValueError, match=r"range \(max - min\).*feature\(s\) 0"):
        sc.fit(X)  # was: data_range_ inf, every value mapped to 0
    assert not hasattr(sc, "n_features_in_")
    np.testing.assert_array_equal(X, kept)
    with pytest.raises(ValueError, match="sum of squared deviations"):
        StandardScaler().fit(np.array([[0.0], [1.4e154]] * 10))  # var_ was inf, scale_ inf
    big = MinMaxScaler().fit(np.array([[-8e307], [8e307]]))  # still in range: fine
    np.testing.assert_allclose(big.transform(np.array([[0.0]])), [[0.5]])


def test_parameters_are_not_modified_by_a_failed_fit():
    fr = [0, 1]
    sc = MinMaxScaler(feature_range=fr)
    params = copy.deepcopy(sc.get_params())
    with pytest.raises(ValueError):
        sc.fit(chunks(np.ones((2, 2)), np.full((2, 2), np.nan)))
    assert sc.get_params() == params and sc.feature_range is fr


def test_huge_constant_features_fit_without_runtime_warnings():
    X = np.full((10, 2), 1e300)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        sc = StandardScaler().fit(chunks(X[:4], X[4:]))
    np.testing.assert_array_equal(sc.scale_, 1.0)
