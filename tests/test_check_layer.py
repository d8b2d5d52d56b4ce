"""tr.check_layer on course-style layers written here, independently of trainready.

Each layer is the cs231n pattern: ``forward(**inputs) -> (out, cache)``,
``backward(dout, cache) -> (dx, dw, ...)``. Correct backward passes must pass; the planted bugs
seen in public course code must fail, naming the right input and the right pattern. The
batch-norm backward is checked against torch.autograd first, so the oracle is itself checked.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trainready as tr
from trainready.gradcheck import InPlaceWarning, check_layer

# --- the layers -----------------------------------------------------------------------------


def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w, b)


def affine_backward(dout, cache, bug=None):
    x, w, _ = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    if bug == "db_x4":
        db = 4 * db
    elif bug == "dw_x2":
        dw = 2 * dw
    elif bug == "dx_transposed":
        dx = (w @ dout.T).reshape(x.shape)  # (D, N) written for (N, D); N == D here
    return dx, dw, db


def relu_forward(x):
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def relu_backward_in_place(dout, cache):  # the classic: zeroes the caller's upstream gradient
    dout[cache <= 0] = 0
    return dout


def relu_forward_in_place(x):  # overwrites its input
    np.maximum(x, 0, out=x)
    return x.copy(), x


def batchnorm_forward(x, gamma, beta, bn_param):
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    mu, var = x.mean(axis=0), x.var(axis=0)
    xh = (x - mu) / np.sqrt(var + eps)
    d = x.shape[1]
    bn_param["running_mean"] = (
        momentum * bn_param.get("running_mean", np.zeros(d)) + (1 - momentum) * mu
    )
    bn_param["running_var"] = (
        momentum * bn_param.get("running_var", np.zeros(d)) + (1 - momentum) * var
    )
    return gamma * xh + beta, (xh, gamma, var, eps)


def batchnorm_backward(dout, cache, bug=None):
    xh, gamma, var, eps = cache
    n = dout.shape[0]
    std = np.sqrt(var + (1e-8 if bug == "eps" else eps))
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xh).sum(axis=0)
    dxh = dout * gamma
    if bug == "dx_missing_term":
        dx = (n * dxh - dxh.sum(axis=0)) / (n * std)
    else:
        dx = (n * dxh - dxh.sum(axis=0) - xh * (dxh * xh).sum(axis=0)) / (n * std)
    return dx, dgamma, dbeta


def conv_forward_naive(x, w, b, conv_param):
    s, pad = conv_param["stride"], conv_param["pad"]
    n, _, h, wd = x.shape
    f, _, hh, ww = w.shape
    ho, wo = 1 + (h + 2 * pad - hh) // s, 1 + (wd + 2 * pad - ww) // s
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, f, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * s : i * s + hh, j * s : j * s + ww]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache, bug=None):
    x, w, _, conv_param = cache
    s, pad = conv_param["stride"], conv_param["pad"]
    n, _, h, wd = x.shape
    _, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            patch = xp[:, :, i * s : i * s + hh, j * s : j * s + ww]
            d = dout[:, :, i, j]
            dw += np.tensordot(d, patch, axes=([0], [0]))
            dxp[:, :, i * s : i * s + hh, j * s : j * s + ww] += np.tensordot(d, w, axes=([1], [0]))
    if bug == "dw_over_n":  # the forward sums over the batch; this backward averages
        dw /= n
    return dxp[:, :, pad : pad + h, pad : pad + wd], dw, dout.sum(axis=(0, 2, 3))


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    hd = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = _sigmoid(a[:, :hd]), _sigmoid(a[:, hd : 2 * hd]), _sigmoid(a[:, 2 * hd : 3 * hd])
    g = np.tanh(a[:, 3 * hd :])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache, bug=None):
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tc = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tc**2)
    da = np.concatenate(
        [dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dnext_h * tc * o * (1 - o),
         dc * i * (1 - g**2)],
        axis=1,
    )  # fmt: skip
    dprev_c = dc if bug == "dprev_c_without_f" else dc * f
    return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(**kw):  # two outputs: ((next_h, next_c), cache)
    h, c, cache = lstm_step_forward(**kw)
    return (h, c), cache


def lstm_backward(bug=None):
    return lambda dout, cache: lstm_step_backward(dout[0], dout[1], cache, bug)


# --- inputs -----------------------------------------------------------------------------------


def affine_inputs(n=5, d=5, m=3, seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((n, d)), "w": rng.standard_normal((d, m)),
            "b": rng.standard_normal(m)}  # fmt: skip


def bn_inputs(seed=1, standardized=False):
    rng = np.random.default_rng(seed)
    x = 3 * rng.standard_normal((6, 4)) + 2
    if standardized:  # every column has variance exactly 1 (to rounding)
        x = (x - x.mean(axis=0)) / x.std(axis=0)
    return {"x": x, "gamma": rng.standard_normal(4), "beta": rng.standard_normal(4),
            "bn_param": {"mode": "train", "eps": 1e-5}}  # fmt: skip


def conv_inputs(seed=2):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((4, 3, 5, 5)), "w": 0.5 * rng.standard_normal((2, 3, 3, 3)),
            "b": rng.standard_normal(2), "conv_param": {"stride": 1, "pad": 1}}  # fmt: skip


def lstm_inputs(seed=3, n=3, d=4, h=5):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((n, d)), "prev_h": rng.standard_normal((n, h)),
            "prev_c": rng.standard_normal((n, h)), "Wx": 0.5 * rng.standard_normal((d, 4 * h)),
            "Wh": 0.5 * rng.standard_normal((h, 4 * h)), "b": 0.1 * rng.standard_normal(4 * h)}  # fmt: skip


def digest(inputs):
    h = hashlib.sha256()
    for k, v in inputs.items():
        h.update(k.encode())
        h.update(np.asarray(v).tobytes() if isinstance(v, np.ndarray) else repr(v).encode())
    return h.hexdigest()


def failing_names(rep):
    return [p.name for p in rep.failing]


# --- correct layers pass ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("forward", "backward", "make"),
    [
        (affine_forward, affine_backward, affine_inputs),
        (
            relu_forward,
            relu_backward,
            lambda: {"x": np.random.default_rng(4).standard_normal((4, 6))},
        ),
        (batchnorm_forward, batchnorm_backward, bn_inputs),
        (conv_forward_naive, conv_backward_naive, conv_inputs),
        (lstm_forward, lstm_backward(), lstm_inputs),
    ],
    ids=["affine", "relu", "batchnorm", "conv", "lstm"],
)
def test_correct_layers_pass_and_inputs_are_untouched(forward, backward, make):
    inputs = make()
    before = digest(inputs)
    rep = check_layer(forward, backward, inputs)
    assert rep.verdict == "ok", str(rep)
    assert rep.excess < 1e-7
    floats = [k for k, v in inputs.items() if isinstance(v, np.ndarray)]
    assert list(rep.params) == floats  # one row per float input, in order
    assert digest(inputs) == before


# --- planted bugs fail, naming the input and the pattern -------------------------------------


@pytest.mark.parametrize(
    ("forward", "backward", "make", "name", "phrase"),
    [
        (affine_forward, lambda d, c: affine_backward(d, c, "db_x4"), affine_inputs, "b",
         "4.00 × numeric"),
        (affine_forward, lambda d, c: affine_backward(d, c, "dw_x2"), affine_inputs, "w",
         "2.00 × numeric"),
        (affine_forward, lambda d, c: affine_backward(d, c, "dx_transposed"), affine_inputs, "x",
         "transpose"),
        (conv_forward_naive, lambda d, c: conv_backward_naive(d, c, "dw_over_n"), conv_inputs,
         "w", "1/4 × numeric"),
        (batchnorm_forward, lambda d, c: batchnorm_backward(d, c, "dx_missing_term"), bn_inputs,
         "x", ""),
        (lstm_forward, lstm_backward("dprev_c_without_f"), lstm_inputs, "prev_c", ""),
    ],
    ids=["affine db x4", "affine dw x2", "affine dx transposed", "conv dw / N",
         "batchnorm dx missing a term", "lstm dprev_c without f"],
)  # fmt: skip
def test_planted_bugs_are_wrong_with_the_input_named(forward, backward, make, name, phrase):
    rep = check_layer(forward, backward, make())
    assert rep.verdict == "wrong"
    assert failing_names(rep) == [name], str(rep)
    assert phrase in rep.params[name].hint
    assert name in rep.summary()


def test_a_small_eps_difference_reads_as_eps():
    # The backward recomputes the std with eps = 1e-8, the forward used 1e-5: with every column
    # of unit variance, dx is (1 + 5e-6) times too large, uniformly.
    rep = check_layer(
        batchnorm_forward,
        lambda d, c: batchnorm_backward(d, c, "eps"),
        bn_inputs(standardized=True),
    )
    assert failing_names(rep) == ["x"] and rep.verdict != "ok"
    assert "a small constant such as eps differs" in rep.params["x"].hint


def test_batchnorm_oracle_matches_torch_autograd_and_a_torch_backward_passes():
    torch = pytest.importorskip("torch")
    inputs = bn_inputs()
    out, cache = batchnorm_forward(**{**inputs, "bn_param": dict(inputs["bn_param"])})
    dout = np.random.default_rng(9).standard_normal(out.shape)
    ts = {k: torch.tensor(inputs[k], requires_grad=True) for k in ("x", "gamma", "beta")}
    y = torch.nn.functional.batch_norm(ts["x"], None, None, ts["gamma"], ts["beta"],
                                       training=True, eps=1e-5)  # fmt: skip
    np.testing.assert_allclose(y.detach().numpy(), out, rtol=1e-12, atol=1e-12)
    y.backward(torch.tensor(dout))
    mine = batchnorm_backward(dout, cache)
    for k, g in zip(("x", "gamma", "beta"), mine, strict=True):
        np.testing.assert_allclose(g, ts[k].grad.numpy(), rtol=1e-10, atol=1e-12)

    def torch_forward(x, gamma, beta, bn_param):
        tx = {k: torch.tensor(v, requires_grad=True) for k, v in
              (("x", x), ("gamma", gamma), ("beta", beta))}  # fmt: skip
        out = torch.nn.functional.batch_norm(tx["x"], None, None, tx["gamma"], tx["beta"],
                                             training=True, eps=bn_param["eps"])  # fmt: skip
        return out.detach().numpy(), (out, tx)

    def torch_backward(dout, cache):
        out, tx = cache
        out.backward(torch.tensor(dout))
        return {"d" + k: t.grad.numpy() for k, t in tx.items()}

    assert check_layer(torch_forward, torch_backward, inputs, dout=dout).passed


# --- the contract: dout, tuples and dicts, pass-through inputs, wrt -----------------------------


def test_dout_is_seeded_by_rng_and_a_given_dout_is_used_and_kept():
    inputs = affine_inputs()
    seen = []

    def spy(dout, cache):
        seen.append(dout.copy())
        return affine_backward(dout, cache)

    check_layer(affine_forward, spy, inputs, rng=5)
    check_layer(affine_forward, spy, inputs, rng=5)
    check_layer(affine_forward, spy, inputs, rng=6)
    np.testing.assert_array_equal(seen[0], seen[1])
    assert not np.array_equal(seen[0], seen[2])
    mine = np.ones((5, 3))
    rep = check_layer(affine_forward, spy, inputs, dout=mine)
    np.testing.assert_array_equal(seen[-1], mine)
    assert rep.passed and not any("standard Gaussian" in n for n in rep.notes)
    with pytest.raises(
        ValueError, match=r"dout has shape \(3, 5\) but forward's output has shape \(5, 3\)"
    ):
        check_layer(affine_forward, affine_backward, inputs, dout=np.ones((3, 5)))


def test_dict_gradients_by_name_or_d_name_and_a_forward_without_cache():
    inputs = affine_inputs()

    def forward(x, w, b):
        return x @ w + b  # no cache: backward receives the inputs as a dict

    def backward(dout, cache):
        return {"dx": dout @ cache["w"].T, "w": cache["x"].T @ dout, "db": dout.sum(0)}

    assert check_layer(forward, backward, inputs).passed
    with pytest.raises(KeyError, match=r"no gradient for \['b'\].*'b', 'db'"):
        check_layer(forward, lambda d, c: {"dx": d @ c["w"].T, "dw": c["x"].T @ d}, inputs)
    with pytest.raises(KeyError, match="'dz' for no input"):
        check_layer(forward, lambda d, c: {**backward(d, c), "dz": 0}, inputs)


def test_pass_through_inputs_and_integer_labels():
    rng = np.random.default_rng(7)
    inputs = {"x": rng.standard_normal((6, 4)), "y": np.array([0, 3, 1, 1, 2, 0])}

    def pick_forward(x, y):  # the scores of the correct classes
        return x[np.arange(len(y)), y], (x.shape, y)

    def pick_backward(dout, cache):
        shape, y = cache
        dx = np.zeros(shape)
        dx[np.arange(len(y)), y] = dout
        return (dx,)

    rep = check_layer(pick_forward, pick_backward, inputs)
    assert rep.passed and list(rep.params) == ["x"]
    assert any("passed through unchanged: y" in n for n in rep.notes)
    # conv: the tuple (dx, dw, db) skips conv_param; wrt restricts the rows, not the tuple
    rep = check_layer(conv_forward_naive, conv_backward_naive, conv_inputs(), wrt=("w", "b"))
    assert list(rep.params) == ["w", "b"] and rep.passed


def test_bad_arguments_get_clear_errors():
    inputs = affine_inputs()
    with pytest.raises(ValueError, match=r"wrt must name distinct inputs.*\['z'\] not among"):
        check_layer(affine_forward, affine_backward, inputs, wrt=("x", "z"))
    with pytest.raises(TypeError, match="wrt names 'y', which is a int64 array"):
        check_layer(lambda x, y: x, lambda d, c: d, {"x": np.ones(3), "y": np.arange(3)}, wrt="y")
    with pytest.raises(ValueError, match=r"backward returned 2 gradient\(s\); expected .*x, w, b"):
        check_layer(affine_forward, lambda d, c: affine_backward(d, c)[:2], inputs)
    with pytest.raises(ValueError, match=r"gradient for 'w' has shape \(3, 5\).*looks transposed"):
        check_layer(affine_forward, lambda d, c: (lambda dx, dw, db: (dx, dw.T, db))(
            *affine_backward(d, c)), inputs)  # fmt: skip
    with pytest.raises(
        ValueError, match=r"forward returned a tuple of 3.*\(\(out1, out2\), cache\)"
    ):
        check_layer(lstm_step_forward, lstm_backward(), lstm_inputs())
    with pytest.raises(TypeError, match="backward must be a callable"):
        check_layer(affine_forward, None, inputs)
    with pytest.raises(ValueError, match="no floating-point ndarray"):
        check_layer(lambda x: x, lambda d, c: d, {"x": [1.0, 2.0]})


def test_an_exception_in_the_users_backward_names_the_call():
    def broken(dout, cache):
        x, w, _ = cache
        return dout @ w, x.T @ dout, dout.sum(0)  # shape bug: w not transposed

    with pytest.raises(ValueError) as info:
        check_layer(affine_forward, broken, affine_inputs(m=4, d=5))
    assert any("backward(dout, cache) in check_layer" in n for n in info.value.__notes__)


# --- in-place edits are detected and named, never absorbed --------------------------------------


def test_backward_that_overwrites_dout_is_named():
    inputs = {"x": np.random.default_rng(8).standard_normal((4, 6))}
    dout = np.random.default_rng(9).standard_normal((4, 6))
    kept = dout.copy()
    with pytest.warns(InPlaceWarning, match="backward modified dout in place"):
        rep = check_layer(relu_forward, relu_backward_in_place, inputs, dout=dout)
    assert rep.passed  # the gradient is right: the check used its own copy of dout
    assert any(n.startswith("backward modified dout in place") for n in rep.notes)
    np.testing.assert_array_equal(dout, kept)  # the user's dout is not ours to change


def test_forward_that_overwrites_its_input_is_named_and_the_users_array_kept():
    x = np.random.default_rng(10).standard_normal((4, 6))
    kept = x.copy()
    with pytest.warns(InPlaceWarning, match="forward modified the input x in place"):
        rep = check_layer(relu_forward_in_place, relu_backward, {"x": x})
    assert any("forward modified the input x in place" in n and "elements changed" in n
               for n in rep.notes)  # fmt: skip
    np.testing.assert_array_equal(x, kept)


def test_running_statistics_in_bn_param_are_noted_not_warned():
    inputs = bn_inputs()
    before = digest(inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InPlaceWarning)
        rep = check_layer(batchnorm_forward, batchnorm_backward, inputs)
    assert rep.passed
    assert inputs["bn_param"] == {"mode": "train", "eps": 1e-5} and digest(inputs) == before
    assert any("bn_param['running_mean']" in n and "running statistics" in n for n in rep.notes)


def test_a_correct_layer_has_no_in_place_notes():
    rep = check_layer(affine_forward, affine_backward, affine_inputs())
    assert not any("in place" in n for n in rep.notes)


def test_exported_from_the_top_level():
    assert tr.check_layer is check_layer and "check_layer" in tr.__all__


def test_float32_inputs_are_checked_in_float64_with_the_warning_at_the_callers_line():
    inputs = {k: v.astype(np.float32) for k, v in affine_inputs().items()}
    with pytest.warns(tr.errors.PrecisionWarning, match="float64") as record:
        rep = check_layer(affine_forward, affine_backward, inputs)
    assert rep.passed and all(v.dtype == np.float32 for v in inputs.values())
    assert record[0].filename == __file__


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(1, 6),
    d=st.integers(1, 5),
    m=st.integers(1, 4),
    bugged=st.sampled_from(["", "x", "w", "b"]),
    seed=st.integers(0, 2**16),
)
def test_affine_of_any_shape_names_exactly_the_bugged_input(n, d, m, bugged, seed):
    def backward(dout, cache):
        grads = dict(zip("xwb", affine_backward(dout, cache), strict=True))
        if bugged:
            grads[bugged] = 3 * grads[bugged]
        return grads

    rep = check_layer(affine_forward, backward, affine_inputs(n, d, m, seed), rng=seed)
    assert failing_names(rep) == ([bugged] if bugged else []), str(rep)
    if bugged:
        assert "3.00 × numeric" in rep.params[bugged].hint


def test_backward_that_edits_an_input_through_the_cache_is_named():
    inputs = affine_inputs()
    before = digest(inputs)

    def backward(dout, cache):
        grads = affine_backward(dout, cache)
        x = cache[0]
        x *= 0  # x, held by the cache, overwritten after use
        return grads

    with pytest.warns(InPlaceWarning, match=r"backward \(through the cache\) modified the input x"):
        rep = check_layer(affine_forward, backward, inputs)
    assert rep.passed and digest(inputs) == before
