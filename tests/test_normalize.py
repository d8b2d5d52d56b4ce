"""StandardScaler / MinMaxScaler against scikit-learn and exact arithmetic."""

from __future__ import annotations

import itertools
import subprocess
import sys
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import trainready as tr
from trainready.errors import ConstantFeatureWarning, NotFittedError
from trainready.normalize import MinMaxScaler, RunningMoments, StandardScaler

sk_pre = pytest.importorskip("sklearn.preprocessing")


def exact_var(x: np.ndarray) -> Fraction:
    """Exact population variance of float64 values (integer arithmetic on their binary values)."""
    ratios = [float(v).as_integer_ratio() for v in x]
    shift = max(d for _, d in ratios).bit_length() - 1  # every denominator is a power of two
    ints = [num * ((1 << shift) // den) for num, den in ratios]
    n = len(ints)
    s1 = sum(ints)
    s2 = sum(i * i for i in ints)
    return Fraction(s2 * n - s1 * s1, n * n * (1 << (2 * shift)))


def rel_err(value: float, exact: Fraction) -> float:
    return abs(float((Fraction(value) - exact) / exact))


@pytest.fixture
def data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal(3.0, 2.0, size=(500, 6)) * np.array([1, 10, 1e2, 1e-3, 1e4, 1])


# ----------------------------------------------------------------------------- oracle: sklearn
@pytest.mark.parametrize(
    "kw", [{}, {"with_mean": False}, {"with_std": False}, {"with_mean": False, "with_std": False}]
)
def test_standard_matches_sklearn(data: np.ndarray, kw: dict[str, bool]) -> None:
    ours = StandardScaler(**kw).fit(data)
    ref = sk_pre.StandardScaler(**kw).fit(data)
    for attr in ("mean_", "var_", "scale_"):
        a, b = getattr(ours, attr), getattr(ref, attr)
        if b is None:
            assert a is None
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    assert ours.n_samples_seen_ == ref.n_samples_seen_ and ours.n_features_in_ == 6
    Z = ours.transform(data)
    np.testing.assert_allclose(Z, ref.transform(data), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.inverse_transform(Z), data, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("feature_range", [(0, 1), (-1, 1), (-3.5, 10.0)])
@pytest.mark.parametrize("clip", [False, True])
def test_minmax_matches_sklearn(data: np.ndarray, feature_range: tuple, clip: bool) -> None:
    ours = MinMaxScaler(feature_range, clip=clip).fit(data[:300])
    ref = sk_pre.MinMaxScaler(feature_range=feature_range, clip=clip).fit(data[:300])
    for attr in ("data_min_", "data_max_", "data_range_", "scale_", "min_"):
        np.testing.assert_allclose(getattr(ours, attr), getattr(ref, attr), rtol=1e-12, atol=0)
    assert ours.n_samples_seen_ == ref.n_samples_seen_
    held_out = data[300:]  # beyond the training range: clip matters
    np.testing.assert_allclose(ours.transform(held_out), ref.transform(held_out), atol=1e-12)
    Z = ours.transform(data[:300])
    np.testing.assert_allclose(ours.inverse_transform(Z), data[:300], rtol=1e-12, atol=1e-9)


def test_partial_fit_matches_sklearn_partial_fit(data: np.ndarray) -> None:
    ours, ref = StandardScaler(), sk_pre.StandardScaler()
    for i in range(0, len(data), 37):
        ours.partial_fit(data[i : i + 37])
        ref.partial_fit(data[i : i + 37])
    np.testing.assert_allclose(ours.var_, ref.var_, rtol=1e-12)
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12)
    assert ours.n_samples_seen_ == ref.n_samples_seen_ == len(data)


def test_nan_omit_matches_sklearn(data: np.ndarray) -> None:
    X = data.copy()
    X[::7, 1] = np.nan
    X[3, 4] = np.nan
    ours = StandardScaler(nan_policy="omit").fit(X)
    ref = sk_pre.StandardScaler().fit(X)
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(ours.var_, ref.var_, rtol=1e-12)
    np.testing.assert_array_equal(ours.n_samples_seen_, ref.n_samples_seen_)
    Z = ours.transform(X)
    np.testing.assert_array_equal(np.isnan(Z), np.isnan(X))  # NaN kept in transform
    np.testing.assert_allclose(Z, ref.transform(X), atol=1e-12)
    mm = MinMaxScaler(nan_policy="omit").fit(X)
    np.testing.assert_allclose(mm.data_min_, sk_pre.MinMaxScaler().fit(X).data_min_, rtol=0)


# ---------------------------------------------------------------------------------- precision
def test_variance_exact_at_offset_1e9() -> None:
    """The issue's target: 200k rows, std 1, mean 1e9, 1000-row chunks: within 1e-12."""
    rng = np.random.default_rng(42)
    x = 1e9 + rng.standard_normal(200_000)
    exact = exact_var(x)
    ours = StandardScaler()
    ref = sk_pre.StandardScaler()
    for i in range(0, len(x), 1000):
        ours.partial_fit(x[i : i + 1000, None])
        ref.partial_fit(x[i : i + 1000, None])
    assert rel_err(float(ours.var_[0]), exact) < 1e-12
    assert rel_err(float(StandardScaler().fit(x[:, None]).var_[0]), exact) < 1e-12
    # the peer is much worse here; a regression to raw sums would fail above by ~1e3
    assert rel_err(float(ref.var_[0]), exact) > 1e-12
    raw = (np.sum(x * x) - np.sum(x) ** 2 / len(x)) / len(x)
    assert rel_err(float(raw), exact) > 1e-3


def test_drifting_chunks_keep_precision() -> None:
    """Chunks whose means jump by 1e6 std force the second, re-centered pass."""
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(500) + k * 1e6 for k in range(40)])
    sc = StandardScaler()
    for i in range(0, len(x), 500):
        sc.partial_fit(x[i : i + 500, None])
    assert rel_err(float(sc.var_[0]), exact_var(x)) < 1e-13


