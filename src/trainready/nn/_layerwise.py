"""The reference network seen one dense layer at a time on a batch (LSUV's view of it).

Implements :class:`trainready.init.LayerwiseModel` with the network's own layers
(:mod:`trainready.nn.layers`): batch norm with its running statistics, no dropout. The input of
the layer being tuned is cached, so tuning L layers costs L layer passes, not L^2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from .._stats import robust_std
from .._validation import invalid
from . import _validate as V
from .layers import BatchNorm, Dense

if TYPE_CHECKING:
    from ._engine import Backprop

__all__ = ["DenseLayers"]

Array = NDArray[Any]


class DenseLayers:
    """Layers ``W1 .. WL`` of a network on float64 copies of its parameters.

    Args:
        net: the network (an :class:`trainready.nn.MLP`).
        X: the batch ``(n_samples >= 2, n_inputs)``, finite.
        params: the parameters to start from (copied; default: the network's).
        write_back: whether ``commit()`` assigns the result to the network (False: read it from
            :attr:`params`; the signal doctor tries LSUV on a copy this way).

    Example:
        >>> import numpy as np, trainready as tr
        >>> net = tr.nn.MLP([3, 4, 1], rng=0)
        >>> view = net.layerwise(np.random.default_rng(0).standard_normal((8, 3)))
        >>> list(view.call_order()), view.weight_shape("W1")
        (['W1', 'W2'], (4, 3))
    """

    def __init__(
        self,
        net: Backprop,
        X: Any,
        *,
        params: Mapping[str, Any] | None = None,
        write_back: bool = True,
    ) -> None:
        n_in = net.layer_dims[0]
        self._X = V.check_X(X, n_in, np.dtype(np.float64))
        if self._X.shape[0] < 2:
            raise invalid(
                "X",
                f"a batch of shape (n_samples >= 2, {n_in})",
                f"shape {self._X.shape}",
                "pass a representative batch of a few hundred rows",
            )
        self._net, self._write_back = net, write_back
        start = net._params if params is None else params  # type: ignore[attr-defined]
        self.params: dict[str, Array] = {k: np.array(v, dtype=np.float64) for k, v in start.items()}
        self._names = [f"W{l}" for l in range(1, net.n_layers + 1)]
        self._at = 1  # the layer whose input is cached
        self._input: Array = self._X

    def layer_names(self) -> list[str]:
        return list(self._names)

    def call_order(self) -> list[str]:
        return list(self._names)

    def weight_shape(self, name: str) -> tuple[int, ...]:
        return tuple(int(s) for s in self.params[name].shape)

    def set_weight(self, name: str, W: NDArray[np.float64]) -> None:
        self.params[name][...] = W
        self._invalidate(name)

    def zero_bias(self, name: str) -> None:
        self.params["b" + name[1:]][...] = 0.0
        self._invalidate(name)

    def scale_weight(self, name: str, factor: float) -> None:
        self.params[name] *= factor
        self._invalidate(name)

    def output_std(self, name: str) -> float:
        l = int(name[1:])
        with np.errstate(over="ignore", invalid="ignore"):
            z, _ = Dense.forward(self._input_of(l), self.params[name], self.params[f"b{l}"])
        return robust_std(z)

    def commit(self, ok: bool) -> None:
        """With ``ok``, the network takes the new parameters (in its dtype), unless
        ``write_back=False``; without, nothing changes."""
        if ok and self._write_back:
            self._net.params = self.params  # type: ignore[attr-defined]

    # -- the cached input of the layer being tuned
    def _invalidate(self, name: str) -> None:
        if int(name[1:]) < self._at:
            self._at, self._input = 1, self._X

    def _input_of(self, l: int) -> Array:
        if l < self._at:
            self._at, self._input = 1, self._X
        net = self._net
        with np.errstate(over="ignore", invalid="ignore"):
            while self._at < l:
                k = self._at
                z, _ = Dense.forward(self._input, self.params[f"W{k}"], self.params[f"b{k}"])
                if net.batch_norm[k - 1]:
                    z = BatchNorm.forward(
                        z,
                        self.params[f"gamma{k}"],
                        self.params[f"beta{k}"],
                        train=False,
                        running_mean=net._buffers[f"running_mean{k}"],
                        running_var=net._buffers[f"running_var{k}"],
                        out=z,
                    )[0]
                self._input = net._acts[k - 1].forward(z, out=z)
                self._at += 1
        return self._input
