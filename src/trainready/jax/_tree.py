"""Pytree leaves <-> named float64 NumPy arrays, and names from pytree paths.

Flax NNX ``Variable`` wrappers (``nnx.Param``) are named by where they sit (``"layers/0/kernel"``,
not ``".../value"``); flax is only looked at when the user has imported it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
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


def nnx_module() -> Any:
    """``flax.nnx`` if the user imported it, else None (trainready never imports flax itself)."""
    return sys.modules.get("flax.nnx")


def is_variable(x: Any) -> bool:
    """True for a Flax NNX ``Variable`` (``nnx.Param``, ``nnx.BatchStat``, ...)."""
    nnx = nnx_module()
    return nnx is not None and isinstance(x, nnx.Variable)


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


@dataclass(frozen=True)
class Flat:
    """A flattened pytree: every leaf, its name, and which leaves are checked (floating).

    ``rebuild(values)`` puts new values in the floating slots and keeps every other leaf (ints,
    bools, PRNG keys, callables of an Equinox-style module) as the very object it was.
    """

    treedef: Any
    leaves: tuple[Any, ...]
    names: tuple[str, ...]
    slots: tuple[int, ...]

    @classmethod
    def of(cls, tree: Any, root: str = "x") -> Flat:
        pairs, treedef = jax.tree_util.tree_flatten_with_path(tree)
        wrapped = jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_variable)[0]
        if len(wrapped) == len(pairs):  # one leaf per Variable: name it where it sits
            paths = [path for path, _ in wrapped]
        else:
            paths = [path for path, _ in pairs]
        names = tuple(leaf_name(p) or root for p in paths)
        leaves = tuple(leaf for _, leaf in pairs)
        slots = tuple(i for i, leaf in enumerate(leaves) if is_floating_leaf(leaf))
        return cls(treedef, leaves, names, slots)

    @property
    def checked(self) -> list[str]:
        """Names of the floating leaves, in order."""
        return [self.names[i] for i in self.slots]

    @property
    def skipped(self) -> list[str]:
        """Names of the other leaves (left as they are)."""
        return [n for i, n in enumerate(self.names) if i not in set(self.slots)]

    def values(self) -> list[Any]:
        """The floating leaves, in order."""
        return [self.leaves[i] for i in self.slots]

    def rebuild(self, values: Sequence[Any]) -> Any:
        """The pytree with ``values`` in the floating slots."""
        leaves = list(self.leaves)
        for i, value in zip(self.slots, values, strict=True):
            leaves[i] = value
        return jax.tree_util.tree_unflatten(self.treedef, leaves)


def skipped_note(flat: Flat, what: str) -> tuple[str, ...]:
    """A note naming the non-floating leaves that were passed through unchecked."""
    skipped = flat.skipped
    if not skipped:
        return ()
    shown = ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "")
    return (
        f"{len(skipped)} non-floating leaves of {what} ({shown}: ints, bools, PRNG keys or "
        "static fields) were passed through unchanged and not checked",
    )


def to_float64(leaf: Any) -> np.ndarray:
    """A private float64 NumPy copy of a leaf (the user's array is never touched)."""
    return np.array(leaf, dtype=np.float64, copy=True)


def to_jax(array: Any) -> jax.Array:
    """A JAX float64 copy of an array (call inside ``jax.enable_x64(True)``)."""
    return jnp.array(array, dtype=jnp.float64, copy=True)