def test_float32_in_float32_out_float64_stats() -> None:
    rng = np.random.default_rng(5)
    X = (rng.normal(size=(2000, 3)) * 5 + 1e3).astype(np.float32)
    sc = StandardScaler().fit(X)
    assert sc.mean_.dtype == np.float64 and sc.var_.dtype == np.float64
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(sc.var_, X64.var(axis=0), rtol=1e-13)
    Z = sc.transform(X)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z, ((X64 - X64.mean(0)) / X64.std(0)).astype(np.float32), atol=1e-6)
    assert sc.inverse_transform(Z).dtype == np.float32
    mm = MinMaxScaler().fit(X)
    assert mm.data_min_.dtype == np.float64 and mm.transform(X).dtype == np.float32


# --------------------------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(
    X=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),
        elements=st.floats(-1e6, 1e6, allow_nan=False, width=64),
    ),
    cuts=st.lists(st.integers(0, 40), max_size=5),
)
def test_partial_fit_any_chunking_equals_fit(X: np.ndarray, cuts: list[int]) -> None:
    edges = sorted({0, len(X), *[c for c in cuts if c < len(X)]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        full = StandardScaler().fit(X)
        parts = StandardScaler()
        mm_full = MinMaxScaler().fit(X)
        mm_parts = MinMaxScaler()
        for a, b in itertools.pairwise(edges):
            parts.partial_fit(X[a:b])
            mm_parts.partial_fit(X[a:b])
    spread = float(np.ptp(X, axis=0).max()) + 1.0
    np.testing.assert_allclose(parts.mean_, full.mean_, rtol=1e-12, atol=1e-12 * spread)
    np.testing.assert_allclose(parts.var_, full.var_, rtol=1e-9, atol=1e-12 * spread**2)
    assert parts.n_samples_seen_ == full.n_samples_seen_ == len(X)
    np.testing.assert_array_equal(mm_parts.data_min_, mm_full.data_min_)
    np.testing.assert_array_equal(mm_parts.data_max_, mm_full.data_max_)


@settings(max_examples=40, deadline=None)
@given(
    X=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=2, max_side=30),
        elements=st.floats(-1e5, 1e5, allow_nan=False, width=64),
    )
)
def test_inverse_transform_round_trip(X: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        for sc in (StandardScaler(), MinMaxScaler(), MinMaxScaler((-2, 5))):
            sc.fit(X)
            back = sc.inverse_transform(sc.transform(X))
            np.testing.assert_allclose(back, X, rtol=1e-12, atol=1e-9 * (np.abs(X).max() + 1))


# ----------------------------------------------------------------------- constant, NaN, errors
def test_constant_feature_scale_one_and_named_warning() -> None:
    X = np.c_[np.arange(10.0), np.full(10, 7.0), np.full(10, 1e9)]
    with pytest.warns(ConstantFeatureWarning, match=r"2 feature\(s\).*1, 2") as rec:
        sc = StandardScaler().fit(X)
    assert rec[0].filename == __file__  # points at the caller, not at trainready
    np.testing.assert_array_equal(sc.scale_, [np.std(np.arange(10.0)), 1.0, 1.0])
    np.testing.assert_array_equal(sc.transform(X)[:, 1:], 0.0)
    with pytest.warns(ConstantFeatureWarning, match="zero range"):
        mm = MinMaxScaler().fit(X)
    np.testing.assert_array_equal(mm.scale_[1:], 1.0)
    ref = sk_pre.StandardScaler().fit(X)
    np.testing.assert_array_equal(sc.scale_, ref.scale_)


def test_nan_raise_names_column_and_count() -> None:
    import pandas as pd

    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [np.nan, 1.0, np.inf], "c": [1.0, 5.0, 2.0]})
    with pytest.raises(ValueError, match=r"'b' \(1 NaN, 1 inf\).*nan_policy='omit'"):
        StandardScaler().fit(X)
    sc = StandardScaler().fit(X[["a", "c"]].assign(b=[0.0, 1.0, 2.0])[["a", "b", "c"]])
    with pytest.raises(ValueError, match=r"NaN or inf in transform: feature\(s\) 'b'"):
        sc.transform(X)
    with pytest.raises(ValueError, match="NaN or inf"):
        MinMaxScaler().fit(X)
    assert not hasattr(StandardScaler(), "n_features_in_")


