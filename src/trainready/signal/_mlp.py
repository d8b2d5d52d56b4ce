"""The reference network's recorder: ``nn``'s own engine, watched layer by layer.

:class:`MLPRecorder` implements :class:`~trainready.signal.Recorder` for
:class:`trainready.nn.MLP` (batch norm included) and for any object with ``params``,
``activations`` and ``output`` (converted to an MLP first, :func:`as_mlp`). It runs the
network's ``_forward``/``_backward`` on float64 copies with a watcher that hands every layer's
arrays to :class:`~trainready.signal._stats.LayerStats`; no forward pass is written here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._rng import RngLike, as_generator
from .._stats import fro, moments
from .._validation import invalid, warn
from ..errors import PrecisionWarning
from ..nn import MLP
from ..nn._layerwise import DenseLayers
from ._kinds import Fix
from ._record import FloatArray, SignalRecord
from ._stats import LayerStats, probe_gradient

__all__ = ["MLPRecorder", "Network", "as_mlp", "as_network", "record", "standardize_columns"]


@dataclass(frozen=True)
class Network:
    """A dense network given by its parts: parameters, hidden activations, output.

    Attributes:
        params: ``W1, b1, ..., WL, bL`` as float64 arrays (never the caller's arrays).
        activations: ``L - 1`` hidden activation names (or Activation objects).
        output: ``"sigmoid"``, ``"softmax"`` or ``"linear"``.
    """

    params: Mapping[str, FloatArray]
    activations: tuple[Any, ...]
    output: str

    @property
    def depth(self) -> int:
        return len(self.params) // 2

    @property
    def layer_dims(self) -> list[int]:
        dims = [int(self.params["W1"].shape[1])]
        return dims + [int(self.params[f"W{l}"].shape[0]) for l in range(1, self.depth + 1)]

    def activation_names(self) -> list[str]:
        """Names of the activation after each layer (the output's for the last)."""
        names = [a if isinstance(a, str) else str(getattr(a, "name", a)) for a in self.activations]
        return [*names, self.output]

    def with_params(self, params: Mapping[str, FloatArray]) -> Network:
        return Network(dict(params), self.activations, self.output)


def _real(arr: NDArray[Any], name: str) -> None:
    if arr.dtype.kind not in "fiub":
        raise invalid(
            f"model.params[{name!r}]",
            "a real array",
            f"dtype {arr.dtype}",
            "the signal statistics need real weights (complex parameters lose their "
            "imaginary part); pass the real network",
            kind=TypeError,
        )


def as_network(model: Any) -> Network:
    """Read ``params``, ``activations`` and ``output`` from ``model`` (duck typing) and validate.

    Raises:
        TypeError: the model lacks one of the attributes, or has complex parameters.
        ValueError: the parameters are not ``W1, b1, ..., WL, bL`` with chained shapes.
    """
    if isinstance(model, Network):
        return model
    missing = [a for a in ("params", "activations", "output") if not hasattr(model, a)]
    if missing:
        raise TypeError(
            f"model: expected an object with attributes params, activations and output (such as "
            f"trainready.nn.MLP); {type(model).__name__} lacks {', '.join(missing)}"
        )
    raw = model.params
    if not isinstance(raw, Mapping):
        raise TypeError(f"model.params: expected a dict W1, b1, ..., got {type(raw).__name__}")
    n_layers = sum(1 for k in raw if isinstance(k, str) and k[:1] == "W" and k[1:].isdigit())
    expected = {f"{p}{l}" for l in range(1, n_layers + 1) for p in ("W", "b")}
    if n_layers == 0 or set(raw) != expected:
        raise ValueError(
            f"model.params: expected exactly W1, b1, ..., W{n_layers}, b{n_layers} (dense "
            f"layers), got {sorted(raw)}; for batch norm pass a trainready.nn.MLP"
        )
    params: dict[str, FloatArray] = {}
    promoted = False
    for l in range(1, n_layers + 1):
        W, b = np.asarray(raw[f"W{l}"]), np.asarray(raw[f"b{l}"])
        _real(W, f"W{l}")
        _real(b, f"b{l}")
        if W.ndim != 2 or b.shape != (W.shape[0],):
            raise ValueError(
                f"model.params: W{l} must be (n_out, n_in) and b{l} (n_out,), got "
                f"{W.shape} and {b.shape}"
            )
        if l > 1 and W.shape[1] != params[f"W{l - 1}"].shape[0]:
            raise ValueError(
                f"model.params: W{l} has {W.shape[1]} inputs but layer {l - 1} has "
                f"{params[f'W{l - 1}'].shape[0]} units"
            )
        promoted |= W.dtype != np.float64 or b.dtype != np.float64
        params[f"W{l}"] = W.astype(np.float64, copy=True)
        params[f"b{l}"] = b.astype(np.float64, copy=True)
    if promoted:
        _warn_promoted()
    acts = model.activations
    acts = (acts,) * (n_layers - 1) if isinstance(acts, str) else tuple(acts)
    if len(acts) != n_layers - 1:
        raise ValueError(
            f"model.activations: expected {n_layers - 1} hidden activations for {n_layers} "
            f"layers, got {len(acts)}: {acts!r}"
        )
    out = model.output
    out_name = out if isinstance(out, str) else str(getattr(out, "name", out))
    return Network(params, acts, out_name)


def _warn_promoted() -> None:
    warn(
        "model.params: promoted to float64 for the signal statistics (the model is unchanged)",
        PrecisionWarning,
    )


def as_mlp(model: Any) -> tuple[MLP, dict[str, FloatArray]]:
    """The network to run and float64 copies of its parameters (the model is not changed)."""
    if isinstance(model, MLP):
        raw = model.params
        for k, v in raw.items():
            _real(np.asarray(v), k)
        if model.dtype != np.float64:
            _warn_promoted()
        # the engine only reads them: float64 arrays are used as they are (no 52M-value copy)
        return model, {k: np.asarray(v, dtype=np.float64) for k, v in raw.items()}
    net = as_network(model)
    mlp = MLP(net.layer_dims, activation=list(net.activations), output=net.output, init=net.params)
    return mlp, {k: np.array(v, dtype=np.float64) for k, v in net.params.items()}


def as_batch(X: Any, n_in: int) -> FloatArray:
    """``X`` as a float64 ``(n_samples >= 2, n_in)`` matrix (a copy only when converting)."""
    from .._arrays import to_numpy

    arr = to_numpy(X)
    if arr.ndim != 2 or arr.shape[1] != n_in or arr.shape[0] < 2:
        raise invalid(
            "X",
            f"a batch of shape (n_samples >= 2, {n_in}) (rows are examples)",
            f"shape {arr.shape}",
            "pass X with one row per example",
        )
    if arr.dtype.kind not in "fiub":
        raise invalid("X", "real numbers", f"dtype {arr.dtype}", kind=TypeError)
    if arr.dtype != np.float64:
        if arr.dtype.kind == "f":
            warn(f"X: {arr.dtype} promoted to float64 for the signal statistics", PrecisionWarning)
        arr = arr.astype(np.float64)
    return arr


def standardize_columns(X: FloatArray) -> FloatArray:
    """Each column minus its mean, over its std (a constant column gets std 1)."""
    mean, std = X.mean(axis=0), X.std(axis=0)
    std[~(std > 0)] = 1.0
    return np.asarray((X - mean) / std, dtype=np.float64)


class _Drawn(Mapping[str, FloatArray]):
    """Parameters whose weights are still being drawn: reading one waits for its draw, so the
    forward pass of layer l overlaps the draws of the layers after it."""

    def __init__(self, ready: dict[str, FloatArray], pending: dict[str, Future[FloatArray]]):
        self.ready, self.pending = ready, pending

    def __getitem__(self, key: str) -> FloatArray:
        if key in self.pending:
            self.ready[key] = self.pending.pop(key).result()
        return self.ready[key]

    def __iter__(self) -> Iterator[str]:
        return iter([*self.ready, *self.pending])

    def __len__(self) -> int:
        return len(self.ready) + len(self.pending)


class _Watch:
    """nn's Watcher: hands every layer's arrays to its LayerStats (created as layers run)."""

    def __init__(self, net: MLP, P: Mapping[str, FloatArray]) -> None:
        self.L, self.P = net.n_layers, P
        self.names = [*net.activations, net.output]
        self.stats: list[LayerStats] = []

    def dense(self, l: int, z: NDArray[Any]) -> None:
        P = self.P
        self.stats.append(
            LayerStats(index=l, name=f"layer {l}", W=P[f"W{l}"], b=P[f"b{l}"], hidden=l < self.L)
        )
        self.stats[l - 1].dense(z)

    def activation_input(self, l: int, x: NDArray[Any]) -> None:
        self.stats[l - 1].activation_input(x, self.names[l - 1])

    def activation_output(self, l: int, a: NDArray[Any]) -> None:
        self.stats[l - 1].activation_output(a, self.names[l - 1])

    def delta(self, l: int, dz: NDArray[Any]) -> None:
        self.stats[l - 1].delta(dz)


class MLPRecorder:
    """:class:`~trainready.signal.Recorder` of a reference network on a batch.

    Args:
        net: the network (its configuration; its parameters are not read).
        P: float64 parameters to run with.
        X: float64 batch ``(n_samples, n_inputs)``. y: targets or None (probe gradient).
    """

    feature_word = "feature"

    def __init__(self, net: MLP, P: Mapping[str, FloatArray], X: FloatArray, y: Any) -> None:
        self.net, self.P, self.X, self.y = net, P, X, y

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    def record(self, rng: RngLike, *, weight_grads: bool = True) -> SignalRecord:
        gen = as_generator(rng)
        net, X = self.net, self.X
        watch = _Watch(net, self.P)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            z, tape = net._forward(self.P, X, train=True, watch=watch)
            last = watch.stats[-1]
            last.activation_input(z, net.output)
            last.activation_output(net._out.activate(z), net.output)
            if self.y is None:
                dz, source = probe_gradient(z.shape, gen), "probe"
            else:
                Y = net._out.prepare_targets(
                    self.y, n_out=z.shape[1], n_samples=X.shape[0], dtype=np.float64
                )
                dz, source = net._out.cost_and_grad(z, Y)[1], "loss"
            grads = net._backward(self.P, tape, dz, l2=0.0, watch=watch, weight_grads=weight_grads)
            layers = tuple(
                st.finish(
                    weight_grad_norm=fro(grads[f"W{st.index}"]) if weight_grads else None,
                    bias_grad_norm=fro(grads[f"b{st.index}"]),
                )
                for st in watch.stats
            )
        _, x_std, x_rms = moments(X)
        return SignalRecord(
            layers=layers,
            n_samples=int(X.shape[0]),
            input_std=x_std,
            input_rms=x_rms,
            gradient_source=source,
        )

    def head(self, k: int) -> MLPRecorder:
        y = None if self.y is None else np.asarray(self.y)[:k]
        return MLPRecorder(self.net, self.P, self.X[:k], y)

    def features(self) -> FloatArray:
        return self.X

    def _auto_name(self, net: MLP) -> str:
        hidden = set(net.activations)
        if hidden and hidden <= {"relu", "leaky_relu"}:
            return "he_normal"
        if hidden and hidden <= {"tanh", "sigmoid", "linear"}:
            return "lecun_normal"
        return "the 'auto' scheme (He before ReLU, LeCun elsewhere)"

    def _reinit(self, net: MLP, rng: RngLike) -> Mapping[str, FloatArray]:
        """``initialize(scheme="auto")``'s weights, each layer from its own child stream of
        ``rng``, drawn in threads (NumPy releases the GIL while it draws) while the forward pass
        already runs: the 52M normal draws of a 50 x 1024 network are most of a verified
        diagnosis otherwise."""
        from ..init import draw_layer

        dims, acts = net.layer_dims, [*net.activations, "linear"]
        gens = as_generator(rng).spawn(len(dims) - 1)

        def draw(l: int) -> FloatArray:
            W = draw_layer((dims[l], dims[l - 1]), "auto", acts[l - 1], rng=gens[l - 1])[0]
            return np.asarray(W, dtype=np.float64)

        pool = ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1))
        pending = {f"W{l}": pool.submit(draw, l) for l in range(1, len(dims))}
        pool.shutdown(wait=False)  # the threads finish the queued draws, then exit
        P = {k: v for k, v in self.P.items() if k not in pending}
        for l in range(1, len(dims)):
            P[f"b{l}"] = np.zeros(dims[l])
        for k in P:
            if k.startswith(("gamma", "beta")):
                P[k] = np.full_like(P[k], 1.0 if k.startswith("gamma") else 0.0)
        return _Drawn(P, pending)

    def apply(self, fix: Fix, rng: RngLike) -> tuple[str, MLPRecorder]:
        net, X = self.net, self.X
        if fix is Fix.STANDARDIZE:
            desc = (
                "standardize the inputs with the training mean and std "
                "(trainready.StandardScaler, fitted on the training set only)"
            )
            return desc, MLPRecorder(net, self.P, standardize_columns(X), self.y)
        if fix is Fix.REINIT:
            desc = f"re-initialize with {self._auto_name(net)} (zero biases)"
            return desc, MLPRecorder(net, self._reinit(net, rng), X, self.y)
        if fix is Fix.LSUV:
            view = DenseLayers(net, X, params=self.P, write_back=False)
            from ..init import run_lsuv

            run_lsuv(view, rng=rng, orthonormal=True)
            desc = "run trainready.init.lsuv_(model, X) (orthonormal, then unit variance per layer)"
            return desc, MLPRecorder(net, view.params, X, self.y)
        if fix is Fix.LEAKY_RELU:
            acts = ["leaky_relu" if a == "relu" else a for a in net.activations]
            leaky = MLP(
                net.layer_dims,
                activation=acts,
                output=net.output,
                init="zeros",
                batch_norm=net.batch_norm,
            )
            desc = (
                "replace relu by leaky_relu (negative slope 0.01) and re-initialize with he_normal"
            )
            return desc, MLPRecorder(leaky, self._reinit(leaky, rng), X, self.y)
        raise KeyError(fix)  # pragma: no cover - every Fix is handled above


