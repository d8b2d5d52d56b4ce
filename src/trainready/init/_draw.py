"""The initializers: arrays drawn with a NumPy ``rng`` (never the global random state)."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .._rng import RngLike, as_generator
from ._gain import Shape, _fan, _shape, _std_over_fan, fans, gain

__all__ = [
    "TRUNCATED_NORMAL_STD",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "orthogonal",
    "truncated_normal",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]

FloatArray = NDArray[np.floating[Any]]
#: Standard deviation of N(0, 1) truncated to [-2, 2]; Keras divides by it (VarianceScaling).
TRUNCATED_NORMAL_STD = 0.87962566103423978


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
    out = as_generator(rng).standard_normal(_shape(shape))
    out *= scale  # in place: one array of draws, no copies (52M draws for a 50x1024 network)
    return out.astype(_dtype(dtype), copy=False)


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
