"""The one persistence container: every object, both formats, one path rule, old files, damage.

Oracles: the bytes of the arrays before saving (bit-exact round trips), the members of the
version-1 files as NumPy itself reads them (files in tests/data were written by the previous
code), and the objects' own behaviour (transform, logits) before and after.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trainready as tr
from trainready import _persist
from trainready.errors import ConstantFeatureWarning, FormatError
from trainready.nn import MLP
from trainready.normalize import MinMaxScaler, StandardScaler

DATA = Path(__file__).parent / "data"
FUNCTION = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def _X(n: int = 60, d: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(3.0, 2.0, size=(n, d))


def objects() -> dict[str, Any]:
    """One of each kind of saved object, fitted."""
    X = _X()
    Xn = X.copy()
    Xn[4, 1] = np.nan
    y = (X[:, 0] > 3).astype(int)
    net = MLP(
        [3, 5, 4, 2],
        activation=["relu", "tanh"],
        output="softmax",
        l2=0.01,
        keep_prob=[1.0, 0.8],
        batch_norm=[True, False],
        rng=0,
    )
    net.fit(X, y, lr=0.05, epochs=3, rng=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        return {
            "standard": StandardScaler().fit(X),
            "standard_omit": StandardScaler(nan_policy="omit", with_mean=False).fit(Xn),
            "standard_axis": StandardScaler(axis=1).fit(np.abs(_X(8, 6)).reshape(8, 3, 2)),
            "standard_off": StandardScaler(with_mean=False, with_std=False).fit(X),
            "minmax": MinMaxScaler(feature_range=(-1, 2), clip=True).fit(X),
            "mlp": net,
            "mlp32": MLP([3, 4, 1], dtype=np.float32, rng=1),
        }


def same(a: Any, b: Any) -> None:
    """Two objects hold bit-identical states."""
    sa, sb = a.to_state(), b.to_state()
    assert type(a) is type(b)
    assert sa.kind == sb.kind and sa.version == sb.version
    assert json.dumps(sa.meta, sort_keys=True) == json.dumps(sb.meta, sort_keys=True)
    assert sorted(sa.arrays) == sorted(sb.arrays)
    for k, v in sa.arrays.items():
        w = sb.arrays[k]
        assert v.dtype == w.dtype and v.shape == w.shape, k
        assert v.tobytes() == w.tobytes(), k


def load(obj: Any, path: Any) -> Any:
    return type(obj).load(path)


@pytest.mark.parametrize("ext", [".npz", ".json", ""])
@pytest.mark.parametrize("name", list(objects()))
def test_every_object_round_trips_bit_exact_in_both_formats(tmp_path: Path, name: str, ext: str):
    obj = objects()[name]
    path = tmp_path / f"thing{ext}"
    obj.save(path)
    back = load(obj, path)  # the same path finds "thing.npz" when there was no suffix
    same(obj, back)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"thing{ext or '.npz'}"]
    if isinstance(obj, MLP):
        X = _X(10)
        np.testing.assert_array_equal(back.logits(X), obj.logits(X))
        for k, v in obj.buffers.items():
            assert back.buffers[k].tobytes() == v.tobytes()
    # in-memory: from_state(to_state()) is the identity too
    same(obj, type(obj).from_state(obj.to_state()))


def test_one_path_round_trips_without_suffix(tmp_path: Path):
    # issue 11 item 4: MLP.save("model") wrote model.npz and MLP.load("model") could not find it
    net = MLP([2, 3, 1], rng=0)
    net.save(tmp_path / "model")
    assert (tmp_path / "model.npz").is_file()
    same(net, MLP.load(tmp_path / "model"))
    same(net, MLP.load(str(tmp_path / "model.npz")))
    sc = StandardScaler().fit(_X())
    sc.save(tmp_path / "scaler")
    assert (tmp_path / "scaler.npz").is_file()
    same(sc, StandardScaler.load(tmp_path / "scaler"))
    with pytest.raises(FileNotFoundError, match=r"nor .*missing\.npz"):
        MLP.load(tmp_path / "missing")


def test_path_rule_errors(tmp_path: Path):
    sc = StandardScaler().fit(_X())
    with pytest.raises(ValueError, match=r"path: cannot tell the format .*'\.pkl'"):
        sc.save(tmp_path / "s.pkl")
    with pytest.raises(ValueError, match="contradicts the suffix"):
        tr.normalize.save(sc, tmp_path / "s.json", format="npz")
    tr.normalize.save(sc, tmp_path / "s.data", format="json")  # an explicit format wins
    same(sc, tr.normalize.load(tmp_path / "s.data"))  # content, not suffix, says what it is
    with pytest.raises(IsADirectoryError):
        MLP([2, 1]).save(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sc.save(tmp_path / "no" / "such" / "s.npz")
    with pytest.raises(TypeError, match="path: expected a file name"):
        sc.save(3)


def test_json_too_large_is_refused_at_save(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(_persist, "MAX_JSON_BYTES", 1000)
    with pytest.raises(ValueError, match="save it as .npz"):
        MLP([3, 20, 1], rng=0).save(tmp_path / "m.json")
    assert list(tmp_path.iterdir()) == []


def test_custom_activation_is_refused_at_save(tmp_path: Path):
    from trainready.nn.activations import LeakyReLU

    net = MLP([2, 3, 1], activation=LeakyReLU(0.3), rng=0)
    with pytest.raises(ValueError, match="custom LeakyReLU"):
        net.save(tmp_path / "m.npz")


# ------------------------------------------------------------------------ version-1 files
def test_version_1_scaler_files_still_load():
    X = np.load(DATA / "v1_inputs.npy")
    for ext in ("npz", "json"):
        sc = tr.normalize.load(DATA / f"v1_standard.{ext}")
        with np.load(DATA / "v1_standard.npz", allow_pickle=False) as raw:
            mean, scale = raw["mean_"], raw["scale_"]
            assert json.loads(str(raw["__header__"]))["version"] == 1
        np.testing.assert_array_equal(sc.mean_, mean)
        np.testing.assert_array_equal(sc.transform(X), (X - mean) / scale)
        mm = MinMaxScaler.load(DATA / f"v1_minmax.{ext}")
        with np.load(DATA / "v1_minmax.npz", allow_pickle=False) as raw:
            np.testing.assert_array_equal(
                mm.transform(X[:, [0, 2]]), X[:, [0, 2]] * raw["scale_"] + raw["min_"]
            )
        sc.partial_fit(X)  # the running state came along


def test_version_1_network_files_still_load(tmp_path: Path):
    net = MLP.load(DATA / "v1_mlp.npz")
    with np.load(DATA / "v1_mlp.npz", allow_pickle=False) as raw:
        assert int(raw["__version__"]) == 1
        for k, v in net.params.items():
            assert v.tobytes() == raw[f"param/{k}"].tobytes()
        for k, v in net.buffers.items():
            assert v.tobytes() == raw[f"buffer/{k}"].tobytes()
    # re-saved, it is a version-2 file with the same content
    net.save(tmp_path / "v2.npz")
    same(net, MLP.load(tmp_path / "v2.npz"))
    assert MLP.load(tmp_path / "v2.npz").to_state().version == 2


def test_version_rule_is_one_rule(tmp_path: Path):
    for obj in (StandardScaler().fit(_X()), MLP([2, 3, 1], rng=0)):
        obj.save(tmp_path / "o.json")
        doc = json.loads((tmp_path / "o.json").read_text())
        for version, msg in [
            (99, "newer than this trainready.*upgrade"),
            (0, "version is 0"),
            (-1, "version is -1"),
            ("2", "not an integer"),
            (True, "not an integer"),
            (2.0, "not an integer"),
        ]:
            (tmp_path / "v.json").write_text(json.dumps(dict(doc, version=version)))
            with pytest.raises(FormatError, match=msg):
                load(obj, tmp_path / "v.json")
        del doc["version"]
        (tmp_path / "v.json").write_text(json.dumps(doc))
        with pytest.raises(FormatError, match="no 'version'"):
            load(obj, tmp_path / "v.json")


def test_wrong_kind_and_foreign_files(tmp_path: Path):
    StandardScaler().fit(_X()).save(tmp_path / "s.npz")
    with pytest.raises(FormatError, match="format tag is 'trainready.scaler'"):
        MLP.load(tmp_path / "s.npz")
    MLP([2, 1]).save(tmp_path / "m.json")
    with pytest.raises(FormatError, match="format tag is 'trainready.nn.MLP'"):
        StandardScaler.load(tmp_path / "m.json")
    MinMaxScaler().fit(_X()).save(tmp_path / "mm.npz")
    with pytest.raises(FormatError, match="holds a MinMaxScaler, not a StandardScaler"):
        StandardScaler.load(tmp_path / "mm.npz")
    np.save(tmp_path / "plain.npy", np.ones(3))
    with pytest.raises(FormatError, match="neither an npz archive nor JSON"):
        MLP.load(tmp_path / "plain.npy")
    (tmp_path / "empty.json").write_bytes(b"")
    with pytest.raises(FormatError):
        StandardScaler.load(tmp_path / "empty.json")


# ------------------------------------------------------------------------------ damage
def _flip(data: bytes, i: int, bit: int) -> bytes:
    b = bytearray(data)
    b[i] ^= 1 << bit
    return bytes(b)


@pytest.mark.parametrize("ext", ["json", "npz"])
@pytest.mark.parametrize("name", ["standard_omit", "minmax", "mlp"])
def test_bit_flips_never_load_different_numbers(tmp_path: Path, name: str, ext: str):
    # issue 11 item 3: 5 of 150 JSON bit flips loaded different numbers
    obj = objects()[name]
    good = tmp_path / f"good.{ext}"
    obj.save(good)
    raw = good.read_bytes()
    rng = np.random.default_rng(0)
    loaded = 0
    for i in rng.choice(len(raw), size=min(150, len(raw)), replace=False):
        bad = tmp_path / f"bad.{ext}"
        bad.write_bytes(_flip(raw, int(i), int(rng.integers(8))))
        try:
            back = load(obj, bad)
        except FormatError:
            continue
        loaded += 1
        same(obj, back)  # a flip that loads must be harmless ("1e-05" -> "1E-05")
    assert loaded < 20


def _decode(doc: dict[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for k, e in doc.get("arrays", {}).items():
        dt = _persist._container.parse_dtype(e.get("dtype"))
        if dt is None:
            raise ValueError("no checksum possible")
        vals = [float(v) if isinstance(v, str) and dt.kind == "f" else v for v in e["data"]]
        out[k] = np.array(vals, dtype=dt).reshape(e["shape"])
    return out


def reseal(doc: dict[str, Any]) -> dict[str, Any]:
    """What a careless writer does: edit a file and give it a matching checksum."""
    try:
        header = {k: v for k, v in doc.items() if k != "arrays"}
        doc["sha256"] = _persist.checksum(header, _decode(doc))
    except (ValueError, TypeError, OverflowError, KeyError, AttributeError):
        pass
    return doc


def json_doc(obj: Any, tmp_path: Path) -> dict[str, Any]:
    obj.save(tmp_path / "o.json")
    return json.loads((tmp_path / "o.json").read_text())


def _edit(doc: Any, path: list[Any], value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -0.0, 0.5, 2, -1]),
    st.text(max_size=5),
    st.sampled_from(["nan", "inf", "-inf", "array", "float64", "S10"]),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=2), st.none(), max_size=2),
)


def _leaves(doc: Any, prefix: list[Any]) -> list[list[Any]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k != "sha256":
                out += _leaves(v, [*prefix, k])
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            out += _leaves(v, [*prefix, i])
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=FUNCTION)
@given(data=st.data(), name=st.sampled_from(["standard_omit", "minmax", "mlp", "standard_axis"]))
def test_random_json_field_edits_round_trip_or_raise_format_error(
    tmp_path: Path, data: st.DataObject, name: str
):
    obj = objects()[name]
    doc = json_doc(obj, tmp_path)
    path = data.draw(st.sampled_from(_leaves(doc, [])))
    value = data.draw(JSON_VALUES)
    _edit(doc, path, value)
    for sealed in (False, True):
        text = json.dumps(reseal(doc) if sealed else doc)
        (tmp_path / "e.json").write_text(text)
        try:
            back = load(obj, tmp_path / "e.json")
        except FormatError:
            continue
        if not sealed:  # the checksum caught every effective edit
            same(obj, back)
        # what loads is a valid object that round-trips
        back.save(tmp_path / "again.npz")
        same(back, load(obj, tmp_path / "again.npz"))
        X = _X(5)
        if getattr(back, "axis", None) in (None, 1, -1):  # else it expects N-D data
            out = back.logits(X) if isinstance(back, MLP) else back.transform(X)
            assert np.isfinite(out).all()


def test_structure_that_breaks_parsers_is_a_format_error(tmp_path: Path):
    sc = StandardScaler().fit(_X())
    doc = json_doc(sc, tmp_path)
    cases = {
        "deep": "[" * 100_000 + "]" * 100_000,
        "deep_inside": json.dumps(doc)[:-1] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "huge_int": json.dumps(doc).replace(
            '"n_features_in_": 3', '"n_features_in_": ' + "9" * 5000
        ),
        "huge_float": json.dumps(doc).replace('"n_features_in_": 3', '"n_features_in_": 1e999'),
        "bare_nan": json.dumps(doc).replace('"with_std": true', '"with_std": NaN'),
        "duplicate": json.dumps(doc)[:-1] + ', "format": "trainready.scaler"}',
        "list": "[1, 2]",
        "not_utf8": '{"a": "\xff"}',
    }
    for name, text in cases.items():
        (tmp_path / "x.json").write_bytes(
            text.encode("latin-1") if name == "not_utf8" else text.encode()
        )
        with pytest.raises(FormatError):
            StandardScaler.load(tmp_path / "x.json")


# ------------------------------------------------------------------ impossible values
def _standard_json(tmp_path: Path) -> dict[str, Any]:
    X = _X()
    X[0, 2] = np.nan
    return json_doc(StandardScaler(nan_policy="omit").fit(X), tmp_path)


IMPOSSIBLE_STANDARD = {
    "complex mean_": (["arrays", "mean_", "dtype"], "complex128", "dtype"),
    "str mean_": (
        ["arrays", "mean_"],
        {"dtype": "<U3", "shape": [3], "data": ["a", "b", "c"]},
        "dtype",
    ),
    "bool mean_": (["arrays", "mean_", "dtype"], "bool", "dtype"),
    "object mean_": (["arrays", "mean_", "dtype"], "object", "dtype"),
    "bytes bomb": (["arrays", "mean_", "dtype"], "S1000000000", "dtype"),
    "scale_ 0": (["arrays", "scale_", "data", 0], 0.0, "scale_"),
    "scale_ -1": (["arrays", "scale_", "data", 0], -1.0, "scale_"),
    "scale_ inf": (["arrays", "scale_", "data", 0], "inf", "scale_"),
    "NaN mean": (["arrays", "mean_", "data", 1], "nan", "mean_"),
    "negative count": (["arrays", "_state_n", "data", 0], -5.0, "_state_n"),
    "fractional count": (["arrays", "_state_n", "data", 0], 59.5, "_state_n"),
    "negative m2": (["arrays", "_state_m2", "data", 0], -1.0, "_state_m2"),
    "inf m2": (["arrays", "_state_m2", "data", 0], "inf", "_state_m2"),
    "negative n_samples_seen_": (["arrays", "n_samples_seen_", "data", 0], -60, "n_samples_seen_"),
    "fractional n_features_in_": (["attributes", "n_features_in_"], 3.5, "n_features_in_"),
    "bool n_features_in_": (["attributes", "n_features_in_"], True, "n_features_in_"),
    "zero features": (["attributes", "n_features_in_"], 0, "n_features_in_"),
    "trillion features": (["attributes", "n_features_in_"], 10**12, "n_features_in_"),
    "huge shape": (["arrays", "mean_", "shape"], [10**12], "shape"),
    "float shape": (["arrays", "mean_", "shape"], [3.0], "shape"),
    "with_mean string": (["params", "with_mean"], "no", "with_mean"),
    "nan_policy": (["params", "nan_policy"], "ignore", "nan_policy"),
    "axis float": (["params", "axis"], 1.5, "axis"),
    "axis 0": (["params", "axis"], 0, "axis 0 holds the samples"),
    "unknown param": (["params", "pickle"], 1, "unknown"),
    "class": (["class"], "os.system", "unknown class"),
    "class a list": (["class"], [], "unknown class"),  # found by the random edits: TypeError
    "data wrong length": (["arrays", "var_", "data"], [1.0], "values"),
    "data not numbers": (["arrays", "var_", "data", 0], [1], "malformed"),
    "bool datum": (["arrays", "var_", "data", 0], True, "malformed"),
    "big int datum": (["arrays", "var_", "data", 0], 10**400, "malformed"),
    "unknown array": (
        ["arrays", "extra"],
        {"dtype": "float64", "shape": [1], "data": [1.0]},
        "unexpected",
    ),
    "arrays not dict": (["arrays"], [1, 2], "arrays"),
}


@pytest.mark.parametrize("case", list(IMPOSSIBLE_STANDARD))
def test_impossible_scaler_values_are_refused_even_with_a_valid_checksum(tmp_path, case):
    path, value, msg = IMPOSSIBLE_STANDARD[case]
    doc = _standard_json(tmp_path)
    _edit(doc, path, value)
    (tmp_path / "e.json").write_text(json.dumps(reseal(doc)))
    with pytest.raises(FormatError, match=msg):
        StandardScaler.load(tmp_path / "e.json")


IMPOSSIBLE_MINMAX = {
    "feature_range inf": (["params", "feature_range"], [0, 1e999], "bare Infinity"),
    "feature_range reversed": (["params", "feature_range"], [1, 0], "feature_range"),
    "clip string": (["params", "clip"], "yes", "clip"),
    "min > max": (["arrays", "data_min_", "data", 1], 1e9, "data_min_"),
    "scale_ changed": (["arrays", "scale_", "data", 1], 1.0, "scale_"),
    "count zero": (["attributes", "n_samples_seen_"], 0, "n_samples_seen_"),
    "count mismatch": (["attributes", "_state_count"], 7, "_state_count"),
    "range overflows": (["arrays", "data_max_", "data", 0], 1.7e308, "data_"),
}


@pytest.mark.parametrize("case", list(IMPOSSIBLE_MINMAX))
def test_impossible_minmax_values_are_refused(tmp_path, case):
    path, value, msg = IMPOSSIBLE_MINMAX[case]
    doc = json_doc(MinMaxScaler().fit(_X() * np.array([1e307, 1, 1])), tmp_path)
    _edit(doc, path, value)
    (tmp_path / "e.json").write_text(json.dumps(reseal(doc)))
    with pytest.raises(FormatError, match=msg):
        MinMaxScaler.load(tmp_path / "e.json")


def _mlp_doc(tmp_path: Path) -> dict[str, Any]:
    return json_doc(MLP([3, 4, 2], batch_norm=True, rng=0), tmp_path)


IMPOSSIBLE_MLP = {
    "float width": (["config", "layer_dims"], [5, 3e8, 3], "layer_dims"),
    "huge width": (["config", "layer_dims"], [5, 300_000_000, 3], "layer_dims"),
    "too many parameters": (["config", "layer_dims"], [2**24, 2**24, 1], "parameters"),
    "zero width": (["config", "layer_dims"], [3, 0, 2], "layer_dims"),
    "bool width": (["config", "layer_dims"], [3, True, 2], "layer_dims"),
    "batch_norm string": (["config", "batch_norm"], ["yes"], "batch_norm"),
    "keep_prob 0": (["config", "keep_prob"], [0.0], "keep_prob"),
    "activation": (["config", "activations"], ["__import__"], "activations"),
    "output": (["config", "output"], "softmax2", "output"),
    "l2 negative": (["config", "l2"], -1.0, "l2"),
    "l2 bool": (["config", "l2"], True, "l2"),
    "dtype": (["config", "dtype"], "float16", "dtype"),
    "dtype a list": (["config", "dtype"], ["float64"], "dtype"),
    "extra key": (["config", "pickle"], 1, "keys"),
    "NaN running_var": (["arrays", "buffer/running_var1", "data", 0], "nan", "running_var1"),
    "negative running_var": (["arrays", "buffer/running_var1", "data", 0], -1.0, "running_var1"),
    "inf weight": (["arrays", "param/W1", "data", 0], "inf", "W1"),
    "wrong W shape": (["arrays", "param/W1", "shape"], [3, 4], "shape"),
    "float32 W in float64 net": (["arrays", "param/W1", "dtype"], "float32", "dtype"),
    "missing buffer": (["arrays", "buffer/running_mean1"], None, "lacks"),
}


@pytest.mark.parametrize("case", list(IMPOSSIBLE_MLP))
def test_impossible_network_values_are_refused(tmp_path, case):
    path, value, msg = IMPOSSIBLE_MLP[case]
    doc = _mlp_doc(tmp_path)
    if value is None:
        del doc["arrays"][path[-1]]
    else:
        _edit(doc, path, value)
    (tmp_path / "e.json").write_text(json.dumps(reseal(doc)))
    with pytest.raises(FormatError, match=msg):
        MLP.load(tmp_path / "e.json")


def test_from_state_checks_states_built_in_memory():
    sc = StandardScaler().fit(_X())
    s = sc.to_state()
    bad = dict(s.arrays, scale_=np.zeros(3))
    with pytest.raises(FormatError, match="scale_"):
        StandardScaler.from_state(_persist.State(s.kind, s.version, s.meta, bad))
    bad = dict(s.arrays, mean_=s.arrays["mean_"].astype(complex))
    with pytest.raises(FormatError, match="dtype complex128"):
        StandardScaler.from_state(_persist.State(s.kind, s.version, s.meta, bad))
    with pytest.raises(TypeError, match="state: expected a trainready State"):
        MLP.from_state({"config": {}})
    ms = MLP([2, 3, 1], rng=0).to_state()
    W = dict(ms.arrays)
    W["param/W1"] = np.full((3, 2), np.nan)
    with pytest.raises(FormatError, match="finite"):
        MLP.from_state(_persist.State(ms.kind, ms.version, ms.meta, W))


@settings(max_examples=40, deadline=None)
@given(
    dims=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    bn=st.data(),
)
def test_network_specs_match_param_shapes(dims, bn):
    # the container computes shapes from a config before any MLP exists; they must agree
    hidden = len(dims) - 2
    batch_norm = bn.draw(st.lists(st.booleans(), min_size=hidden, max_size=hidden))
    net = MLP(dims, batch_norm=batch_norm, rng=0)
    state = net.to_state()
    specs = tr.nn._io.state_specs(_persist.Header(state.kind, state.version, state.meta))
    assert {k[6:]: v.shape for k, v in specs.items() if k.startswith("param/")} == (
        net.param_shapes()
    )
    assert {k[7:]: v.shape for k, v in specs.items() if k.startswith("buffer/")} == {
        k: v.shape for k, v in net.buffers.items()
    }


def test_fixture_files_are_untouched_by_loading(tmp_path: Path):
    before = {p.name: p.read_bytes() for p in DATA.iterdir()}
    for p in DATA.glob("v1_*"):
        if p.suffix in (".npz", ".json") and "mlp" not in p.name:
            tr.normalize.load(p)
    MLP.load(DATA / "v1_mlp.npz")
    assert before == {p.name: p.read_bytes() for p in DATA.iterdir()}
    shutil.copy(DATA / "v1_mlp.npz", tmp_path / "copy")  # no suffix, v1 content: still loads
    MLP.load(tmp_path / "copy")


def test_a_zip_that_needs_a_newer_unzip_is_a_format_error(tmp_path: Path):
    # found by benchmarks/reliability.py: one bit flip made zipfile raise NotImplementedError
    MLP([2, 3, 1], rng=0).save(tmp_path / "m.npz")
    raw = bytearray((tmp_path / "m.npz").read_bytes())
    at = raw.index(b"PK\x01\x02")  # the first central-directory entry
    raw[at + 6 : at + 8] = (84).to_bytes(2, "little")  # "version needed to extract": 8.4
    (tmp_path / "m.npz").write_bytes(bytes(raw))
    with pytest.raises(FormatError, match="cannot be read"):
        MLP.load(tmp_path / "m.npz")


def _npz_members(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    return json.loads(str(arrays.pop("__header__"))), arrays


def _write_npz(path: Path, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    header["sha256"] = _persist.checksum(header, arrays)  # re-sealed: validation must catch it
    np.savez(path, __header__=np.array(json.dumps(header)), **arrays)


NPZ_EDITS = {
    "complex mean_": ("standard", "mean_", lambda a: a.astype(complex), "dtype complex128"),
    "float32 mean_": ("standard", "mean_", lambda a: a.astype(np.float32), "dtype float32"),
    "int var_": ("standard", "var_", lambda a: a.astype(np.int64), "dtype int64"),
    "scale_ -1": ("standard", "scale_", lambda a: -a, "scale_"),
    "NaN m2": ("standard", "_state_m2", lambda a: a * np.nan, "_state_m2"),
    "2-D min_": ("minmax", "min_", lambda a: a[None, :], "shape"),
    "NaN running_var": ("mlp", "buffer/running_var1", lambda a: a * np.nan, "running_var1"),
    "negative running_var": ("mlp", "buffer/running_var1", lambda a: -a - 1, "running_var1"),
    "Fortran W": ("mlp", "param/W2", lambda a: np.asfortranarray(a), None),  # loads: same data
}


@pytest.mark.parametrize("case", list(NPZ_EDITS))
def test_impossible_npz_arrays_are_refused_even_with_a_valid_checksum(tmp_path, case):
    name, key, edit, msg = NPZ_EDITS[case]
    obj = objects()[name]
    obj.save(tmp_path / "o.npz")
    header, arrays = _npz_members(tmp_path / "o.npz")
    arrays[key] = edit(arrays[key])
    _write_npz(tmp_path / "e.npz", header, arrays)
    if msg is None:
        same(obj, load(obj, tmp_path / "e.npz"))
    else:
        with pytest.raises(FormatError, match=msg):
            load(obj, tmp_path / "e.npz")