def record(model: Any, X: Any, y: Any = None, *, rng: RngLike = 0) -> SignalRecord:
    """Push the batch ``X`` through ``model`` and back; per-layer statistics, no judgement.

    Runs the reference network's own engine (:class:`trainready.nn.MLP`, batch norm with batch
    statistics; any object with ``params``, ``activations`` and ``output`` is converted to one)
    in float64 on copies. With ``y`` the backward pass starts from the model's loss (dropout and
    L2 are not applied); without it, from a seeded random gradient of unit variance at the
    output logits, so that gradient norms per layer are meaningful before any label exists. The
    model is not modified.

    Args:
        model: the network (see above).
        X: a batch ``(n_samples, n_features)``, at least 2 rows.
        y: targets in the form ``model.loss`` accepts, or None.
        rng: seed of the probe gradient.

    Returns:
        A :class:`SignalRecord`.

    Example:
        >>> import numpy as np, trainready as tr
        >>> net = tr.nn.MLP([8, 64, 64, 1], activation="relu", output="sigmoid", rng=0)
        >>> rec = tr.signal.record(net, np.random.default_rng(0).standard_normal((100, 8)))
        >>> rec.depth, rec.layers[0].fan_out
        (3, 64)
    """
    return recorder_of(model, X, y).record(rng)


def recorder_of(model: Any, X: Any, y: Any = None) -> MLPRecorder:
    """The :class:`MLPRecorder` of ``model`` on ``X`` (validated)."""
    net, P = as_mlp(model)
    return MLPRecorder(net, P, as_batch(X, net.layer_dims[0]), y)
