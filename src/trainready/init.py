"""Weight initializers, the gains and fans they use, ``initialize`` for a whole MLP, and LSUV.

Why initialization matters: a dense layer computes ``z = a @ W.T + b``. With independent weights
of variance ``Var(W)`` and ``n = fan_in`` inputs, ``Var(z) = n * Var(W) * E[a^2]``. Each layer
therefore multiplies the signal's variance by ``n * Var(W) * c`` where ``c = E[phi(z)^2] / Var(z)``
is what the activation keeps (1/2 for ReLU, about 1 for tanh near 0, 1 for linear). Unless that
product is 1, the signal shrinks or grows *geometrically* with depth, and so does the gradient on
the way back.

=================  ====================================  =========================================
scheme             ``Var(W)``                            source
=================  ====================================  =========================================
``"he"``           ``2 / n[l-1]``                        He et al. 2015 (ReLU keeps half)
``"lecun"``        ``1 / n[l-1]``                        LeCun et al. 1998, *Efficient BackProp*
``"xavier"``       ``2 / (n[l-1] + n[l])``               Glorot & Bengio 2010
``"glorot"``       same as ``"xavier"``                  Glorot & Bengio 2010
``"orthogonal"``   orthonormal rows/columns x gain       Saxe et al. 2013
``"random"``       ``scale^2`` (N(0, 1) x scale)         the classic counter-example
``"zeros"``        0                                     the symmetry counter-example
``"auto"``         He for relu/leaky_relu, LeCun else    see :func:`initialize`
=================  ====================================  =========================================

**The naming clash.** Glorot & Bengio's (2010) initialization, which Keras and PyTorch call
"Xavier"/"Glorot", has ``Var(W) = 2 / (n[l-1] + n[l])`` (the average of the forward and backward
conditions). The classic deep-learning course calls ``Var(W) = 1 / n[l-1]`` for tanh "Xavier"; that
formula is LeCun's (1998). trainready follows the papers and the frameworks: ``xavier`` = ``glorot``
= Glorot's formula; use ``lecun`` for the course's tanh "Xavier". The two agree only when
``n[l-1] == n[l]``.

Every stochastic function takes a keyword-only ``rng`` (a ``numpy.random.Generator``, an int seed or
None) and never touches NumPy's global random state. Shapes follow PyTorch: a dense weight is
``(n_out, n_in)``, a convolution kernel ``(out_channels, in_channels, *kernel)``.

Example:
    >>> import trainready as tr
    >>> params = tr.init.initialize([2, 10, 5, 1], scheme="he", rng=3)
    >>> params["W1"].shape, params["b1"].shape, params["W3"].shape
    ((10, 2), (10,), (1, 5))
    >>> round(tr.init.gain("tanh"), 4)
    1.6667
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

__all__ = [
    "ACTIVATIONS",
    "SCHEMES",
    "TRUNCATED_NORMAL_STD",
    "as_generator",
    "fans",
    "gain",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "initialize",
    "lecun_normal",
    "lecun_uniform",
    "lsuv",
    "normal",
    "orthogonal",
    "scheme_for",
    "truncated_normal",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]

FloatArray = NDArray[np.floating[Any]]
Shape = int | Sequence[int]
RngLike = np.random.Generator | int | np.random.SeedSequence | None

#: Schemes accepted by :func:`initialize`.
SCHEMES = ("zeros", "random", "he", "lecun", "xavier", "glorot", "orthogonal", "auto")
#: Activation names understood by ``"auto"`` (those of :mod:`trainready.nn`, plus softmax).
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "linear", "softmax")
#: Standard deviation of N(0, 1) truncated to [-2, 2]; Keras divides by it (VarianceScaling).
TRUNCATED_NORMAL_STD = 0.87962566103423978

_LINEAR_FNS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


# ----------------------------------------------------------------------------------- helpers
def as_generator(rng: RngLike) -> np.random.Generator:
    """Turn ``rng`` (Generator, int seed, SeedSequence or None) into a ``numpy.random.Generator``.

    Example:
        >>> as_generator(0).standard_normal() == as_generator(0).standard_normal()
        True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        if int(rng) < 0:
            raise ValueError(f"rng: expected a non-negative int seed, got {rng}; pass e.g. rng=0")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng: expected a numpy.random.Generator, an int seed or None, got {type(rng).__name__} "
        f"({rng!r}); pass e.g. rng=0 or rng=np.random.default_rng(0)"
    )


