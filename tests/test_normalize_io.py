"""Persistence of scalers: bit-exact npz/JSON round trips, clear errors on bad files."""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from trainready.errors import ConstantFeatureWarning, FormatError
from trainready.normalize import FORMAT_VERSION, MinMaxScaler, StandardScaler, load

FITTED = {
    "StandardScaler": ("mean_", "var_", "scale_", "n_samples_seen_", "n_features_in_"),
    "MinMaxScaler": ("data_min_", "data_max_", "data_range_", "scale_", "min_", "n_samples_seen_"),
}


def assert_bit_equal(a: object, b: object) -> None:
    for attr in FITTED[type(a).__name__]:
        x, y = getattr(a, attr), getattr(b, attr)
        if x is None:
            assert y is None
            continue
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape, attr
        assert x.tobytes() == y.tobytes(), attr  # bit-exact, NaN included
    assert a.get_params() == b.get_params()


@pytest.mark.parametrize("ext", ["npz", "json"])
@pytest.mark.parametrize("cls", [StandardScaler, MinMaxScaler])
def test_round_trip_bit_exact_and_continues(tmp_path: Path, ext: str, cls: type) -> None:
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = rng.normal(1e9, 3.0, size=(200, 4)) * np.array([1, 1e-3, 1e3, 1e100])
    X[5, 1] = np.nan
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    sc = cls(nan_policy="omit").fit(df[:100])
    path = tmp_path / f"scaler.{ext}"
    sc.save(path)
    back = cls.load(path)
    assert type(back) is cls
    assert_bit_equal(sc, back)
    assert list(back.feature_names_in_) == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(back.transform(df), sc.transform(df))
    # the running state travels too: partial_fit continues exactly
    sc.partial_fit(df[100:])
    back.partial_fit(df[100:])
    assert_bit_equal(sc, back)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    X=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 20), st.integers(1, 5)),
        elements=st.floats(
            allow_nan=False, allow_infinity=False, min_value=-1e150, max_value=1e150
        ),  # beyond, the sums of squares overflow float64 and fit refuses (tested elsewhere)
    ),
    ext=st.sampled_from(["npz", "json"]),
)
def test_save_load_property(tmp_path: Path, X: np.ndarray, ext: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        for sc in (StandardScaler().fit(X), MinMaxScaler((-1, 1)).fit(X)):
            path = tmp_path / f"s.{ext}"
            sc.save(path)
            assert_bit_equal(sc, load(path))


def test_json_is_readable_and_versioned(tmp_path: Path) -> None:
    sc = StandardScaler(with_mean=False).fit(np.array([[1.0, 2.0], [3.0, 5.0]]))
    sc.save(tmp_path / "s.json")
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["format"] == "trainready.scaler" and doc["version"] == FORMAT_VERSION
    assert doc["class"] == "StandardScaler" and doc["params"]["with_mean"] is False
    assert doc["arrays"]["var_"]["data"] == [1.0, 2.25]


def test_npz_has_no_pickle(tmp_path: Path) -> None:
    sc = StandardScaler().fit(np.arange(6.0).reshape(3, 2))
    sc.save(tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz", allow_pickle=False) as npz:  # would raise on object arrays
        assert all(npz[k].dtype != object for k in npz.files)


def _corrupt_cases(tmp_path: Path) -> list[tuple[str, Path]]:
    sc = StandardScaler().fit(np.arange(6.0).reshape(3, 2))
    good_npz = tmp_path / "good.npz"
    sc.save(good_npz)
    good_json = tmp_path / "good.json"
    sc.save(good_json)
    cases = []
    p = tmp_path / "truncated.npz"
    p.write_bytes(good_npz.read_bytes()[:50])
    cases.append(("cannot be read", p))
    p = tmp_path / "foreign.npz"
    np.savez(p, weights=np.ones(3))
    cases.append(("no '__header__'", p))
    p = tmp_path / "garbage.json"
    p.write_text("{not json")
    cases.append(("neither an npz archive nor JSON", p))
    doc = json.loads(good_json.read_text())
    for key, value, msg in [
        ("format", "something.else", "format tag"),
        ("class", "Pickle", "unknown class"),
    ]:
        bad = dict(doc, **{key: value})
        p = tmp_path / f"bad_{key}.json"
        p.write_text(json.dumps(bad))
        cases.append((msg, p))
    bad = json.loads(good_json.read_text())
    bad["arrays"]["mean_"]["data"] = [1.0]
    p = tmp_path / "bad_shape.json"
    p.write_text(json.dumps(bad))
    cases.append(("has 1 values; its shape needs 2", p))
    bad = json.loads(good_json.read_text())
    del bad["attributes"]["scale_"]
    p = tmp_path / "missing.json"
    p.write_text(json.dumps(bad))
    cases.append((r"missing \['scale_'\]", p))
    p = tmp_path / "zip.npz"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("__header__.npy", b"not an npy file")
    cases.append(("not a readable .npy array", p))
    return cases


def test_corrupted_and_foreign_files(tmp_path: Path) -> None:
    for msg, path in _corrupt_cases(tmp_path):
        with pytest.raises(FormatError, match=msg):
            load(path)


def test_version_and_class_mismatch(tmp_path: Path) -> None:
    sc = MinMaxScaler().fit(np.arange(6.0).reshape(3, 2))
    sc.save(tmp_path / "m.json")
    with pytest.raises(FormatError, match="holds a MinMaxScaler, not a StandardScaler"):
        StandardScaler.load(tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text())
    doc["version"] = FORMAT_VERSION + 1
    (tmp_path / "v.json").write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=f"format version {FORMAT_VERSION + 1}, newer.*upgrade"):
        load(tmp_path / "v.json")
    with pytest.raises(FormatError, match="not fitted"):
        StandardScaler().save(tmp_path / "u.npz")
    with pytest.raises(ValueError, match="suffix"):
        sc.save(tmp_path / "m.pkl")