def test_bad_inputs_and_params() -> None:
    with pytest.raises(NotFittedError, match="not fitted yet"):
        StandardScaler().transform(np.ones((2, 2)))
    with pytest.raises(ValueError, match="Reshape your data"):
        StandardScaler().fit(np.arange(4.0))
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        StandardScaler().fit(np.empty((3, 0)))
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        StandardScaler().fit(np.empty((0, 3)))
    with pytest.raises(ValueError, match="Complex data not supported"):
        StandardScaler().fit(np.ones((3, 2)) * 1j)
    with pytest.raises(ValueError, match="axis=1"):
        StandardScaler().fit(np.ones((3, 2, 2)))
    with pytest.raises(ValueError, match="nan_policy must be"):
        StandardScaler(nan_policy="ignore").fit(np.ones((3, 2)))
    with pytest.raises(ValueError, match="smaller than maximum"):
        MinMaxScaler((1, 0)).fit(np.ones((3, 2)))
    sc = StandardScaler().fit(np.random.default_rng(0).normal(size=(5, 3)))
    with pytest.raises(ValueError, match="X has 2 features, but StandardScaler is expecting 3"):
        sc.transform(np.ones((4, 2)))
    with pytest.raises(TypeError, match="iterable of chunks"):
        StandardScaler().fit(object())
    with pytest.raises(ValueError, match="empty iterable"):
        StandardScaler().fit(iter([]))


