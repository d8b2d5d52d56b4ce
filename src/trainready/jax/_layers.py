"""The Flax NNX layers trainready sees: ``Linear`` and ``Conv``, found, named and intercepted.

A model's layers are the :class:`flax.nnx.Linear` and :class:`flax.nnx.Conv` modules in its
graph, named by their path (``"layers/0"``, ``"encoder/fc"``) and listed in definition order
(the order of the attributes in ``__init__``, the order PyTorch's ``named_modules`` gives).
:func:`intercept` runs code with every call of those layers routed through a hook that sees
the layer's input and output and may replace the output (a recorder adds a zero probe there to
read the gradient of the loss with respect to the pre-activation). It works under ``jax.jit``
and ``jax.grad`` tracing, because the hook runs while the Python code is traced.

Flax's layout: ``Linear.kernel`` is ``(in, out)`` and ``Conv.kernel`` is ``(*window, in, out)``
(channels last); PyTorch's ``Linear.weight`` is ``(out, in)`` and ``Conv2d.weight``
``(out, in, *window)``. :func:`torch_layout` and :func:`flax_layout` convert between the two.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx

from .._validation import describe, invalid

__all__ = [
    "LAYER_TYPES",
    "Layer",
    "eval_mode",
    "find_layers",
    "flax_layout",
    "intercept",
    "torch_layout",
]

#: The layer types whose weights trainready initializes and whose calls it records.
LAYER_TYPES: tuple[type[nnx.Module], ...] = (nnx.Linear, nnx.Conv)

Hook = Callable[[str, Any, Any], Any]


@dataclass(frozen=True)
class Layer:
    """One ``Linear`` or ``Conv`` of a model.

    Attributes:
        name: the path in the model's graph, ``"/"``-joined (``"layers/0"``).
        module: the layer itself (the user's object: read it, do not change it in place
            outside :mod:`trainready.jax`'s documented in-place functions).
        kind: ``"linear"`` or ``"conv"``.
    """

    name: str
    module: nnx.Module
    kind: str

    @property
    def kernel(self) -> Any:
        """The kernel array, Flax layout (``(in, out)`` or ``(*window, in, out)``)."""
        return self.module.kernel[...]  # type: ignore[attr-defined]

    @property
    def has_bias(self) -> bool:
        return getattr(self.module, "bias", None) is not None

    @property
    def fans(self) -> tuple[int, int]:
        """``(fan_in, fan_out)`` as PyTorch and ``jax.nn.initializers`` count them."""
        shape = tuple(int(s) for s in self.kernel.shape)
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        return shape[-2] * receptive, shape[-1] * receptive


def _order_key(root: nnx.Module, path: Sequence[Any]) -> tuple[int, ...]:
    """Definition order of ``path``: each step's position among its parent's attributes."""
    key: list[int] = []
    node: Any = root
    for step in path:
        names = [k for k in getattr(node, "__dict__", {}) if not k.startswith("_")]
        key.append(names.index(str(step)) if str(step) in names else len(names))
        node = node[step] if not isinstance(step, str) else getattr(node, step)
    return tuple(key)


def find_layers(model: Any, *, what: str = "model") -> list[Layer]:
    """The ``Linear``/``Conv`` layers of an NNX model, in definition order.

    Example:
        >>> from flax import nnx
        >>> model = nnx.Sequential(nnx.Linear(2, 3, rngs=nnx.Rngs(0)), nnx.Linear(3, 1,
        ...                        rngs=nnx.Rngs(1)))
        >>> [(layer.name, layer.fans) for layer in find_layers(model)]
        [('layers/0', (2, 3)), ('layers/1', (3, 1))]
    """
    if not isinstance(model, nnx.Module):
        raise invalid(
            what,
            "a flax.nnx.Module (nnx.Sequential or your nnx.Module subclass)",
            describe(model),
            "for a torch.nn.Module use trainready.torch; for a pure function of a params "
            "pytree use trainready.jax.gradcheck",
            kind=TypeError,
        )
    found = [
        (path, node)
        for path, node in nnx.iter_graph(model)
        if isinstance(node, LAYER_TYPES) and not isinstance(node, nnx.LinearGeneral)
    ]
    found.sort(key=lambda item: _order_key(model, item[0]))
    return [
        Layer(
            name="/".join(str(p) for p in path) or type(node).__name__,
            module=node,
            kind="conv" if isinstance(node, nnx.Conv) else "linear",
        )
        for path, node in found
    ]


def model_layers(model: Any) -> list[Layer]:
    """:func:`find_layers`, refusing a model without any (ValueError) or with complex weights
    (TypeError): the one model check of ``init_``, ``lsuv_`` and ``diagnose``."""
    layers = find_layers(model)
    if not layers:
        raise invalid(
            "model",
            "an NNX model with flax.nnx.Linear or nnx.Conv layers",
            f"{type(model).__name__} with no Linear or Conv layer",
            "pass the model that holds them",
        )
    for path, value in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        arr = value.get_value() if isinstance(value, nnx.Variable) else value
        if jnp.iscomplexobj(arr):
            raise invalid(
                f"model parameter {'/'.join(map(str, path))!r}",
                "a real floating array",
                f"dtype {arr.dtype}",
                "the signal statistics and initializers need real weights",
                kind=TypeError,
            )
    return layers


@contextlib.contextmanager
def intercept(layers: Sequence[Layer], hook: Hook) -> Iterator[None]:
    """Route every call of ``layers`` through ``hook(name, x, y) -> y`` while the block runs.

    ``x`` is the layer's input and ``y`` its output (the pre-activation); the hook's return
    value replaces ``y``. A layer called inside another intercepted call of itself (a subclass
    calling ``super().__call__``) is seen once. The layer classes are restored on exit, also
    after an exception. Not thread-safe: one interception at a time.
    """
    by_id = {id(layer.module): layer.name for layer in layers}
    active: set[int] = set()
    originals: dict[type, Any] = {}
    for layer in layers:
        cls = type(layer.module)
        if cls not in originals:
            originals[cls] = cls.__dict__.get("__call__")

    def wrap(cls: type, call: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(self: Any, x: Any, *args: Any, **kwargs: Any) -> Any:
            name = by_id.get(id(self))
            if name is None or id(self) in active:
                return call(self, x, *args, **kwargs)
            active.add(id(self))
            try:
                y = call(self, x, *args, **kwargs)
            finally:
                active.discard(id(self))
            return hook(name, x, y)

        return recorded

    try:
        for cls in originals:
            cls.__call__ = wrap(cls, cls.__call__)  # type: ignore[method-assign]
        yield
    finally:
        for cls, original in originals.items():
            if original is None:
                del cls.__call__
            else:
                cls.__call__ = original  # type: ignore[method-assign]


def torch_layout(kernel: Any) -> np.ndarray:
    """A Flax kernel as PyTorch lays it out: ``(in, out)`` -> ``(out, in)``,
    ``(*window, in, out)`` -> ``(out, in, *window)``. A NumPy copy."""
    k = np.asarray(kernel)
    return np.ascontiguousarray(np.moveaxis(k, (-1, -2), (0, 1)))


def flax_layout(weight: np.ndarray, dtype: Any) -> Any:
    """The inverse of :func:`torch_layout`, as a JAX array of ``dtype``."""
    w = np.asarray(weight)
    return jnp.asarray(np.moveaxis(w, (0, 1), (-1, -2)), dtype=dtype)


#: The mode flags ``Module.eval()`` sets (Dropout, BatchNorm and the modules that have them).
_MODE_FLAGS = ("deterministic", "use_running_average")


@contextlib.contextmanager
def eval_mode(model: nnx.Module) -> Iterator[None]:
    """Run the block with ``model.eval()`` (no dropout, BatchNorm on its running statistics),
    then put back every module's own ``deterministic``/``use_running_average`` flag, also after
    an exception. Nothing else is changed.

    Example:
        >>> from flax import nnx
        >>> drop = nnx.Dropout(0.5, rngs=nnx.Rngs(0))
        >>> with eval_mode(drop):
        ...     inside = drop.deterministic
        >>> inside, drop.deterministic
        (True, False)
    """
    saved = [
        (node, flag, getattr(node, flag))
        for _, node in nnx.iter_graph(model)
        if isinstance(node, nnx.Module)
        for flag in _MODE_FLAGS
        if flag in vars(node)
    ]
    try:
        model.eval()  # type: ignore[no-untyped-call]
        yield
    finally:
        for node, flag, value in saved:
            setattr(node, flag, value)
