"""trainready.nn: a small, clear, fast reference network in NumPy.

The network every check of trainready is shown on, and one to compare your own backprop against:
:class:`MLP` (any depth, per-layer activations, sigmoid/softmax/linear outputs with stable losses,
L2, inverted dropout, batch norm), its layers (:mod:`~trainready.nn.layers`), activations
(:mod:`~trainready.nn.activations`), output losses (:mod:`~trainready.nn.losses`) and optimizers
(:mod:`~trainready.nn.optimizers`). Shapes: ``X`` is ``(m, n_features)``, ``W{l}`` is
``(n_l, n_(l-1))``, ``b{l}`` is ``(n_l,)``.

Example:
    >>> import trainready as tr
    >>> net = tr.nn.MLP([2, 10, 5, 1], activation="relu", output="sigmoid", init="he", rng=0)
    >>> sorted(net.params)
    ['W1', 'W2', 'W3', 'b1', 'b2', 'b3']
"""

from __future__ import annotations

from . import activations, layers, losses, optimizers
from ._io import load, save
from .activations import ACTIVATIONS, Activation, get_activation
from .history import EpochInfo, History
from .layers import BatchNorm, Dense, Dropout
from .losses import OUTPUTS, OutputLoss, get_output
from .mlp import MLP
from .optimizers import GD, OPTIMIZERS, Adam, Momentum, Optimizer, get_optimizer

__all__ = [
    "ACTIVATIONS",
    "GD",
    "MLP",
    "OPTIMIZERS",
    "OUTPUTS",
    "Activation",
    "Adam",
    "BatchNorm",
    "Dense",
    "Dropout",
    "EpochInfo",
    "History",
    "Momentum",
    "Optimizer",
    "OutputLoss",
    "activations",
    "get_activation",
    "get_optimizer",
    "get_output",
    "layers",
    "load",
    "losses",
    "optimizers",
    "save",
]
