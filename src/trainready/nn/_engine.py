"""The forward and backward passes of :class:`~trainready.nn.MLP`, on explicit parameters.

Every method here takes the parameters as an argument (never reads them from the network), so
the same code serves training (the network's own arrays, preallocated buffers), ``gradients``
(fresh arrays) and gradient checking (float64 copies). The network contributes only its
configuration (activations, output, L2, dropout, batch norm) and the batch-norm running
statistics, which are updated only when asked.

A :class:`Watcher` passed to ``_forward``/``_backward`` sees each layer's arrays as they are
computed (the signal doctor records through it: it never re-implements a forward pass), and
:meth:`Backprop.layerwise` gives LSUV its one-layer-at-a-time view of the network.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import NDArray

from .layers import BatchNorm, BatchNormCache, Dense, Dropout

if TYPE_CHECKING:
    from ._layerwise import DenseLayers
    from .activations import Activation
    from .losses import OutputLoss

__all__ = ["Backprop", "Watcher"]

Array = NDArray[Any]
Workspace = dict[tuple[Any, ...], Array]


class Watcher(Protocol):
    """Sees each layer's arrays while they exist (they are overwritten afterwards).

    ``dense(l, z)``: the dense output of layer l; ``activation_input(l, x)``: what enters its
    activation (after batch norm); ``activation_output(l, a)``: the activation (before dropout);
    ``delta(l, dz)``: dCost/dz of the dense output on the way back. Hidden layers only for the
    activation calls; the engine applies no output head in ``_forward``.
    """

    def dense(self, l: int, z: Array) -> None: ...

    def activation_input(self, l: int, x: Array) -> None: ...

    def activation_output(self, l: int, a: Array) -> None: ...

    def delta(self, l: int, dz: Array) -> None: ...


class _Tape:
    """The caches of one forward pass, consumed by the backward pass."""

    __slots__ = ("acts", "bn", "inputs", "m", "masks")

    def __init__(self, m: int) -> None:
        self.m = m
        self.inputs: list[Array] = []  # input of dense layer l (index l-1)
        self.acts: list[Array] = []  # activation output of hidden layer l (before dropout)
        self.masks: list[Array | None] = []  # dropout mask of hidden layer l
        self.bn: list[BatchNormCache | None] = []


def _buffer(
    ws: Workspace | None, key: tuple[Any, ...], shape: tuple[int, ...], dtype: Any
) -> Array:
    if ws is None:
        return np.empty(shape, dtype=dtype)
    full = (*key, shape, np.dtype(dtype).char)
    buf = ws.get(full)
    if buf is None:
        buf = ws[full] = np.empty(shape, dtype=dtype)
    return buf


class Backprop:
    """Mixin of :class:`~trainready.nn.MLP`: forward, backward and cost on explicit parameters."""

    _acts: tuple[Activation, ...]
    _out: OutputLoss
    _buffers: dict[str, Array]
    batch_norm: tuple[bool, ...]
    keep_prob: tuple[float, ...]
    layer_dims: list[int]
    l2: float

    @property
    def n_layers(self) -> int:
        """L, the number of dense layers (hidden layers + the output layer)."""
        return len(self.layer_dims) - 1

    def _forward(
        self,
        params: Mapping[str, Array],
        X: Array,
        *,
        train: bool,
        dropout_rng: np.random.Generator | None = None,
        update_running: bool = False,
        ws: Workspace | None = None,
        watch: Watcher | None = None,
    ) -> tuple[Array, _Tape]:
        """Logits (m, n_L) and the tape. ``train`` selects batch statistics for batch norm;
        dropout runs only when ``dropout_rng`` is given; ``watch`` sees every layer."""
        m = X.shape[0]
        dtype = X.dtype
        tape = _Tape(m)
        a = X
        L = self.n_layers
        for l in range(1, L + 1):
            W = params[f"W{l}"]
            z, _ = Dense.forward(
                a, W, params[f"b{l}"], out=_buffer(ws, ("z", l), (m, W.shape[0]), dtype)
            )
            tape.inputs.append(a)
            if watch is not None:
                watch.dense(l, z)
            if l == L:
                return z, tape
            bn_cache = None
            if self.batch_norm[l - 1]:
                z, bn_cache, stats = BatchNorm.forward(
                    z,
                    params[f"gamma{l}"],
                    params[f"beta{l}"],
                    train=train,
                    running_mean=self._buffers[f"running_mean{l}"],
                    running_var=self._buffers[f"running_var{l}"],
                    out=z,
                )
                if update_running and stats is not None:
                    BatchNorm.update_running(
                        self._buffers[f"running_mean{l}"],
                        self._buffers[f"running_var{l}"],
                        stats,
                        m,
                    )
            tape.bn.append(bn_cache)
            if watch is not None:
                watch.activation_input(l, z)
            a = self._acts[l - 1].forward(z, out=z)
            tape.acts.append(a)
            if watch is not None:
                watch.activation_output(l, a)
            p = self.keep_prob[l - 1]
            if dropout_rng is not None and p < 1.0:
                a, mask = Dropout.forward(
                    a, p, dropout_rng, out=_buffer(ws, ("drop", l), a.shape, dtype)
                )
                tape.masks.append(mask)
            else:
                tape.masks.append(None)
        raise AssertionError("unreachable")  # pragma: no cover

    def _l2_term(self, params: Mapping[str, Array], m: int, l2: float | None = None) -> float:
        lam = self.l2 if l2 is None else l2
        if not lam:
            return 0.0
        sq = sum(
            float(np.vdot(params[f"W{l}"], params[f"W{l}"])) for l in range(1, self.n_layers + 1)
        )
        return lam / (2 * m) * sq

    def _backward(
        self,
        params: Mapping[str, Array],
        tape: _Tape,
        dz: Array,
        *,
        ws: Workspace | None = None,
        l2: float | None = None,
        watch: Watcher | None = None,
        weight_grads: bool = True,
    ) -> dict[str, Array]:
        """Gradients of the cost given ``dz`` = d cost / d logits (may be overwritten).

        ``l2`` overrides the network's L2 strength (the gradient check's term split uses 0);
        ``weight_grads=False`` skips the weight gradients (they are left out of the result)."""
        grads: dict[str, Array] = {}
        m = tape.m
        dtype = dz.dtype
        lam = self.l2 if l2 is None else l2
        for l in range(self.n_layers, 0, -1):
            W = params[f"W{l}"]
            if watch is not None:
                watch.delta(l, dz)
            n_in = W.shape[1]
            dx, dW, db = Dense.backward(
                dz,
                tape.inputs[l - 1],
                W,
                need_dx=l > 1,
                dx_out=_buffer(ws, ("dx", l), (m, n_in), dtype) if l > 1 else None,
                dW_out=_buffer(ws, ("dW", l), W.shape, dtype) if weight_grads else None,
                db_out=_buffer(ws, ("db", l), (W.shape[0],), dtype),
                need_dW=weight_grads,
            )
            if weight_grads:
                if lam and m:
                    dW += (lam / m) * W
                grads[f"W{l}"] = dW
            grads[f"b{l}"] = db
            if dx is None:
                break
            k = l - 2  # hidden layer l-1, index l-2
            mask = tape.masks[k]
            if mask is not None:
                Dropout.backward(dx, mask, out=dx)
            dz = self._acts[k].backward(None, tape.acts[k], dx, out=dx)
            bn_cache = tape.bn[k]
            if bn_cache is not None:
                dz, dgamma, dbeta = BatchNorm.backward(
                    dz, bn_cache, params[f"gamma{l - 1}"], out=dz
                )
                grads[f"gamma{l - 1}"] = dgamma
                grads[f"beta{l - 1}"] = dbeta
        return grads

    def _cost_grads(
        self,
        params: Mapping[str, Array],
        X: Array,
        Y: Array,
        *,
        train: bool,
        need_grads: bool,
        dropout_rng: np.random.Generator | None = None,
        update_running: bool = False,
        ws: Workspace | None = None,
        l2: float | None = None,
    ) -> tuple[float, dict[str, Array] | None]:
        z, tape = self._forward(
            params, X, train=train, dropout_rng=dropout_rng, update_running=update_running, ws=ws
        )
        cost, dz = self._out.cost_and_grad(z, Y, out=_buffer(ws, ("dz",), z.shape, z.dtype))
        cost += self._l2_term(params, X.shape[0], l2)
        if not need_grads:
            return cost, None
        return cost, self._backward(params, tape, dz, ws=ws, l2=l2)

    def layerwise(self, X: Any) -> DenseLayers:
        """This network seen one dense layer at a time on the batch ``X`` (for LSUV).

        Works on float64 copies of the parameters; ``commit()`` assigns them to the network
        (new arrays: the arrays it held before are not modified). See
        :class:`trainready.init.LayerwiseModel`.
        """
        from ._layerwise import DenseLayers

        return DenseLayers(self, X)
