"""Work on float64 copies of a module's tensors, and put everything back bit-exactly afterwards.

:class:`Float64Session` swaps the ``.data`` of every tensor it manages (the parameters to check,
the module's other parameters and its buffers, any extra tensors) for a float64 copy on the same
device, and on exit swaps the original tensor objects back. The originals are never written to,
so their values, dtypes, devices, storage and autograd version counters are unchanged; a
bitwise snapshot taken on entry is compared on exit and written back only if something else
changed them. ``requires_grad`` and ``.grad`` are restored too. Exit runs in a ``finally``, so
an exception or Ctrl-C in the middle of a check restores everything as well.

While a module is managed, a forward pre-hook on each of its submodules casts floating inputs
of lower precision (a float32 batch) to float64, so ``model(X)`` works unchanged in the check.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.nn.modules.module import register_module_forward_pre_hook

__all__ = ["Float64Session", "named_tensors", "same_bits"]

_INT_VIEW = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bitwise equality of two tensors of the same dtype and shape (NaN == NaN, -0.0 != 0.0)."""
    if a.dtype != b.dtype or a.shape != b.shape or a.device != b.device:
        return False
    if a.is_complex():
        a, b = torch.view_as_real(a), torch.view_as_real(b)
    if a.is_floating_point():
        view = _INT_VIEW[a.element_size()]
        return bool(torch.equal(a.contiguous().view(view), b.contiguous().view(view)))
    return bool(torch.equal(a, b))


def named_tensors(
    params: Any, what: str = "params"
) -> tuple[dict[str, torch.Tensor], torch.nn.Module | None]:
    """Name the tensors to check: ``(name -> tensor, the module or None)``.

    Accepts an ``nn.Module`` (its parameters that require grad, named by ``named_parameters()``),
    a mapping name -> tensor, an iterable of tensors (named ``"0"``, ``"1"``, ...), an iterable of
    ``(name, tensor)`` pairs (``model.named_parameters()``) or a single tensor (named ``"0"``).

    Raises:
        TypeError: not one of those, or an element is not a real floating tensor.
        ValueError: nothing to check, a non-leaf or lazy tensor, or tensors sharing memory.
    """
    module: torch.nn.Module | None = None
    if isinstance(params, torch.nn.Module):
        module = params
        named: dict[str, torch.Tensor] = {
            n: p for n, p in params.named_parameters() if p.requires_grad
        }
        if not named:
            raise ValueError(
                f"{what}: the module {type(params).__name__} has no parameter that requires grad; "
                "unfreeze the ones to check (p.requires_grad_(True)) or pass them as a dict"
            )
    elif isinstance(params, torch.Tensor):
        named = {"0": params}
    elif isinstance(params, Mapping):
        named = dict(params)
        for key in named:
            if not isinstance(key, str):
                raise TypeError(f"{what}: keys must be strings (parameter names); got {key!r}")
    elif isinstance(params, Iterable) and not isinstance(params, str | bytes):
        items = list(params)
        if items and all(
            isinstance(it, tuple) and len(it) == 2 and isinstance(it[0], str) for it in items
        ):
            named = dict(items)
        else:
            named = {str(i): t for i, t in enumerate(items)}
    else:
        raise TypeError(
            f"{what}: expected an nn.Module, a dict name -> tensor or an iterable of tensors; "
            f"got {type(params).__name__}"
        )
    if not named:
        raise ValueError(f"{what} is empty: pass the module or at least one tensor to check")
    seen: dict[tuple[str, int, int], str] = {}
    for key_name, t in named.items():
        name = key_name
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{what}[{name!r}]: expected a torch.Tensor; got {type(t).__name__}")
        if torch.nn.parameter.is_lazy(t):
            raise ValueError(
                f"{what}[{name!r}] is an uninitialized lazy parameter; run one forward pass "
                "first so that it has a shape"
            )
        if t.layout != torch.strided or not t.is_floating_point():
            kind = "a sparse tensor" if t.layout != torch.strided else f"dtype {t.dtype}"
            raise TypeError(
                f"{what}[{name!r}]: a gradient check needs a dense real floating-point tensor; "
                f"got {kind}"
            )
        if t.device.type == "meta":
            raise ValueError(
                f"{what}[{name!r}] is on the meta device: it has a shape but no values. "
                "Materialize the module first (module.to_empty(device='cpu'), then initialize "
                "it, e.g. with trainready.torch.init_)"
            )
        if t.grad_fn is not None:
            raise ValueError(
                f"{what}[{name!r}] is not a leaf tensor (it was computed from others, grad_fn "
                f"{type(t.grad_fn).__name__}); pass the leaf tensors the loss is built from"
            )
        if t.numel() == 0:
            continue  # an empty tensor has an empty Jacobian: checked trivially, never refused
        where = (str(t.device), t.untyped_storage().data_ptr(), int(t.storage_offset()))
        if where in seen:
            raise ValueError(
                f"{what}[{name!r}] shares memory with {what}[{seen[where]!r}] (tied or view "
                "tensors); pass each underlying tensor once"
            )
        seen[where] = name
    return named, module


