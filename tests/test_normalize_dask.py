"""fit on a dask.array: dask's scheduler on a 2-process LocalCluster equals the in-memory fit."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pytest

from trainready.normalize import MinMaxScaler, StandardScaler

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            memory_limit="1GiB",
        )
        cl = distributed.Client(cluster)
    try:
        yield cl
    finally:
        cl.close()
        cluster.close()


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.abs(b)))


def test_standard_scaler_on_cluster_equals_in_memory(client: object) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 6)) * [1, 10, 1e-3, 5, 1, 2] + [1e9, 0, 3, -7, 1e4, 0]
    Xd = da.from_array(X, chunks=(1_500, 4))  # uneven blocks over rows and features
    ref = StandardScaler().fit(X)
    sc = StandardScaler().fit(Xd)
    assert _rel(sc.var_, ref.var_) < 1e-12
    assert _rel(sc.mean_, ref.mean_) < 1e-12
    assert sc.n_samples_seen_ == 20_000 and sc.n_features_in_ == 6
    # partial_fit mixes dask and in-memory chunks exactly
    mixed = StandardScaler().partial_fit(Xd[:10_000]).partial_fit(X[10_000:])
    assert _rel(mixed.var_, ref.var_) < 1e-12
    np.testing.assert_allclose(sc.transform(X), ref.transform(X), atol=1e-11)


def test_tasks_run_on_workers(client: object) -> None:
    X = da.random.default_rng(1).normal(size=(8_000, 3), chunks=(1_000, 3))
    with distributed.get_task_stream(client) as ts:
        sc = StandardScaler().fit(X)
    workers = {t["worker"] for t in ts.data}
    assert len(workers) == 2  # both worker processes computed blocks
    local = X.compute()
    assert _rel(sc.var_, local.var(axis=0)) < 1e-12


def test_minmax_nan_and_channels_on_cluster(client: object) -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(3_000, 4))
    X[::11, 2] = np.nan
    Xd = da.from_array(X, chunks=(700, 2))
    mm = MinMaxScaler(nan_policy="omit").fit(Xd)
    np.testing.assert_array_equal(mm.data_min_, np.nanmin(X, axis=0))
    np.testing.assert_array_equal(mm.data_max_, np.nanmax(X, axis=0))
    with pytest.raises(ValueError, match=r"NaN or inf.*feature\(s\) 2"):
        StandardScaler().fit(Xd)
    sc = StandardScaler(nan_policy="omit").fit(Xd)
    ref = StandardScaler(nan_policy="omit").fit(X)
    assert _rel(sc.var_, ref.var_) < 1e-12
    np.testing.assert_array_equal(sc.n_samples_seen_, ref.n_samples_seen_)
    imgs = rng.random((40, 3, 8, 8))
    per_ch = StandardScaler(axis=1).fit(da.from_array(imgs, chunks=(7, 2, 8, 4)))
    assert _rel(per_ch.var_, imgs.var(axis=(0, 2, 3))) < 1e-12
