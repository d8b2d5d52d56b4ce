"""The arguments of an adapter's ``init_(model, scheme, activation=...)``, checked once.

``trainready.torch.init_`` and ``trainready.jax.init_`` take the same ``scheme`` and
``activation`` (None, one name for every layer, or a dict layer name -> name) and refuse the
same mistakes with the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["LAYER_SCHEMES", "check_layer_init", "given_activation"]

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