def test_user_array_never_modified_and_copy_false(data: np.ndarray) -> None:
    X = data.copy()
    sc = StandardScaler().fit(X)
    Z = sc.transform(X)
    sc.inverse_transform(Z)
    np.testing.assert_array_equal(X, data)
    Z2 = StandardScaler(copy=False).fit(X).transform(X)
    assert Z2 is X  # in place, as asked
    np.testing.assert_allclose(Z2, Z, atol=1e-12)


def test_sklearn_style_api(data: np.ndarray) -> None:
    sc = StandardScaler(with_mean=False)
    assert sc.get_params() == {
        "with_mean": False,
        "with_std": True,
        "axis": None,
        "copy": True,
        "nan_policy": "raise",
    }
    assert repr(sc) == "StandardScaler(with_mean=False)"
    assert sc.set_params(with_mean=True) is sc and sc.with_mean
    with pytest.raises(ValueError, match="Invalid parameter 'bogus'"):
        sc.set_params(bogus=1)
    np.testing.assert_allclose(sc.fit_transform(data), sc.fit(data).transform(data))
    assert list(sc.get_feature_names_out()) == [f"x{i}" for i in range(6)]


# --------------------------------------------------------------------- torch, pandas, iterables
def test_torch_tensor_round_trip_same_type_and_autograd(data: np.ndarray) -> None:
    torch = pytest.importorskip("torch")
    t = torch.tensor(data, dtype=torch.float32)
    sc = StandardScaler().fit(t)
    np.testing.assert_allclose(sc.var_, data.astype(np.float32).astype(np.float64).var(0), 1e-13)
    Z = sc.transform(t)
    assert isinstance(Z, torch.Tensor) and Z.dtype == torch.float32 and Z.device == t.device
    np.testing.assert_allclose(Z.numpy(), sc.transform(t.numpy()), atol=1e-6)
    back = sc.inverse_transform(Z)
    assert isinstance(back, torch.Tensor)
    torch.testing.assert_close(back, t, rtol=1e-5, atol=1e-3)
    leaf = t.clone().requires_grad_(True)
    sc.transform(leaf).sum().backward()
    expected = torch.tensor(1.0 / sc.scale_, dtype=torch.float32).expand_as(leaf)
    torch.testing.assert_close(leaf.grad, expected)
    mm = MinMaxScaler(clip=True).fit(t[:100])
    out = mm.transform(t)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_fit_on_dataloader_with_progress(data: np.ndarray) -> None:
    torch = pytest.importorskip("torch")
    ds = torch.utils.data.TensorDataset(torch.tensor(data), torch.zeros(len(data)))
    loader = torch.utils.data.DataLoader(ds, batch_size=64)
    seen: list[tuple[int, int]] = []
    sc = StandardScaler().fit(loader, progress=lambda i, n: seen.append((i, n)))
    assert seen[-1] == (len(loader), len(data)) and len(seen) == len(loader)
    ref = StandardScaler().fit(data)
    np.testing.assert_allclose(sc.var_, ref.var_, rtol=1e-13)
    gen = (data[i : i + 100] for i in range(0, len(data), 100))
    np.testing.assert_allclose(MinMaxScaler().fit(gen).data_max_, data.max(0), rtol=0)


def test_pandas_feature_names_and_output(data: np.ndarray) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(data, columns=[f"f{i}" for i in range(6)])
    sc = StandardScaler().fit(df)
    assert list(sc.feature_names_in_) == list(df.columns)
    assert list(sc.get_feature_names_out()) == list(df.columns)
    assert isinstance(sc.transform(df), np.ndarray)
    out = sc.set_output(transform="pandas").transform(df)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(df.columns)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        sc.transform(data)
    with pytest.raises(ValueError, match="feature names should match"):
        sc.transform(df[df.columns[::-1]])


