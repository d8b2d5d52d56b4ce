"""trainready.nn: a small, clear, fast reference network in NumPy.

Work in progress: the activations registry is available now; the MLP follows.
"""

from __future__ import annotations

from . import activations
from .activations import ACTIVATIONS, Activation, get_activation

__all__ = ["ACTIVATIONS", "Activation", "activations", "get_activation"]
