"""Pytree leaves <-> named float64 NumPy arrays, and names from pytree paths."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def leaf_name(path: Sequence[Any]) -> str:
    """A readable name for a pytree path: ``"Dense_0/kernel"``, ``"layers/0/w"``.

    Args:
        path: a key path from ``jax.tree_util.tree_flatten_with_path``.

    Returns:
        The keys joined by ``/`` (dict keys, sequence indices, attribute names); ``""`` for the
        root.

    Example:
        >>> import jax
        >>> [leaf_name(p) for p, _ in jax.tree_util.tree_flatten_with_path({"a": [1, 2]})[0]]
        ['a/0', 'a/1']
    """
    parts: list[str] = []
    for key in path:
        if isinstance(key, jax.tree_util.DictKey):
            parts.append(str(key.key))
        elif isinstance(key, jax.tree_util.SequenceKey):
            parts.append(str(key.idx))
        elif isinstance(key, jax.tree_util.GetAttrKey):
            parts.append(key.name)
        elif isinstance(key, jax.tree_util.FlattenedIndexKey):
            parts.append(str(key.key))
        else:
            parts.append(jax.tree_util.keystr((key,)).strip("[]'\"."))
    return "/".join(parts)


def is_floating_leaf(leaf: Any) -> bool:
    """True for a floating array leaf (JAX or NumPy array, NumPy scalar or Python float)."""
    if isinstance(leaf, bool):
        return False
    if isinstance(leaf, float):
        return True
    dtype = getattr(leaf, "dtype", None)
    if dtype is None or not isinstance(leaf, (jax.Array, np.ndarray, np.generic)):
        return False
    try:
        return bool(jnp.issubdtype(dtype, jnp.floating))
    except TypeError:  # extended dtypes (PRNG keys)
        return False


def to_float64(leaf: Any) -> np.ndarray:
    """A private float64 NumPy copy of a leaf (the user's array is never touched)."""
    return np.array(leaf, dtype=np.float64, copy=True)


def to_jax(array: np.ndarray) -> jax.Array:
    """A JAX float64 copy of a NumPy array (call inside ``jax.enable_x64(True)``)."""
    return jnp.array(array, dtype=jnp.float64, copy=True)
