"""The framework-neutral core under the signal doctor and LSUV, and the inputs that broke them.

One RNG coercion and one message grammar; the conversion module; the result protocol; one
per-layer statistics routine shared by the NumPy and torch recorders; LSUV written once; the
degenerate batches of issue 11 (NaN, 1e300, one row, complex weights) answered with a finding or
a clear error, never silence.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trainready as tr
from trainready import _arrays, _validation
from trainready._results import Result
from trainready._rng import as_generator
from trainready.errors import ConvergenceWarning
from trainready.signal import Fix, Kind, Measure

torch = pytest.importorskip("torch")
nn = torch.nn


# ------------------------------------------------------------------------- rng and messages
@pytest.mark.parametrize(
    ("rng", "exc", "got"),
    [
        ("abc", TypeError, "str ('abc')"),
        (-1, ValueError, "got -1"),
        (1.5, TypeError, "1.5"),
        (True, TypeError, "True"),
        ([0], TypeError, "list"),
    ],
)
def test_rng_refusals_name_the_argument_and_the_fix(rng, exc, got) -> None:
    with pytest.raises(exc) as info:
        as_generator(rng)
    text = str(info.value)
    assert text.startswith("rng: expected a numpy.random.Generator, an int seed >= 0 or None")
    assert got in text and "pass e.g. rng=0" in text and "SeedSequence" not in text


@pytest.mark.parametrize("where", ["init", "signal", "lsuv", "torch_init"])
def test_every_half_uses_the_one_rng_coercion(where: str) -> None:
    net = tr.nn.MLP([3, 4, 1], rng=0)
    X = np.random.default_rng(0).standard_normal((8, 3))
    call = {
        "init": lambda: tr.init.he_normal((3, 3), rng="abc"),
        "signal": lambda: tr.diagnose(net, X, rng="abc"),
        "lsuv": lambda: tr.init.lsuv_(net, X, rng=-1),
        "torch_init": lambda: tr.torch.init_(nn.Linear(3, 2), rng="abc"),
    }[where]
    with pytest.raises((TypeError, ValueError), match=r"^rng: expected a numpy.random.Generator"):
        call()


def test_generators_and_seeds_pass_through() -> None:
    g = np.random.default_rng(3)
    assert as_generator(g) is g
    assert as_generator(np.int64(4)).random() == np.random.default_rng(4).random()


def test_validation_grammar() -> None:
    with pytest.raises(
        ValueError, match=r"^tol: expected a finite number > 0, got -1; pass e\.g\."
    ):
        _validation.check_real(-1, "tol", example="0.1")
    with pytest.raises(TypeError, match=r"^flag: expected True or False, got str \('no'\)"):
        _validation.check_bool("no", "flag")
    with pytest.raises(ValueError, match=r"^n: expected an int >= 1, got 2.5"):
        _validation.check_int(2.5, "n")
    with pytest.raises(ValueError, match="one of 'a', 'b'"):
        _validation.check_choice("c", "kind", ("a", "b"))


# -------------------------------------------------------------------------- foreign arrays
def test_arrays_round_trip_torch_pandas_dask() -> None:
    x = np.arange(6.0).reshape(3, 2)
    t = torch.from_numpy(x).float()
    assert _arrays.is_torch_tensor(t) and _arrays.is_torch_tensor(nn.Parameter(t))
    assert not _arrays.is_torch_tensor(x) and _arrays.kind_of(t) == "torch"
    assert _arrays.is_low_precision(t) and not _arrays.is_low_precision(t.double())
    np.testing.assert_array_equal(_arrays.to_numpy(t.bfloat16()), x)
    back = _arrays.from_numpy(x, t)
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float32
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(x, columns=["a", "b"])
    assert _arrays.kind_of(df) == "pandas"
    assert list(_arrays.from_numpy(x * 2, df).columns) == ["a", "b"]
    da = pytest.importorskip("dask.array")
    np.testing.assert_array_equal(_arrays.to_numpy(da.from_array(x)), x)


# --------------------------------------------------------------------------- result protocol
def test_results_share_one_protocol() -> None:
    net = tr.nn.MLP([4, 8, 1], rng=0)
    X = np.random.default_rng(0).standard_normal((16, 4))
    diag = tr.diagnose(net, X)
    table = tr.init.lsuv_(net, X, rng=0)
    init_table = tr.init.init_(net, rng=0)
    for result in (diag, table, init_table):
        assert isinstance(result, Result)
        assert result._repr_html_().startswith("<pre>")
        json.dumps(result.to_dict())
        assert result.summary() == str(result)


# ---------------------------------------------------------------- one statistics routine
def _torch_copy(net: tr.nn.MLP) -> nn.Sequential:
    mods: list[nn.Module] = []
    L = net.n_layers
    for l in range(1, L + 1):
        W, b = net.params[f"W{l}"], net.params[f"b{l}"]
        lin = nn.Linear(W.shape[1], W.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        mods += [lin, nn.ReLU()] if l < L else [lin]
    return nn.Sequential(*mods)


def test_numpy_and_torch_records_agree_field_by_field_with_dead_and_duplicate_units() -> None:
    net = tr.nn.MLP([6, 12, 12, 12, 1], activation="relu", output="linear", rng=0)
    p = net.params
    p["b1"][:4] = -50.0  # four dead units in layer 1
    p["W2"][3], p["b2"][3] = p["W2"][2], p["b2"][2]  # unit 3 of layer 2 copies unit 2 ...
    p["W3"][:, 3] = p["W3"][:, 2]  # ... incoming and outgoing
    net.params = p
    X = np.random.default_rng(1).standard_normal((40, 6))
    a, b = tr.signal.record(net, X), tr.torch.record(_torch_copy(net), torch.from_numpy(X))
    assert a.layers[0].dead_fraction == pytest.approx(4 / 12)
    assert a.layers[1].duplicate_fraction == pytest.approx(1 / 12)
    skip = {"index", "name", "sample", "nonfinite"}
    for ra, rb in zip(a.layers, b.layers, strict=True):
        for f in dataclasses.fields(ra):
            if f.name not in skip:
                va, vb = getattr(ra, f.name), getattr(rb, f.name)
                assert vb == (va if isinstance(va, str) else pytest.approx(va, rel=1e-9)), f.name
    # the injected copy, made different on the way out, is not a duplicate on either side
    p["W3"][:, 3] += 1.0
    net.params = p
    assert tr.signal.record(net, X).layers[1].duplicate_fraction == 0.0
    assert tr.torch.record(_torch_copy(net), torch.from_numpy(X)).layers[1].duplicate_fraction == 0


def test_diagnose_records_batch_norm_through_the_engine() -> None:
    net = tr.nn.MLP([8, 32, 32, 32, 1], batch_norm=True, init="lecun", rng=0)
    X = np.random.default_rng(0).standard_normal((64, 8)) * 100
    rec = tr.signal.record(net, X)
    z1 = X @ net.params["W1"].T + net.params["b1"]
    assert rec.layers[0].z_std == pytest.approx(float(z1.std()), rel=1e-12)
    # batch norm (batch statistics) brings layer 2 back to the scale of n·Var(W)·E[relu^2] = 1/2
    assert 0.4 < rec.layers[1].z_std < 1.0
    Xa = X / 100
    diag = tr.diagnose(net, Xa)
    assert diag.ok, str(diag)  # LeCun before ReLU compounds without batch norm, not with it
    without = tr.nn.MLP([8] + [32] * 12 + [1], init="lecun", rng=0)
    with_bn = tr.nn.MLP([8] + [32] * 12 + [1], batch_norm=True, init="lecun", rng=0)
    assert "vanishing" in tr.diagnose(without, Xa, verify=False).kinds()
    assert "vanishing" not in tr.diagnose(with_bn, Xa, verify=False).kinds()
    np.testing.assert_array_equal(Xa, X / 100)


# ------------------------------------------------------------------------------ decisions
def test_findings_carry_enums_and_verification_reads_the_measure() -> None:
    net = tr.nn.MLP([16] + [64] * 20 + [1], activation="relu", init="lecun", rng=0)
    d = tr.diagnose(net, np.random.default_rng(0).standard_normal((128, 16)))
    measures = {f.measure for f in d.findings}
    assert measures == {Measure.FORWARD_RATIO, Measure.BACKWARD_RATIO}
    assert all(f.kind is Kind.VANISHING and f.applied == (Fix.REINIT,) for f in d.findings)
    assert json.loads(json.dumps([f.to_dict() for f in d.findings]))[0]["kind"] == "vanishing"
    backward = next(f for f in d.findings if f.measure is Measure.BACKWARD_RATIO)
    assert "multiplies ||dLoss/dz|| by about" in backward.message  # the backward factor
    assert "(layer " in str(d) and "(layers " not in str(d)


def test_a_fix_is_verified_only_when_every_ratio_is_inside_the_lines() -> None:
    from trainready.signal._verify import _passes

    net = tr.nn.MLP([16] + [64] * 20 + [1], activation="relu", init="he", rng=0)
    rec = tr.signal.record(net, np.random.default_rng(0).standard_normal((128, 16)))
    dead = tr.signal.Finding(
        kind=Kind.DEAD_UNITS, layer=1, value=0.9, threshold=0.7, measure=Measure.DEAD_FRACTION
    )
    assert _passes(dead, rec, tr.signal.Thresholds())
    # the same record, judged by lines the forward ratio no longer fits: not verified
    ratio = tr.signal.forward_ratio(rec)
    assert not _passes(dead, rec, tr.signal.Thresholds(vanishing=ratio * 1.01))


def test_one_input_finding_whatever_the_audit_finds() -> None:
    X = np.random.default_rng(0).standard_normal((200, 8)) * [1, 1, 1, 1, 1e3, 1e3, 1, 1] + 500
    d = tr.diagnose(tr.nn.MLP([8, 16, 1], rng=0), X)
    assert d.kinds().count("unnormalized_input") == 1
    assert str(d).count("unnormalized_input") == 1


# ----------------------------------------------------------------- degenerate inputs (#11)
def test_judge_on_nan_statistics_finds_exploding() -> None:
    rec = tr.signal.record(tr.nn.MLP([4, 8, 8, 1], rng=0), np.ones((8, 4)) + np.eye(8, 4))
    nan = tuple(dataclasses.replace(r, z_std=math.nan) if r.index == 2 else r for r in rec.layers)
    found = tr.signal.judge(dataclasses.replace(rec, layers=nan))
    assert found and found[0].kind == "exploding" and found[0].measure is Measure.NONFINITE


@pytest.mark.parametrize(("rec", "exc"), [(None, TypeError), ("empty", ValueError)])
def test_judge_refuses_what_is_not_a_record(rec, exc) -> None:
    if rec == "empty":
        rec = tr.signal.SignalRecord(
            layers=(), n_samples=0, input_std=0.0, input_rms=0.0, gradient_source="probe"
        )
    with pytest.raises(exc, match=r"^rec: expected"):
        tr.signal.judge(rec)


@pytest.mark.parametrize("half", ["numpy", "torch"])
def test_lsuv_with_nan_data_raises_and_changes_nothing(half: str) -> None:
    X = np.random.default_rng(0).standard_normal((32, 4))
    X[3, 1] = np.nan
    if half == "numpy":
        net = tr.nn.MLP([4, 8, 1], rng=0)
        before = {k: v.copy() for k, v in net.params.items()}
        with pytest.raises(ValueError, match="X"):
            tr.init.lsuv_(net, X)
        assert all(np.array_equal(v, before[k]) for k, v in net.params.items())
    else:
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        before = [p.detach().clone() for p in model.parameters()]
        with pytest.raises(ValueError, match=r"^X: expected finite values"):
            tr.torch.lsuv_(model, torch.from_numpy(X).float())
        assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("half", ["numpy", "torch"])
def test_lsuv_reaches_unit_variance_on_1e300_data(half: str) -> None:
    X = np.random.default_rng(0).standard_normal((64, 4)) * 1e300
    if half == "numpy":
        net = tr.nn.MLP([4, 8, 8, 1], rng=0)
        table = tr.init.lsuv_(net, X, rng=0)
    else:
        model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double()
        table = tr.torch.lsuv_(model, torch.from_numpy(X), rng=0)
    assert table.ok and all(abs(r.variance_after - 1) < 0.1 for r in table)
    assert math.isinf(table[0].variance_before) or table[0].variance_before > 1e500 / 1e300


def test_lsuv_that_cannot_converge_warns_and_says_so() -> None:
    net = tr.nn.MLP([4, 8, 1], rng=0)
    X = np.zeros((16, 4))  # every output is 0: no rescaling reaches unit variance
    with pytest.warns(ConvergenceWarning, match="did not reach unit variance"):
        table = tr.init.lsuv_(net, X, rng=0)
    assert not table.ok and not table[0].converged


def test_torch_doctor_refuses_one_row_and_converts_numpy() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    with pytest.raises(ValueError, match=r"^X: expected a batch of 2 rows or more"):
        tr.torch.diagnose(model, torch.randn(1, 3))
    X = np.random.default_rng(0).standard_normal((32, 3))
    assert tr.torch.diagnose(model, X).record.n_samples == 32  # a NumPy batch is converted
    with pytest.raises(
        ValueError,
        match=r"^X: expected a batch that the model accepts \(its "
        r"first Linear layer takes 3 features\)",
    ):
        tr.torch.diagnose(model, torch.randn(8, 5))
    with pytest.raises(ValueError, match="first Linear layer takes 3"):
        tr.torch.lsuv_(model, torch.randn(8, 5))


def test_complex_parameters_are_refused_on_both_halves() -> None:
    model = tr.signal.Network({"W1": np.ones((2, 3), complex), "b1": np.zeros(2)}, (), "linear")
    duck = type("Duck", (), {"params": model.params, "activations": (), "output": "linear"})
    with pytest.raises(TypeError, match=r"W1.*complex"):
        tr.diagnose(duck(), np.ones((4, 3)))
    with pytest.raises(TypeError, match="complex"):
        tr.torch.diagnose(nn.Linear(3, 2).to(torch.complex64), torch.randn(4, 3))


# ---------------------------------------------------------------------- one API, two halves
def test_both_halves_take_the_same_arguments() -> None:
    net = tr.nn.MLP([5, 8, 3], activation="relu", output="softmax", rng=0)
    X = np.random.default_rng(0).standard_normal((40, 5))
    y = np.random.default_rng(1).integers(0, 3, 40)
    model = _torch_copy(net)
    a = tr.diagnose(net, X, y, loss=None, rng=0, verify=False)
    b = tr.torch.diagnose(
        model, torch.from_numpy(X), torch.from_numpy(y), loss=None, rng=0, verify=False
    )  # integer classes: cross-entropy, as the MLP's head
    for ra, rb in zip(a.layers, b.layers, strict=True):
        assert rb.delta_norm == pytest.approx(ra.delta_norm, rel=1e-9)
    assert tr.torch.pick_loss(torch.zeros(4, 1), torch.tensor([0.0, 1, 1, 0])) == "bce"
    c = tr.torch.diagnose(model, X, y, verify=False)  # NumPy batch and targets, as the CLI has
    assert c.record.layers[0].delta_norm == pytest.approx(b.record.layers[0].delta_norm, rel=1e-12)
    with pytest.raises(TypeError, match=r"^loss: expected None"):
        tr.diagnose(net, X, y, loss="mse")


def test_old_torch_call_forms_still_work_with_a_deprecation() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    X, y = torch.randn(16, 3), torch.randn(16, 1)
    with pytest.warns(DeprecationWarning, match="loss_fn"):
        old = tr.torch.diagnose(model, X, y, loss_fn=nn.MSELoss(), verify=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = tr.torch.diagnose(model, X, y, loss=nn.MSELoss(), verify=False)
    assert old.record == new.record


def test_init_tables_are_the_same_type_on_both_halves() -> None:
    net = tr.nn.MLP([8, 16, 16, 1], activation="tanh", rng=0)
    model = nn.Sequential(
        nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1)
    ).double()
    a, b = tr.init.init_(net, rng=0), tr.torch.init_(model, rng=0)
    assert type(a) is type(b) is tr.init.InitTable
    assert [(r.scheme, r.std, r.fan_in) for r in a] == [(r.scheme, r.std, r.fan_in) for r in b]
    np.testing.assert_array_equal(net.params["W2"], model[2].weight.detach().numpy())
    X = np.random.default_rng(0).standard_normal((64, 8))
    la, lb = tr.init.lsuv_(net, X, rng=0), tr.torch.lsuv_(model, torch.from_numpy(X), rng=0)
    assert type(la) is type(lb) is tr.init.LsuvTable


def test_init_lsuv_is_a_deprecated_alias() -> None:
    net = tr.nn.MLP([4, 8, 1], rng=0)
    X = np.random.default_rng(0).standard_normal((16, 4))
    with pytest.warns(DeprecationWarning, match="lsuv_"):
        assert tr.init.lsuv(net, X, rng=0) is net


def test_one_gain_table() -> None:
    from trainready.torch._init import activation_of

    assert tr.init.auto_gain("gelu") == math.sqrt(2) and tr.init.scheme_for("gelu") == "he"
    assert tr.init.required_gain("relu") == 2.0 and tr.init.required_gain("sigmoid") is None
    assert tr.signal.required_gain is tr.init.required_gain
    assert activation_of(nn.GELU()) == ("gelu", None)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.integers(2, 6), st.integers(0, 3))
def test_duplicates_are_found_exactly(n: int, k: int, copies: int) -> None:
    rng = np.random.default_rng(n * 100 + k)
    W, b, d = rng.standard_normal((n, k)), rng.standard_normal(n), rng.standard_normal((n, 5))
    copies = min(copies, n - 1)
    for i in range(copies):  # row i + 1 .. copies copy row 0
        W[i + 1], b[i + 1], d[i + 1] = W[0], b[0], d[0]
    assert tr.signal.duplicate_fraction(W, b, d) == pytest.approx(copies / n)
    if copies:
        d[1] += 1.0  # a different gradient: no longer a permanent copy
        assert tr.signal.duplicate_fraction(W, b, d) == pytest.approx((copies - 1) / n)