def test_per_channel_images_and_torchvision_pair() -> None:
    rng = np.random.default_rng(7)
    X = rng.random((12, 3, 6, 5)) * np.array([1.0, 2.0, 0.5])[None, :, None, None]
    sc = StandardScaler(axis=1).fit(X)
    mean, std = sc.to_torchvision()
    np.testing.assert_allclose(mean, X.mean(axis=(0, 2, 3)), rtol=1e-14)
    np.testing.assert_allclose(std, X.std(axis=(0, 2, 3)), rtol=1e-13)
    assert sc.n_samples_seen_ == 12 * 30 and sc.normalize_params == (mean, std)
    Z = sc.transform(X)
    np.testing.assert_allclose(Z.mean(axis=(0, 2, 3)), 0, atol=1e-13)
    np.testing.assert_allclose(Z.std(axis=(0, 2, 3)), 1, rtol=1e-12)
    # pooled std over batches = sqrt(mean of per-batch variances + variance of batch means)
    batched = StandardScaler(axis=1)
    for i in range(0, 12, 5):
        batched.partial_fit(X[i : i + 5])
    np.testing.assert_allclose(batched.scale_, std, rtol=1e-13)
    nhwc = StandardScaler(axis=-1).fit(np.moveaxis(X, 1, -1))
    np.testing.assert_allclose(nhwc.scale_, std, rtol=1e-13)
    torch = pytest.importorskip("torch")
    t = torch.tensor(X)
    # what torchvision.transforms.Normalize(mean, std) computes, channel by channel
    m, s = torch.tensor(mean)[:, None, None], torch.tensor(std)[:, None, None]
    torch.testing.assert_close((t - m) / s, sc.transform(t))


def test_running_moments_merge_is_chan(data: np.ndarray) -> None:
    a, b = RunningMoments.empty(6), RunningMoments.empty(6)
    a.update(data[:123], 1)
    b.update(data[123:], 1)
    a.merge_moments(b)
    np.testing.assert_allclose(a.mean, data.mean(0), rtol=1e-13)
    np.testing.assert_allclose(a.var, data.var(0), rtol=1e-12)


def test_import_trainready_imports_only_numpy() -> None:
    code = (
        "import sys, trainready as tr; tr.StandardScaler; tr.normalize.audit; "
        "heavy = [m for m in ('sklearn', 'torch', 'pandas', 'dask', 'scipy') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert tr.StandardScaler is StandardScaler and tr.MinMaxScaler is MinMaxScaler


@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_float32_transform_has_no_offset_bias(cls: type) -> None:
    """float32 kernels split the offset: results within a few ulps of the exactly rounded ones."""
    rng = np.random.default_rng(11)
    X = (rng.normal(size=(3000, 4)) * [1, 3, 0.5, 2] + [4e4, -1e5, 0.0, 7.0]).astype(np.float32)
    sc = cls().fit(X)
    a, b, mode = sc._affine_params(False)
    X64 = X.astype(np.float64)
    exact = (X64 - a) / b if mode == "sub_div" else X64 * b + a
    Z = sc.transform(X)
    assert Z.dtype == np.float32

    def ulp(v: np.ndarray) -> np.ndarray:
        return np.spacing(np.abs(v).astype(np.float32)).astype(np.float64)

    # a float32-rounded mean would shift whole columns by ~ulp(4e4) / std = 4e-3; we allow 1e-6
    assert np.all(np.abs(Z - exact) <= 4 * ulp(exact) + 1e-6)
    back = sc.inverse_transform(Z).astype(np.float64)
    Z64 = Z.astype(np.float64)
    exact_back = Z64 * b + a if mode == "sub_div" else (Z64 - a) / b
    offset = a if mode == "sub_div" else -a / b  # the column offset in x units
    assert np.all(np.abs(back - exact_back) <= 4 * ulp(exact_back) + 2 * ulp(offset))
