"""trainready.init: gains (torch parity), fans, initializer variances, initialize, LSUV."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import trainready as tr
from trainready import init as I

SHAPES = [(64, 32), (300, 100), (7, 500), (16, 3, 5, 5), (1000, 1000)]


def chi2_band(values: np.ndarray, var: float, p: float = 0.999) -> tuple[float, float, float]:
    """Sample second moment and the two-sided ``p`` chi-square band around ``var``.

    ``sum(w^2) / var ~ chi2(N)`` for N(0, var) entries. For the uniform and truncated normal
    distributions the second moment varies less than for a normal one (kurtosis 1.8 and about
    2.4 < 3), so the band is conservative for them.
    """
    n = values.size
    s2 = float(np.sum(values.astype(np.float64) ** 2)) / n
    lo = stats.chi2.ppf((1 - p) / 2, n) / n * var
    hi = stats.chi2.ppf(1 - (1 - p) / 2, n) / n * var
    return s2, lo, hi


def theory(name: str, shape: tuple[int, ...]) -> float:
    fan_in, fan_out = I.fans(shape)
    return {
        "he_normal": 2 / fan_in,
        "he_uniform": 2 / fan_in,
        "he_normal_fan_out_tanh": (5 / 3) ** 2 / fan_out,
        "lecun_normal": 1 / fan_in,
        "lecun_uniform": 1 / fan_in,
        "xavier_normal": 2 / (fan_in + fan_out),
        "xavier_uniform": 2 / (fan_in + fan_out),
        "xavier_normal_gain2": 4 * 2 / (fan_in + fan_out),
        "orthogonal": 1 / math.prod(shape[1:])
        if shape[0] <= math.prod(shape[1:])
        else 1 / shape[0],
        "truncated_normal": 0.3**2,
        "normal": 10.0**2,
        "uniform": 0.5**2 / 3,
    }[name]


def draw(name: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    r = np.random.default_rng(seed)
    return {
        "he_normal": lambda: I.he_normal(shape, rng=r),
        "he_uniform": lambda: I.he_uniform(shape, rng=r),
        "he_normal_fan_out_tanh": lambda: I.he_normal(
            shape, mode="fan_out", nonlinearity="tanh", rng=r
        ),
        "lecun_normal": lambda: I.lecun_normal(shape, rng=r),
        "lecun_uniform": lambda: I.lecun_uniform(shape, rng=r),
        "xavier_normal": lambda: I.xavier_normal(shape, rng=r),
        "xavier_uniform": lambda: I.xavier_uniform(shape, rng=r),
        "xavier_normal_gain2": lambda: I.xavier_normal(shape, gain=2.0, rng=r),
        "orthogonal": lambda: I.orthogonal(shape, rng=r),
        "truncated_normal": lambda: I.truncated_normal(shape, 0.3, rng=r),
        "normal": lambda: I.normal(shape, 10.0, rng=r),
        "uniform": lambda: I.uniform(shape, 0.5, rng=r),
    }[name]()


NAMES = [
    "he_normal",
    "he_uniform",
    "he_normal_fan_out_tanh",
    "lecun_normal",
    "lecun_uniform",
    "xavier_normal",
    "xavier_uniform",
    "xavier_normal_gain2",
    "truncated_normal",
    "normal",
    "uniform",
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", NAMES)
def test_sample_variance_within_chi_square_band(name: str, shape: tuple[int, ...]) -> None:
    w = draw(name, shape, seed=sum(shape))
    assert w.shape == shape and w.dtype == np.float64
    s2, lo, hi = chi2_band(w, theory(name, shape))
    assert lo <= s2 <= hi, f"{name}{shape}: sample variance {s2:.4g} outside [{lo:.4g}, {hi:.4g}]"
    assert abs(w.mean()) < 6 * math.sqrt(theory(name, shape) / w.size)


@pytest.mark.parametrize(
    ("wrong", "right"),
    [("lecun_normal", "he_normal"), ("xavier_normal", "lecun_normal"), ("he_normal", "normal")],
)
def test_band_rejects_the_wrong_formula(wrong: str, right: str) -> None:
    # the band is tight enough to tell the formulas apart (the test above can fail)
    shape = (300, 100)
    s2, lo, hi = chi2_band(draw(right, shape, 1), theory(wrong, shape))
    assert not lo <= s2 <= hi


def test_orthogonal_variance_and_orthogonality() -> None:
    for shape in [(64, 32), (32, 64), (16, 3, 5, 5), (50, 50)]:
        q = I.orthogonal(shape, gain=2.0, rng=0)
        m = q.reshape(shape[0], -1) / 2.0
        if m.shape[0] <= m.shape[1]:
            np.testing.assert_allclose(m @ m.T, np.eye(m.shape[0]), atol=1e-12)
        else:
            np.testing.assert_allclose(m.T @ m, np.eye(m.shape[1]), atol=1e-12)
        sv = np.linalg.svd(q.reshape(shape[0], -1), compute_uv=False)
        np.testing.assert_allclose(sv, 2.0, rtol=1e-12)
    assert I.orthogonal((0, 5)).shape == (0, 5)


def test_orthogonal_is_haar_distributed_thanks_to_the_sign_correction() -> None:
    # Without multiplying Q by sign(diag(R)), LAPACK's Householder QR makes Q[0, 0] always
    # negative; Haar-uniform Q has E[Q[0, 0]] = 0 (Mezzadri 2007).
    r = np.random.default_rng(0)
    vals = np.array([I.orthogonal((3, 3), rng=r)[0, 0] for _ in range(2000)])
    assert abs(vals.mean()) < 4 * vals.std() / math.sqrt(vals.size)
    assert (vals > 0).mean() == pytest.approx(0.5, abs=0.05)


def test_truncated_normal_is_cut_at_two_sigma_with_keras_correction() -> None:
    w = I.truncated_normal((400, 400), 0.5, rng=1)
    bound = 2 * 0.5 / 0.87962566103423978
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound
    # the constant is the std of N(0, 1) cut at +-2
    assert I.TRUNCATED_NORMAL_STD == pytest.approx(stats.truncnorm(-2, 2).std(), rel=1e-15)


def test_uniform_bounds() -> None:
    shape = (64, 32)
    assert np.abs(I.he_uniform(shape, rng=0)).max() <= math.sqrt(6 / 32)
    assert np.abs(I.lecun_uniform(shape, rng=0)).max() <= math.sqrt(3 / 32)
    assert np.abs(I.xavier_uniform(shape, rng=0)).max() <= math.sqrt(6 / 96)


# ------------------------------------------------------------------------------ torch parity
GAIN_CASES = [
    ("linear", None),
    ("conv1d", None),
    ("conv2d", None),
    ("conv3d", None),
    ("conv_transpose1d", None),
    ("conv_transpose2d", None),
    ("conv_transpose3d", None),
    ("sigmoid", None),
    ("tanh", None),
    ("relu", None),
    ("relu", "ignored"),
    ("selu", None),
    ("leaky_relu", None),
    ("leaky_relu", 0),
    ("leaky_relu", 0.2),
    ("leaky_relu", 3),
    ("leaky_relu", -0.5),
    ("leaky_relu", np.float64(0.1)),
    ("leaky_relu", True),
    ("leaky_relu", "0.2"),
    ("leaky_relu", np.float32(0.2)),
    ("leaky_relu", np.int64(2)),
    ("elu", None),
    ("Relu", None),
    ("softmax", None),
    ("", None),
]


@pytest.mark.parametrize(("name", "param"), GAIN_CASES)
def test_gain_equals_torch_calculate_gain(name: str, param: object) -> None:
    try:
        expected = torch.nn.init.calculate_gain(name, param)  # type: ignore[arg-type]
    except ValueError:
        with pytest.raises(ValueError, match=r"nonlinearity|param"):
            I.gain(name, param)  # type: ignore[arg-type]
        return
    got = I.gain(name, param)  # type: ignore[arg-type]
    assert got == expected and isinstance(got, float)


@pytest.mark.parametrize("shape", [(3, 5), (10, 1), (16, 3, 5, 5), (4, 2, 3), (2, 3, 1, 2, 2)])
def test_fans_equal_torch(shape: tuple[int, ...]) -> None:
    t = torch.empty(shape)
    assert I.fans(shape) == torch.nn.init._calculate_fan_in_and_fan_out(t)


def test_initializer_std_matches_torch_formulas() -> None:
    # torch's kaiming/xavier std formulas on large tensors: compare the sample stds
    shape = (600, 400)
    t = torch.empty(shape, dtype=torch.float64)
    torch.manual_seed(0)
    pairs = [
        (I.he_normal(shape, rng=0), torch.nn.init.kaiming_normal_(t.clone(), nonlinearity="relu")),
        (
            I.he_uniform(shape, mode="fan_out", rng=0),
            torch.nn.init.kaiming_uniform_(t.clone(), mode="fan_out", nonlinearity="relu"),
        ),
        (
            I.xavier_uniform(shape, gain=I.gain("tanh"), rng=0),
            torch.nn.init.xavier_uniform_(t.clone(), gain=5 / 3),
        ),
        (I.xavier_normal(shape, rng=0), torch.nn.init.xavier_normal_(t.clone())),
    ]
    for ours, theirs in pairs:
        assert ours.std() == pytest.approx(float(theirs.std()), rel=0.01)


def test_orthogonal_matches_torch_properties() -> None:
    shape = (20, 3, 2, 2)
    t = torch.nn.init.orthogonal_(torch.empty(shape, dtype=torch.float64), gain=1.5)
    ours = I.orthogonal(shape, gain=1.5, rng=0)
    sv_t = torch.linalg.svdvals(t.reshape(20, -1)).numpy()
    sv_o = np.linalg.svd(ours.reshape(20, -1), compute_uv=False)
    np.testing.assert_allclose(sv_o, sv_t, rtol=1e-10)


# --------------------------------------------------------------------------------- validation
def test_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="mode"):
        I.he_normal((3, 4), mode="fan_avg")
    with pytest.raises(ValueError, match="shape"):
        I.fans((5,))
    with pytest.raises(ValueError, match="shape"):
        I.he_normal((3, -1))
    with pytest.raises(TypeError, match="rng"):
        I.he_normal((3, 4), rng="seed")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="dtype"):
        I.zeros((2,), dtype=np.int64)
    with pytest.raises(ValueError, match="scale"):
        I.normal((2, 2), -1.0)
    with pytest.raises(ValueError, match="gain"):
        I.orthogonal((2, 2), gain=float("nan"))
    with pytest.raises(ValueError, match="fan_in"):
        I.lecun_normal((3, 0))


def test_dtype_and_rng_conventions() -> None:
    assert I.he_normal((4, 3), rng=0, dtype=np.float32).dtype == np.float32
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (checking it is untouched)
    a = I.he_normal((8, 8), rng=5)
    b = I.he_normal((8, 8), rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, I.he_normal((8, 8), rng=6))
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=2, max_size=4), st.integers(0, 2**32 - 1))
def test_orthogonal_property(shape: list[int], seed: int) -> None:
    q = I.orthogonal(tuple(shape), rng=seed).reshape(shape[0], -1)
    small = min(q.shape)
    gram = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)


# ------------------------------------------------------------------------------- initialize
@pytest.mark.parametrize("scheme", I.SCHEMES)
def test_initialize_shapes_and_biases(scheme: str) -> None:
    p = I.initialize([2, 10, 5, 1], scheme, rng=3)
    assert list(p) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert [p[k].shape for k in p] == [(10, 2), (10,), (5, 10), (5,), (1, 5), (1,)]
    assert all(not p[f"b{l}"].any() for l in (1, 2, 3))
    assert all(v.dtype == np.float64 for v in p.values())


@pytest.mark.parametrize(
    ("scheme", "activation", "var"),
    [
        ("he", "tanh", lambda n, m: 2 / n),  # "he" ignores the activation
        ("lecun", "relu", lambda n, m: 1 / n),
        ("xavier", "relu", lambda n, m: 2 / (n + m)),
        ("glorot", "relu", lambda n, m: 2 / (n + m)),
        ("random", "relu", lambda n, m: 0.01**2),
        ("auto", "relu", lambda n, m: 2 / n),
        ("auto", "leaky_relu", lambda n, m: 2 / (1 + 0.01**2) / n),
        ("auto", "tanh", lambda n, m: 1 / n),
        ("auto", "sigmoid", lambda n, m: 1 / n),
    ],
)
def test_initialize_variances(scheme: str, activation: str, var: object) -> None:
    dims = [300, 500, 200]
    p = I.initialize(dims, scheme, rng=0, activation=activation)
    for l in (1, 2):
        s2, lo, hi = chi2_band(p[f"W{l}"], var(dims[l - 1], dims[l]))  # type: ignore[operator]
        assert lo <= s2 <= hi, (scheme, activation, l)


def test_initialize_per_layer_activations_and_orthogonal_gain() -> None:
    dims = [200, 200, 200, 200]
    p = I.initialize(dims, "auto", activation=["relu", "tanh"], rng=0)  # output counts as linear
    for l, var in ((1, 2 / 200), (2, 1 / 200), (3, 1 / 200)):
        s2, lo, hi = chi2_band(p[f"W{l}"], var)
        assert lo <= s2 <= hi
    q = I.initialize(dims, "orthogonal", activation="relu", rng=0)
    np.testing.assert_allclose(q["W2"] @ q["W2"].T, 2 * np.eye(200), atol=1e-12)
    assert not I.initialize(dims, "zeros")["W2"].any()


def test_initialize_errors() -> None:
    with pytest.raises(ValueError, match="scheme"):
        I.initialize([2, 3], "xavier_tanh")
    with pytest.raises(ValueError, match="layer_dims"):
        I.initialize([2], "he")
    with pytest.raises(ValueError, match="layer_dims"):
        I.initialize([2, 0, 1], "he")
    with pytest.raises(ValueError, match="activation"):
        I.initialize([2, 3, 4, 1], "auto", activation=["relu"])
    with pytest.raises(ValueError, match="activation"):
        I.initialize([2, 3, 1], "auto", activation="swish")
    assert I.scheme_for("tanh") == "lecun"


# --------------------------------------------------------------------------------------- LSUV
def test_lsuv_gives_unit_variance_per_layer_and_leaves_inputs_alone() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 20)) * 3 + 1
    X0 = X.copy()
    net = tr.nn.MLP([20, 64, 64, 32, 3], activation="tanh", output="softmax", init="random", rng=0)
    old = net.params
    old_copy = {k: v.copy() for k, v in old.items()}
    table = tr.init.lsuv_(net, X, tol=0.05, rng=0)
    assert table.ok and [r.name for r in table] == ["W1", "W2", "W3", "W4"]
    np.testing.assert_array_equal(X, X0)
    for k in old:
        np.testing.assert_array_equal(old[k], old_copy[k])  # the old arrays were not modified
    rec = tr.signal.record(net, X)
    for r in rec.layers:
        assert abs(r.z_std**2 - 1) < 0.05  # LSUV's stopping rule, layer by layer
    # orthonormal start: W1 columns orthogonal up to the per-layer scale
    W = net.params["W2"]
    gram = W @ W.T
    np.testing.assert_allclose(gram, gram[0, 0] * np.eye(64), atol=1e-10)


def test_lsuv_rejects_bad_arguments() -> None:
    net = tr.nn.MLP([3, 4, 1], rng=0)
    X = np.ones((5, 3))
    with pytest.raises(ValueError, match="tol"):
        tr.init.lsuv_(net, X, tol=0)
    with pytest.raises(ValueError, match="max_iter"):
        tr.init.lsuv_(net, X, max_iter=0)
    with pytest.raises(ValueError, match="X"):
        tr.init.lsuv_(net, np.ones((5, 4)))