def _shape(shape: Shape, *, min_ndim: int = 0) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (int(shape),)
    try:
        dims = tuple(shape)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"shape: expected a tuple of non-negative ints such as (n_out, n_in), got "
            f"{type(shape).__name__} ({shape!r})"
        ) from None
    if not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 0 for d in dims
    ):
        raise ValueError(
            f"shape: expected non-negative ints such as (n_out, n_in), got {shape!r}; "
            "pass the weight's shape, e.g. (10, 2) for a layer with 2 inputs and 10 units"
        )
    if len(dims) < min_ndim:
        raise ValueError(
            f"shape: fans need at least 2 dimensions, (n_out, n_in) or (out, in, *kernel), "
            f"got {dims}; for a bias use zeros(shape) or normal(shape, scale)"
        )
    return tuple(int(d) for d in dims)


def _dtype(dtype: DTypeLike) -> np.dtype[Any]:
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"dtype: expected a floating dtype such as float64, got {dt}")
    return dt


def _positive(value: float, name: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if value < 0:
        raise ValueError(f"{name}: expected a non-negative number, got {value!r}")
    return float(value)


# ------------------------------------------------------------------------------ gain and fans
def gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity; equal to ``torch.nn.init.calculate_gain``.

    ============================  ===============================================
    nonlinearity                  gain
    ============================  ===============================================
    linear, conv*, conv_transpose*, sigmoid   1
    tanh                          5/3
    relu                          sqrt(2)                       (He et al. 2015)
    leaky_relu                    sqrt(2 / (1 + slope^2)), slope = param or 0.01
    selu                          3/4 (PyTorch's empirical value, PR 50664)
    ============================  ===============================================

    ``param`` is read only for ``leaky_relu``; like PyTorch it must then be an int (not a bool) or
    a float. Unknown names and bad slopes raise ``ValueError`` exactly where PyTorch does.

    Args:
        nonlinearity: the activation's ``torch.nn.functional`` name.
        param: the negative slope of ``leaky_relu``.

    Returns:
        The gain, a float.

    Example:
        >>> gain("relu") == 2 ** 0.5
        True
        >>> gain("leaky_relu", 0.2) == (2 / (1 + 0.2**2)) ** 0.5
        True
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope: float = 0.01
        elif (not isinstance(param, bool) and isinstance(param, int)) or isinstance(param, float):
            slope = param
        else:
            raise ValueError(
                f"param: the negative slope of leaky_relu must be an int or a float, got "
                f"{type(param).__name__} ({param!r}); pass e.g. gain('leaky_relu', 0.2)"
            )
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    known = ", ".join(
        repr(n) for n in (*_LINEAR_FNS, "sigmoid", "tanh", "relu", "leaky_relu", "selu")
    )
    raise ValueError(
        f"nonlinearity: unsupported nonlinearity {nonlinearity!r}; expected one of {known}"
    )


def fans(shape: Shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a dense ``(n_out, n_in)`` or conv ``(out, in, *kernel)`` weight.

    For a kernel, each fan is multiplied by the receptive field ``prod(kernel)``, as in PyTorch's
    ``_calculate_fan_in_and_fan_out``.

    Example:
        >>> fans((10, 3))
        (3, 10)
        >>> fans((16, 3, 5, 5))
        (75, 400)
    """
    dims = _shape(shape, min_ndim=2)
    receptive = math.prod(dims[2:])
    return dims[1] * receptive, dims[0] * receptive


def _fan(shape: Shape, mode: str) -> int:
    fan_in, fan_out = fans(shape)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"mode: expected 'fan_in' or 'fan_out', got {mode!r}")


def _std_over_fan(shape: Shape, scale: float, fan: int, what: str) -> float:
    if fan == 0:
        raise ValueError(f"shape: {what} of {tuple(_shape(shape))} is 0, so the std is undefined")
    return math.sqrt(scale / fan)


# ---------------------------------------------------------------------------- the primitives
def zeros(shape: Shape, *, dtype: DTypeLike = np.float64) -> FloatArray:
    """An all-zero array (the right init for biases; for weights it leaves every unit identical).

    Example:
        >>> zeros((2, 3)).sum()
        np.float64(0.0)
    """
    return np.zeros(_shape(shape), dtype=_dtype(dtype))


def normal(
    shape: Shape, scale: float = 1.0, *, rng: RngLike = None, dtype: DTypeLike = np.float64
) -> FloatArray:
    """``N(0, 1) * scale`` whatever the layer's size: the classic "random x 10" counter-example.

    Its variance ignores fan-in, so each ReLU layer multiplies the signal's variance by
    ``fan_in * scale^2 / 2`` (128 for ``scale=1`` at width 256).

    Example:
        >>> normal((3, 4), 10.0, rng=0).shape
        (3, 4)
    """
    scale = _positive(scale, "scale")
    return (as_generator(rng).standard_normal(_shape(shape)) * scale).astype(_dtype(dtype))


def uniform(
    shape: Shape, bound: float, *, rng: RngLike = None, dtype: DTypeLike = np.float64
) -> FloatArray:
    """``U(-bound, bound)``; std ``bound / sqrt(3)``.

    ``uniform(shape, 1 / sqrt(fan_in))`` is ``torch.nn.Linear``'s default (variance
    ``1 / (3 fan_in)``), which shrinks a ReLU signal about 2.4x in std per layer.

    Example:
        >>> bool(abs(uniform((100, 100), 0.5, rng=0)).max() <= 0.5)
        True
    """
    bound = _positive(bound, "bound")
    out = as_generator(rng).uniform(-bound, bound, _shape(shape))
    return out.astype(_dtype(dtype))


def truncated_normal(
    shape: Shape, std: float = 1.0, *, rng: RngLike = None, dtype: DTypeLike = np.float64
) -> FloatArray:
    """Normal cut at two standard deviations, widened so that the *result* has std ``std``.

    As in Keras's ``VarianceScaling(distribution="truncated_normal")``: draw from
    ``N(0, s^2)`` with ``s = std / 0.87962566103423978`` and redraw anything beyond ``±2 s``
    (0.8796... is the std of N(0, 1) cut at ±2). ``truncated_normal(shape, sqrt(2 / fan_in))`` is
    Keras's ``he_normal``.

    Example:
        >>> w = truncated_normal((200, 200), 0.1, rng=0)
        >>> bool(abs(w).max() <= 2 * 0.1 / 0.87962566103423978)
        True
    """
    std = _positive(std, "std")
    gen = as_generator(rng)
    dims = _shape(shape)
    z = gen.standard_normal(dims)
    bad = np.abs(z) > 2.0
    while bad.any():
        z[bad] = gen.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2.0
    return (z * (std / TRUNCATED_NORMAL_STD)).astype(_dtype(dtype))


def he_normal(
    shape: Shape,
    *,
    mode: str = "fan_in",
    nonlinearity: str = "relu",
    param: float | None = None,
    rng: RngLike = None,
    dtype: DTypeLike = np.float64,
) -> FloatArray:
    """He (Kaiming) normal: ``N(0, gain^2 / fan)`` (He et al. 2015, *Delving Deep into Rectifiers*).

    For ReLU ``Var(W) = 2 / fan_in``: the ReLU keeps half of the variance, the factor 2 gives it
    back, so the signal's variance is the same in every layer. ``mode="fan_out"`` preserves the
    backward signal instead. Same as ``torch.nn.init.kaiming_normal_`` with
    ``nonlinearity="relu"`` (PyTorch's default ``leaky_relu`` with ``a=0`` is the same gain).

    Args:
        shape: ``(n_out, n_in)`` or ``(out, in, *kernel)``.
        mode: ``"fan_in"`` (forward) or ``"fan_out"`` (backward).
        nonlinearity, param: passed to :func:`gain`.
        rng: Generator, int seed or None.
        dtype: a floating dtype.

    Example:
        >>> w = he_normal((512, 256), rng=0)
        >>> bool(abs(w.std() - (2 / 256) ** 0.5) < 0.002)
        True
    """
    std = gain(nonlinearity, param) * _std_over_fan(shape, 1.0, _fan(shape, mode), mode)
    return normal(shape, std, rng=rng, dtype=dtype)


def he_uniform(
    shape: Shape,
    *,
    mode: str = "fan_in",
    nonlinearity: str = "relu",
    param: float | None = None,
    rng: RngLike = None,
    dtype: DTypeLike = np.float64,
) -> FloatArray:
    """He (Kaiming) uniform: ``U(±sqrt(3) * gain / sqrt(fan))``, the variance of :func:`he_normal`.

    Example:
        >>> bool(abs(he_uniform((64, 32), rng=0)).max() <= 3**0.5 * 2**0.5 / 32**0.5)
        True
    """
    std = gain(nonlinearity, param) * _std_over_fan(shape, 1.0, _fan(shape, mode), mode)
    return uniform(shape, math.sqrt(3.0) * std, rng=rng, dtype=dtype)


def lecun_normal(shape: Shape, *, rng: RngLike = None, dtype: DTypeLike = np.float64) -> FloatArray:
    """LeCun normal: ``N(0, 1 / fan_in)`` (LeCun et al. 1998, *Efficient BackProp*).

    The right variance for tanh near the origin (and for SELU); the classic course calls it
    "Xavier". Keras's ``lecun_normal`` draws the same variance from a truncated normal
    (:func:`truncated_normal`).

    Example:
        >>> lecun_normal((10, 4), rng=0).shape
        (10, 4)
    """
    return normal(shape, _std_over_fan(shape, 1.0, fans(shape)[0], "fan_in"), rng=rng, dtype=dtype)


def lecun_uniform(
    shape: Shape, *, rng: RngLike = None, dtype: DTypeLike = np.float64
) -> FloatArray:
    """LeCun uniform: ``U(±sqrt(3 / fan_in))``, variance ``1 / fan_in`` (LeCun et al. 1998).

    Example:
        >>> bool(abs(lecun_uniform((10, 3), rng=0)).max() <= 1.0)
        True
    """
    std = _std_over_fan(shape, 1.0, fans(shape)[0], "fan_in")
    return uniform(shape, math.sqrt(3.0) * std, rng=rng, dtype=dtype)


def xavier_normal(
    shape: Shape, *, gain: float = 1.0, rng: RngLike = None, dtype: DTypeLike = np.float64
) -> FloatArray:
    """Glorot (Xavier) normal: ``N(0, gain^2 * 2 / (fan_in + fan_out))`` (Glorot & Bengio 2010).

    The compromise between keeping the forward (``1/fan_in``) and the backward (``1/fan_out``)
    variance. Not the course's "Xavier" (that is :func:`lecun_normal`); see the module docstring.
    Same as ``torch.nn.init.xavier_normal_``.

    Example:
        >>> w = xavier_normal((300, 100), rng=0)
        >>> bool(abs(w.std() - (2 / 400) ** 0.5) < 0.002)
        True
    """
    fan_in, fan_out = fans(shape)
    std = _positive(gain, "gain") * _std_over_fan(shape, 2.0, fan_in + fan_out, "fan_in + fan_out")
    return normal(shape, std, rng=rng, dtype=dtype)


def xavier_uniform(
    shape: Shape, *, gain: float = 1.0, rng: RngLike = None, dtype: DTypeLike = np.float64
) -> FloatArray:
    """Glorot (Xavier) uniform: ``U(±gain * sqrt(6 / (fan_in + fan_out)))`` (Glorot & Bengio 2010).

    Example:
        >>> bool(abs(xavier_uniform((30, 10), rng=0)).max() <= (6 / 40) ** 0.5)
        True
    """
    fan_in, fan_out = fans(shape)
    std = _positive(gain, "gain") * _std_over_fan(shape, 2.0, fan_in + fan_out, "fan_in + fan_out")
    return uniform(shape, math.sqrt(3.0) * std, rng=rng, dtype=dtype)


glorot_normal = xavier_normal
glorot_uniform = xavier_uniform


def orthogonal(
    shape: Shape, *, gain: float = 1.0, rng: RngLike = None, dtype: DTypeLike = np.float64
) -> FloatArray:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe, McClelland & Ganguli 2013).

    PyTorch's algorithm (``torch.nn.init.orthogonal_``): draw a ``(rows, cols)`` standard normal
    matrix (``rows = shape[0]``, trailing dimensions flattened), QR-factorize it (its transpose
    when ``rows < cols``), multiply Q's columns by the signs of R's diagonal so that Q is uniform
    on the orthogonal group (Mezzadri 2007), and reshape. Rows are orthonormal when
    ``rows <= cols``, columns otherwise. Every singular value equals ``gain``: the layer preserves
    the signal's norm exactly, which gives tanh networks dynamical isometry (Pennington et al.
    2017).

    Example:
        >>> import numpy as np
        >>> q = orthogonal((4, 6), rng=0)
        >>> bool(np.allclose(q @ q.T, np.eye(4)))
        True
    """
    dims = _shape(shape, min_ndim=2)
    g = _positive(gain, "gain")
    dt = _dtype(dtype)
    if math.prod(dims) == 0:
        return np.zeros(dims, dtype=dt)
    rows = dims[0]
    cols = math.prod(dims) // rows
    flat = as_generator(rng).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (q.reshape(dims) * g).astype(dt)


# ---------------------------------------------------------------------------------- networks
def _layer_dims(layer_dims: Sequence[int]) -> list[int]:
    try:
        dims = list(layer_dims)
    except TypeError:
        raise TypeError(
            f"layer_dims: expected a list of layer sizes such as [2, 10, 5, 1], got "
            f"{type(layer_dims).__name__}"
        ) from None
    if len(dims) < 2 or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in dims
    ):
        raise ValueError(
            f"layer_dims: expected at least two positive ints (inputs, ..., outputs) such as "
            f"[2, 10, 5, 1], got {layer_dims!r}"
        )
    return [int(d) for d in dims]


def _per_layer_activations(activation: str | Sequence[str], n_layers: int) -> list[str]:
    if isinstance(activation, str):
        names = [activation] * n_layers
    else:
        names = list(activation)
        if len(names) == n_layers - 1:  # hidden layers only: the output layer counts as linear
            names.append("linear")
        if len(names) != n_layers:
            raise ValueError(
                f"activation: expected one name or a sequence of {n_layers} (every layer) or "
                f"{n_layers - 1} (hidden layers) names, got {len(names)}: {activation!r}"
            )
    for name in names:
        if name not in ACTIVATIONS:
            raise ValueError(
                f"activation: unknown activation {name!r}; expected one of {ACTIVATIONS}"
            )
    return names


def scheme_for(activation: str) -> str:
    """The scheme ``"auto"`` picks for a layer followed by ``activation``.

    ``relu``/``leaky_relu`` -> ``"he"`` (Var = gain^2 / fan_in keeps the variance through a
    rectifier); ``tanh``, ``sigmoid``, ``linear``, ``softmax`` -> ``"lecun"`` (Var = 1 / fan_in:
    tanh is the identity to first order at 0, so a unit gain keeps the variance and the network
    near the order-to-chaos edge, Poole et al. 2016; PyTorch's tanh gain 5/3 instead drives the
    units into the chaotic, partly saturated regime where gradients grow with depth).

    Example:
        >>> scheme_for("relu"), scheme_for("tanh")
        ('he', 'lecun')
    """
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation: unknown activation {activation!r}; expected one of {ACTIVATIONS}"
        )
    return "he" if activation in ("relu", "leaky_relu") else "lecun"


def _auto_gain(activation: str) -> float:
    """Gain with which "auto" and "orthogonal" scale a layer followed by ``activation``."""
    if activation == "relu":
        return math.sqrt(2.0)
    if activation == "leaky_relu":
        return gain("leaky_relu", 0.01)
    return 1.0


def initialize(
    layer_dims: Sequence[int],
    scheme: str = "he",
    *,
    rng: RngLike = None,
    scale: float = 0.01,
    activation: str | Sequence[str] = "relu",
) -> dict[str, FloatArray]:
    """Parameters ``W1, b1, ..., WL, bL`` of a dense network, weights by ``scheme``, biases zero.

    ``W[l]`` has shape ``(layer_dims[l], layer_dims[l-1])`` and ``b[l]`` shape ``(layer_dims[l],)``.

    Schemes (``n = layer_dims[l-1]``, the fan-in; ``n' = layer_dims[l]``):

    - ``"zeros"``: every weight 0. Every unit of a layer computes the same function and gets the
      same gradient forever (the symmetry is never broken).
    - ``"random"``: ``N(0, 1) * scale`` (``scale`` defaults to 0.01, the course's value).
    - ``"he"``: ``N(0, 2/n)`` on every layer (He et al. 2015).
    - ``"lecun"``: ``N(0, 1/n)`` (LeCun et al. 1998) -- the course's "Xavier" for tanh.
    - ``"xavier"``, ``"glorot"``: ``N(0, 2/(n + n'))`` (Glorot & Bengio 2010). See the module
      docstring for the naming clash.
    - ``"orthogonal"``: :func:`orthogonal` scaled by the gain ``"auto"`` would use (sqrt(2) before a
      ReLU, 1 before tanh/sigmoid/linear), so a square layer has the same ``n * Var(W)``.
    - ``"auto"``: per layer from its activation (:func:`scheme_for`): He before ReLU/leaky ReLU
      (leaky: ``2/(1+0.01^2)/n``), LeCun before tanh, sigmoid, linear and softmax.

    ``activation`` names what follows each layer (only ``"auto"`` and ``"orthogonal"`` read it):
    one name for every layer, a sequence of ``L`` names, or of ``L - 1`` hidden names (an MLP's
    ``activations``; the output layer then counts as linear).

    Args:
        layer_dims: sizes ``[n0, n1, ..., nL]``, inputs first.
        scheme: one of :data:`SCHEMES`.
        rng: Generator, int seed or None.
        scale: the std of ``"random"``.
        activation: see above.

    Returns:
        A new dict of float64 arrays.

    Example:
        >>> p = initialize([4, 8, 1], "auto", activation=["tanh"], rng=0)
        >>> sorted(p)
        ['W1', 'W2', 'b1', 'b2']
    """
    dims = _layer_dims(layer_dims)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: unknown scheme {scheme!r}; expected one of {SCHEMES}")
    scale = _positive(scale, "scale")
    n_layers = len(dims) - 1
    acts = _per_layer_activations(activation, n_layers)
    gen = as_generator(rng)
    params: dict[str, FloatArray] = {}
    for l in range(1, n_layers + 1):
        shape = (dims[l], dims[l - 1])
        act = acts[l - 1]
        if scheme == "zeros":
            W = zeros(shape)
        elif scheme == "random":
            W = normal(shape, scale, rng=gen)
        elif scheme == "he":
            W = he_normal(shape, rng=gen)
        elif scheme == "lecun":
            W = lecun_normal(shape, rng=gen)
        elif scheme in ("xavier", "glorot"):
            W = xavier_normal(shape, rng=gen)
        elif scheme == "orthogonal":
            W = orthogonal(shape, gain=_auto_gain(act), rng=gen)
        else:  # auto
            W = normal(shape, _auto_gain(act) / math.sqrt(dims[l - 1]), rng=gen)
        params[f"W{l}"] = W
        params[f"b{l}"] = zeros((dims[l],))
    return params


def lsuv(
    model: Any,
    X: Any,
    tol: float = 0.1,
    max_iter: int = 10,
    *,
    rng: RngLike = None,
    orthonormal: bool = True,
) -> Any:
    """Layer-sequential unit-variance initialization (Mishkin & Matas 2016, *All you need is a
    good init*); sets ``model.params`` and returns the model.

    1. Fill every weight with an orthonormal matrix (:func:`orthogonal`, gain 1) and every bias
       with 0 (skipped with ``orthonormal=False``: then the current weights are rescaled).
    2. For layers 1, 2, ..., L: run the batch ``X`` forward, take the variance of the layer's
       pre-activation ``z`` and divide ``W`` by its square root; repeat until
       ``|Var(z) - 1| < tol`` or ``max_iter`` rounds.

    The data decide the scale, so LSUV also repairs what a formula cannot know (unusual
    activations, correlated inputs, the first layer of unnormalized data). Only new arrays are
    assigned; the arrays the model held before and ``X`` are not modified.

    Args:
        model: an object with ``params`` (assignable dict ``W1, b1, ...``), ``activations``
            (hidden activation names) and ``output`` (output activation), e.g.
            :class:`trainready.nn.MLP`.
        X: a batch, ``(n_samples, n_features)``.
        tol: stop when ``|Var(z) - 1| < tol``.
        max_iter: at most this many rescalings per layer.
        rng: for the orthonormal matrices.
        orthonormal: start from orthonormal weights (step 1).

    Returns:
        ``model``, with ``model.params`` replaced.

    Example:
        >>> import numpy as np, trainready as tr
        >>> net = tr.nn.MLP([8, 32, 32, 1], activation="relu", output="sigmoid", rng=0)
        >>> X = np.random.default_rng(0).standard_normal((128, 8))
        >>> tr.init.lsuv(net, X, rng=0) is net
        True
    """
    from .signal._diagnose import _lsuv  # the signal module owns the traced forward pass

    return _lsuv(model, X, tol=tol, max_iter=max_iter, rng=rng, orthonormal=orthonormal)
