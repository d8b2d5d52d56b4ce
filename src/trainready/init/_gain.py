"""Gains, fans, and the one table of what each activation needs from the layer before it.

Every part of trainready that asks "which gain or scheme does this activation need" -- NumPy's
``initialize(scheme="auto")``, ``trainready.torch.init_``, the signal doctor's explanation of a
vanishing signal -- reads :data:`ACTIVATION_GAINS` through :func:`auto_gain`, :func:`scheme_for`
and :func:`required_gain`.

Example:
    >>> scheme_for("relu"), round(auto_gain("relu") ** 2, 12), required_gain("tanh")
    ('he', 2.0, 1.0)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_GAINS",
    "ActivationGain",
    "Shape",
    "auto_gain",
    "fans",
    "gain",
    "required_gain",
    "scheme_for",
]

Shape = int | Sequence[int]

#: Activation names of :mod:`trainready.nn` (plus softmax), those ``initialize`` accepts.
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "linear", "softmax")
#: Default negative slope of leaky ReLU (PyTorch's and trainready.nn's).
LEAKY_SLOPE = 0.01

_LINEAR_FNS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
)


@dataclass(frozen=True)
class ActivationGain:
    """What a layer followed by one activation needs.

    Attributes:
        rectifier: keeps about half of the second moment (ReLU-like): "auto" gives it He's
            variance (gain sqrt(2); He et al. 2015); otherwise LeCun's (gain 1; LeCun 1998).
        exact: the gain is the variance-preserving one (to first order) for this activation, so
            the doctor may quote ``gain**2`` as the ``n * Var(W)`` it needs.
    """

    rectifier: bool
    exact: bool


#: The one activation -> gain/scheme table.
ACTIVATION_GAINS: dict[str, ActivationGain] = {
    "relu": ActivationGain(rectifier=True, exact=True),
    "leaky_relu": ActivationGain(rectifier=True, exact=True),
    "tanh": ActivationGain(rectifier=False, exact=True),
    "linear": ActivationGain(rectifier=False, exact=True),
    "sigmoid": ActivationGain(rectifier=False, exact=False),
    "softmax": ActivationGain(rectifier=False, exact=False),
    "selu": ActivationGain(rectifier=False, exact=False),
    **{
        name: ActivationGain(rectifier=True, exact=False)
        for name in ("relu6", "gelu", "silu", "elu", "celu", "mish", "softplus", "hardswish")
    },
}


def auto_gain(activation: str, slope: float | None = None) -> float:
    """The gain ``"auto"`` (and ``"orthogonal"``) use for a layer followed by ``activation``.

    sqrt(2) before rectifiers (He et al. 2015), ``sqrt(2 / (1 + slope^2))`` before leaky ReLU
    (slope 0.01 by default), 1 elsewhere and for unknown names (LeCun et al. 1998).

    Example:
        >>> auto_gain("tanh"), auto_gain("leaky_relu", 0.2) == gain("leaky_relu", 0.2)
        (1.0, True)
    """
    if activation == "leaky_relu":
        return gain("leaky_relu", LEAKY_SLOPE if slope is None else float(slope))
    entry = ACTIVATION_GAINS.get(activation)
    return math.sqrt(2.0) if entry is not None and entry.rectifier else 1.0


def required_gain(activation: str) -> float | None:
    """The ``n * Var(W)`` a layer *fed by* ``activation`` needs to keep the variance, or None.

    ReLU keeps half of the second moment (He et al. 2015): 2. Leaky ReLU with slope 0.01:
    2 / (1 + 0.01^2). tanh and linear keep it to first order (LeCun et al. 1998): 1. None where
    the table knows no exact value (sigmoid, GELU, ...).

    Example:
        >>> required_gain("relu"), required_gain("tanh"), required_gain("sigmoid")
        (2.0, 1.0, None)
    """
    entry = ACTIVATION_GAINS.get(activation)
    if entry is None or not entry.exact:
        return None
    return auto_gain(activation) ** 2 if activation != "relu" else 2.0


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
    if activation not in ACTIVATION_GAINS:
        raise ValueError(
            f"activation: expected one of {tuple(ACTIVATION_GAINS)}, got {activation!r}; "
            "pass e.g. activation='relu'"
        )
    return "he" if ACTIVATION_GAINS[activation].rectifier else "lecun"
