"""Weight initializers, their gains and fans, ``initialize``/``init_`` for a whole MLP, and LSUV.

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

from .._rng import RngLike, as_generator
from ._adapter import (
    LAYER_SCHEMES,
    check_layer_init,
    chosen_activation,
    draw_layer_row,
    given_activation,
)
from ._draw import (
    TRUNCATED_NORMAL_STD,
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    lecun_normal,
    lecun_uniform,
    normal,
    orthogonal,
    truncated_normal,
    uniform,
    xavier_normal,
    xavier_uniform,
    zeros,
)
from ._gain import (
    ACTIVATION_GAINS,
    ACTIVATIONS,
    ActivationGain,
    auto_gain,
    fans,
    gain,
    required_gain,
    scheme_for,
)
from ._lsuv import LayerwiseModel, LsuvRow, LsuvTable, lsuv, lsuv_, run_lsuv
from ._network import SCHEMES, InitRow, InitTable, draw_layer, init_, initialize

__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_GAINS",
    "LAYER_SCHEMES",
    "SCHEMES",
    "TRUNCATED_NORMAL_STD",
    "ActivationGain",
    "InitRow",
    "InitTable",
    "LayerwiseModel",
    "LsuvRow",
    "LsuvTable",
    "RngLike",
    "as_generator",
    "auto_gain",
    "check_layer_init",
    "chosen_activation",
    "draw_layer",
    "draw_layer_row",
    "fans",
    "gain",
    "given_activation",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "init_",
    "initialize",
    "lecun_normal",
    "lecun_uniform",
    "lsuv",
    "lsuv_",
    "normal",
    "orthogonal",
    "required_gain",
    "run_lsuv",
    "scheme_for",
    "truncated_normal",
    "uniform",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]
