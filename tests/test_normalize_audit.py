"""Tests of trainready.normalize.audit: each finding from an injected fault, none on clean data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trainready.normalize import AuditFinding, AuditReport, audit


@pytest.fixture
def clean() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(400, 5))


def test_clean_data_is_ok(clean: np.ndarray) -> None:
    rep = audit(clean)
    assert rep.ok and rep.findings == ()
    assert rep.n_samples == 400 and rep.n_features == 5
    np.testing.assert_allclose(rep.mean, clean.mean(axis=0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(rep.std, clean.std(axis=0), rtol=1e-14)
    assert "ok" in str(rep)


def test_report_and_finding_are_frozen(clean: np.ndarray) -> None:
    X = clean.copy()
    X[:, 2] = 7.0
    rep = audit(X)
    assert isinstance(rep, AuditReport)
    f = rep.findings[0]
    assert isinstance(f, AuditFinding)
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.kind = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.findings = ()  # type: ignore[misc]
    assert set(rep.to_dict()) == {"ok", "n_samples", "n_features", "findings"}


def test_each_fault_is_named(clean: np.ndarray) -> None:
    X = clean.copy()
    X[3, 1] = np.nan
    X[5, 1] = np.inf
    X[:, 2] = 3.0
    X[:, 3] = X[:, 3] * 1e4
    X[:, 4] = X[:, 4] + 1e7
    rep = audit(X)
    by_kind = {f.kind: f for f in rep.findings}
    assert by_kind["nonfinite"].features == (1,) and by_kind["nonfinite"].value == 2
    assert by_kind["constant"].features == (2,)
    assert 3 in by_kind["scale_mismatch"].features
    assert by_kind["scale_mismatch"].value > 1e3
    assert by_kind["offset"].features == (4,)
    assert by_kind["offset"].value > 1e6
    assert not rep.ok
    for f in rep.findings:
        assert f.message and f.fix
        assert f"[{f.kind}]" in str(rep)


def test_uncentered_and_unscaled() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(loc=150.0, scale=30.0, size=(300, 3))
    rep = audit(X)
    assert rep.kinds() == ("uncentered", "unscaled")
    assert rep.findings[0].features == (0, 1, 2)
    assert rep.findings[1].value == pytest.approx(30.0, rel=0.2)


def test_per_channel_images() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20, 3, 8, 8))
    X[:, 1] *= 1e3
    rep = audit(X, axis=1)
    assert rep.n_features == 3 and rep.n_samples == 20 * 64
    assert rep.kinds() == ("scale_mismatch",)
    assert rep.findings[0].features == (1,)
    # (N, H, W, C): the same statistics with the channel last
    rep2 = audit(np.moveaxis(X, 1, -1), axis=-1)
    np.testing.assert_allclose(rep2.std, rep.std, rtol=1e-13)


def test_bad_input_messages() -> None:
    with pytest.raises(ValueError, match="Reshape your data"):
        audit(np.arange(5.0))
    with pytest.raises(ValueError, match="axis"):
        audit(np.zeros((4, 3, 2)), axis=0)
    with pytest.raises(ValueError, match="Complex data not supported"):
        audit(np.ones((3, 2), dtype=complex))
