"""What every adapter's ``init_(model, scheme, activation=...)`` shares: the argument checks
and one layer's draw.

``trainready.torch.init_`` and ``trainready.jax.init_`` take the same ``scheme`` and
``activation`` (None, one name for every layer, or a dict layer name -> name), refuse the same
mistakes with the same words, and draw each layer with :func:`draw_layer_row`; only finding
the layers and writing the weights (in the framework's layout) is theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from ._gain import fans
from ._network import InitRow, draw_layer

__all__ = [
    "LAYER_SCHEMES",
    "check_layer_init",
    "chosen_activation",
    "draw_layer_row",
    "given_activation",
]

#: Schemes an adapter's ``init_`` accepts ("auto": He before ReLU-like activations, else LeCun).
LAYER_SCHEMES = ("auto", "he", "lecun", "xavier", "glorot", "orthogonal")

Activation = str | Mapping[str, str] | None


def check_layer_init(scheme: str, activation: object, layer_names: Iterable[str]) -> None:
    """Refuse an unknown ``scheme``, an ``activation`` of the wrong type, or a dict naming a
    layer the model does not have.

    Example:
        >>> check_layer_init("he", {"fc2": "relu"}, ["fc1"])
        Traceback (most recent call last):
        ValueError: activation: no Linear/Conv layer named ['fc2']; layers are ['fc1']
    """
    if scheme not in LAYER_SCHEMES:
        raise ValueError(f"scheme: unknown scheme {scheme!r}; expected one of {LAYER_SCHEMES}")
    if activation is not None and not isinstance(activation, str | Mapping):
        raise TypeError(
            "activation: expected None, a name such as 'relu', or a dict layer name -> name; "
            f"got {type(activation).__name__}"
        )
    if isinstance(activation, Mapping):
        names = list(layer_names)
        unknown = sorted(set(activation) - set(names))
        if unknown:
            raise ValueError(
                f"activation: no Linear/Conv layer named {unknown}; layers are {names}"
            )


def given_activation(activation: Activation, name: str, known: Iterable[str]) -> str | None:
    """The activation ``activation`` gives layer ``name`` (None: not given), checked against
    the ``known`` names."""
    if activation is None:
        return None
    given = activation if isinstance(activation, str) else activation.get(name)
    names = tuple(known)
    if given is not None and given not in names:
        raise ValueError(
            f"activation: unknown activation {given!r} for layer {name!r}; expected one of {names}"
        )
    return given


def chosen_activation(
    activation: Activation, name: str, found: tuple[str, float | None], known: Iterable[str]
) -> tuple[str, float | None]:
    """``(activation, slope)`` for layer ``name``: the given one, else the ``found`` one; a
    given activation keeps the found slope only when it is the same function."""
    given = given_activation(activation, name, known)
    if given is None:
        return found
    return given, (found[1] if given == found[0] else None)


def draw_layer_row(
    name: str,
    layer_type: str,
    shape: tuple[int, ...],
    scheme: str,
    activation: tuple[str, float | None],
    *,
    bias: bool,
    rng: np.random.Generator,
) -> tuple[np.ndarray, InitRow]:
    """One layer's weights in PyTorch's layout ``(out, in, *window)`` (:func:`draw_layer`)
    and its row of the :class:`InitTable`."""
    act, slope = activation
    W, chosen, std = draw_layer(shape, scheme, act, rng=rng, slope=slope)
    fan_in, fan_out = fans(shape)
    row = InitRow(
        name=name,
        type=layer_type,
        shape=shape,
        activation=act,
        scheme=chosen,
        std=std,
        fan_in=fan_in,
        fan_out=fan_out,
        bias=bias,
    )
    return W, row
