"""scikit-learn's own check_estimator suite on trainready's scalers, and pipeline interplay."""

from __future__ import annotations

import numpy as np
import pytest

from trainready.normalize import MinMaxScaler, StandardScaler

pytest.importorskip("sklearn")
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import check_estimator

ESTIMATORS = [
    StandardScaler(),
    StandardScaler(with_mean=False, nan_policy="omit"),
    StandardScaler(with_std=False),
    MinMaxScaler(),
    MinMaxScaler(feature_range=(-1, 1), clip=True, nan_policy="omit"),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")
@pytest.mark.parametrize("est", ESTIMATORS, ids=repr)
def test_check_estimator_full_suite(est: object) -> None:
    # The classes do not derive from sklearn.base.BaseEstimator (so that `import trainready` does
    # not import scikit-learn); sklearn 1.9 runs every check from the tags and says so once.
    with pytest.warns(UserWarning, match="does not inherit from `sklearn.base.BaseEstimator`"):
        results = check_estimator(est, on_fail="raise")
    statuses = {r["check_name"]: r["status"] for r in results}
    assert len(statuses) >= 40
    failed = {k: v for k, v in statuses.items() if v not in ("passed", "skipped")}
    assert failed == {}
    # only the array-API check may be skipped (it needs SCIPY_ARRAY_API=1, as for sklearn's own)
    assert {k for k, v in statuses.items() if v == "skipped"} <= {"check_array_api_input"}


def test_clone_and_pipeline_agree_with_sklearn() -> None:
    from sklearn.linear_model import LinearRegression
    from sklearn.preprocessing import StandardScaler as SkStandardScaler

    rng = np.random.default_rng(0)
    X = rng.normal(5, 3, size=(80, 3)) * [1, 100, 0.01]
    y = X @ [1.0, 0.02, 50.0]
    ours = make_pipeline(StandardScaler(), LinearRegression()).fit(X, y)
    ref = make_pipeline(SkStandardScaler(), LinearRegression()).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-10)
    c = clone(StandardScaler(with_mean=False, axis=None))
    assert c.get_params()["with_mean"] is False and not hasattr(c, "mean_")