@dataclass
class _Saved:
    tensor: torch.Tensor
    data: torch.Tensor  # the original .data object; never written to by us
    snapshot: torch.Tensor  # bitwise copy of its values
    requires_grad: bool
    grad: torch.Tensor | None
    grad_snapshot: torch.Tensor | None


def _cast_floats(x: Any) -> tuple[Any, bool]:
    if isinstance(x, torch.Tensor):
        if x.is_floating_point() and x.dtype != torch.float64:
            return x.to(torch.float64), True
        return x, False
    if isinstance(x, tuple | list):
        out = [_cast_floats(v) for v in x]
        if not any(c for _, c in out):
            return x, False
        values = [v for v, _ in out]
        if isinstance(x, list):
            return values, True
        if hasattr(x, "_fields"):  # a namedtuple
            return type(x)(*values), True
        return tuple(values), True
    if isinstance(x, dict):
        pairs = {k: _cast_floats(v) for k, v in x.items()}
        if any(c for _, c in pairs.values()):
            return {k: v for k, (v, _) in pairs.items()}, True
        return x, False
    return x, False


def _cast_inputs_hook(
    module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    new_args, changed_a = _cast_floats(args)
    new_kwargs, changed_k = _cast_floats(kwargs)
    if changed_a or changed_k:
        return tuple(new_args), new_kwargs
    return None


def _float64_like(data: torch.Tensor) -> torch.Tensor:
    """A float64 copy with the same geometry: a view with the same size, strides and storage
    offset into a float64 copy of the whole storage (``as_strided`` and other views of the
    storage then read the same elements they read before)."""
    if _compact(data):
        return data.to(torch.float64, copy=True)
    n = data.untyped_storage().nbytes() // data.element_size()
    whole = torch.empty(0, dtype=data.dtype, device=data.device)
    whole.set_(data.untyped_storage(), 0, (n,), (1,))
    copy = whole.to(torch.float64, copy=True)
    return copy.as_strided(data.shape, data.stride(), data.storage_offset())


def _compact(t: torch.Tensor) -> bool:
    """Contiguous, at the start of its storage, and covering all of it."""
    return (
        t.is_contiguous()
        and t.storage_offset() == 0
        and t.untyped_storage().nbytes() == t.numel() * t.element_size()
    )


class Float64Session:
    """Context manager: float64 working copies of tensors, restored bit-exactly on exit.

    Parameters (and the checked tensors) keep their identity: their ``.data`` is swapped for a
    float64 copy and swapped back. Buffers are swapped in their module's buffer table instead
    (``module._buffers``), so the original buffer objects are not even touched by in-place
    updates during the check (BatchNorm's running statistics and counter in training mode).

    While the session is open, a global forward pre-hook (acting on this thread only) converts
    the parameters and buffers of every module the loss calls, the first time it is called, and
    casts its floating positional inputs to float64; so ``model.parameters()`` or a dict of some
    tensors work as well as the module itself.

    Args:
        checked: name -> tensor to be checked; made to require grad during the session.
        module: when given, all its parameters and buffers are converted on entry, and keyword
            inputs of its submodules are cast too.
        extra: further tensors to convert (e.g. a custom Function's non-differentiable inputs).

    Attributes:
        work: name -> the float64 tensor that ``checked[name].data`` is during the session.
        converted_from: the lower-precision dtypes that were converted.
    """

    def __init__(
        self,
        checked: Mapping[str, torch.Tensor],
        module: torch.nn.Module | None = None,
        extra: Iterable[torch.Tensor] = (),
    ) -> None:
        self.checked = dict(checked)
        self.module = module
        self._extra = list(extra)
        self._saved: list[_Saved] = []
        self._saved_ids: set[int] = set()
        self._buffers: list[tuple[torch.nn.Module, str, torch.Tensor]] = []
        self._buffer_copies: dict[int, torch.Tensor] = {}
        self._seen_modules: set[int] = set()
        self._hooks: list[Any] = []
        self._thread = 0
        self.work: dict[str, torch.Tensor] = {}
        self.converted_from: set[torch.dtype] = set()
        self._loaded: dict[str, NDArray[np.float64]] = {}  # arrays the CPU tensors now view

    # ------------------------------------------------------------------ enter / exit
    def __enter__(self) -> Float64Session:
        try:
            self._enter()
        except BaseException:
            self.restore()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def _enter(self) -> None:
        self._thread = threading.get_ident()
        for t in [*self.checked.values(), *self._extra]:
            self._convert_tensor(t)
        for name, t in self.checked.items():
            if not t.requires_grad:
                t.requires_grad_(True)
            self.work[name] = t.data
        if self.module is not None:
            for m in self.module.modules():
                self._convert_module(m)
                self._hooks.append(m.register_forward_pre_hook(_cast_inputs_hook, with_kwargs=True))
        self._hooks.append(register_module_forward_pre_hook(self._global_pre_hook))

    def _convert_tensor(self, t: torch.Tensor) -> None:
        if id(t) in self._saved_ids:
            return
        self._saved_ids.add(id(t))
        with torch.no_grad():
            data = t.data
            grad = t.grad if t.is_leaf else None
            self._saved.append(
                _Saved(
                    t,
                    data,
                    data.clone(),
                    t.requires_grad,
                    grad,
                    None if grad is None else grad.detach().clone(),
                )
            )
            if data.is_floating_point() and data.dtype != torch.float64:
                self.converted_from.add(data.dtype)
            t.data = _float64_like(data) if data.is_floating_point() else data

    def _convert_module(self, m: torch.nn.Module) -> None:
        if id(m) in self._seen_modules:
            return
        self._seen_modules.add(id(m))
        for p in m.parameters(recurse=False):
            self._convert_tensor(p)
        for name, b in list(m._buffers.items()):
            if b is None:
                continue
            copy = self._buffer_copies.get(id(b))
            if copy is None:
                if b.is_floating_point() and b.dtype != torch.float64:
                    self.converted_from.add(b.dtype)
                with torch.no_grad():
                    copy = b.detach().to(
                        torch.float64 if b.is_floating_point() else b.dtype, copy=True
                    )
                self._buffer_copies[id(b)] = copy
            self._buffers.append((m, name, b))
            m._buffers[name] = copy

    def _global_pre_hook(self, module: torch.nn.Module, args: tuple[Any, ...]) -> Any:
        if threading.get_ident() != self._thread:
            return None
        self._convert_module(module)
        new_args, changed = _cast_floats(args)
        return tuple(new_args) if changed else None

    def restore(self) -> None:
        """Put every managed tensor back as it was (idempotent)."""
        self._loaded.clear()
        for h in self._hooks:
            h.remove()
        self._hooks.clear()
        for m, name, b in reversed(self._buffers):
            m._buffers[name] = b
        self._buffers.clear()
        self._buffer_copies.clear()
        self._seen_modules.clear()
        with torch.no_grad():
            for s in reversed(self._saved):
                t = s.tensor
                t.data = s.data
                if not same_bits(s.data, s.snapshot):
                    s.data.copy_(s.snapshot)
                if t.is_leaf and t.requires_grad != s.requires_grad:
                    t.requires_grad_(s.requires_grad)
                if t.is_leaf:
                    if t.grad is not s.grad:
                        t.grad = s.grad
                    if (
                        s.grad is not None
                        and s.grad_snapshot is not None
                        and not same_bits(s.grad, s.grad_snapshot)
                    ):
                        s.grad.copy_(s.grad_snapshot)
        self._saved.clear()
        self._saved_ids.clear()

    # ------------------------------------------------------------------ values
    def values(self) -> dict[str, NDArray[np.float64]]:
        """name -> float64 NumPy copy of each checked tensor's current value."""
        return {name: w.detach().cpu().numpy().copy() for name, w in self.work.items()}

    def load(self, arrays: Mapping[str, NDArray[np.float64]]) -> None:
        """Make each checked tensor hold ``arrays[name]`` (float64, the tensor's shape).

        On the CPU the tensor's data becomes a view of the array (no copy; the array must stay
        alive and unchanged while the loss runs); on another device the values are copied into
        the session's float64 working tensor on that device.
        """
        if all(self._loaded.get(name) is arr for name, arr in arrays.items()):
            return  # the same arrays as last time: CPU tensors are their views already
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # read-only arrays: we never write
            for name, arr in arrays.items():
                t = self.checked[name]
                work = self.work[name]
                host = torch.from_numpy(arr)
                if work.device.type == "cpu" and _compact(work):
                    t.data = host
                    self._loaded[name] = arr  # a view: later changes to arr are seen
                else:
                    if t.data is not work:
                        t.data = work
                    work.copy_(host)
