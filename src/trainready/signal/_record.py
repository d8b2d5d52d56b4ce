"""Record per-layer statistics of the forward and backward signal (no judging here).

A :class:`LayerRecord` holds what one dense layer did to one batch; a :class:`SignalRecord` holds
all of them. Anything that can fill these records -- the NumPy trace below, or hooks on a PyTorch
module -- can be judged by :func:`trainready.signal.judge` with the same findings logic.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import PrecisionWarning
from ..init import RngLike, as_generator

__all__ = ["LayerRecord", "Network", "SignalRecord", "as_network", "record", "trace"]

FloatArray = NDArray[np.float64]

#: |z| beyond which tanh and sigmoid count as saturated (tanh'(5) = 1.8e-4, sigmoid'(5) = 6.6e-3).
SATURATION_Z = 5.0
#: How many activation values each record keeps for histograms.
SAMPLE_SIZE = 4096
_SATURATING = ("tanh", "sigmoid")
_BUILTIN = ("relu", "leaky_relu", "tanh", "sigmoid", "linear")


@dataclass(frozen=True)
class LayerRecord:
    """What one dense layer did to one batch. Layer ``index`` 1 is the first hidden layer.

    Forward, for ``z = a_prev @ W.T + b`` and ``a = activation(z)``; ``std`` and ``mean`` are over
    every entry of the ``(n_samples, n_out)`` array; ``rms = sqrt(mean(x^2))``.
    Backward, for ``delta = dLoss/dz`` of shape ``(n_samples, n_out)``.

    Attributes:
        index: 1-based layer number (``W{index}``).
        name: a display name (``"layer 3"``, or a PyTorch module path).
        activation: the activation after the layer (the output activation for the last layer).
        fan_in, fan_out: ``n_in`` and ``n_out``.
        weight_rms: ``sqrt(mean(W^2))``.
        weight_gain: ``fan_in * mean(W^2)``, the ``n * Var(W)`` of the initialization formulas
            (He: 2, LeCun: 1).
        z_mean, z_std, z_rms: of the pre-activation.
        a_mean, a_std, a_rms: of the activation.
        dead_fraction: fraction of units whose pre-activation is <= 0 for every example (ReLU
            only; such a unit passes no gradient); 0 for other activations.
        saturated_fraction: fraction of entries with ``|z| > 5`` (tanh and sigmoid only).
        duplicate_fraction: fraction of units that are an exact copy of another unit of the same
            layer (same incoming weights and bias, same outgoing weights): such units get the same
            gradient forever (hidden layers only).
        delta_rms: rms of ``dLoss/dz``.
        delta_norm: Frobenius norm of ``dLoss/dz``; with fan-in initializations it stays
            constant across layers in a healthy network, whatever the widths.
        weight_norm: ``||W||_F``.
        weight_grad_norm: ``||dLoss/dW||_F``.
        bias_grad_norm: ``||dLoss/db||_2``.
        grad_weight_ratio: ``weight_grad_norm / weight_norm`` (the relative step one learning
            rate produces; inf for zero weights with a nonzero gradient).
        nonfinite: whether any z, a or gradient entry of the layer is NaN or inf.
        sample: up to 4096 activation values (evenly strided), for histograms.
    """

    index: int
    name: str
    activation: str
    fan_in: int
    fan_out: int
    weight_rms: float
    weight_gain: float
    z_mean: float
    z_std: float
    z_rms: float
    a_mean: float
    a_std: float
    a_rms: float
    dead_fraction: float
    saturated_fraction: float
    duplicate_fraction: float
    delta_rms: float
    delta_norm: float
    weight_norm: float
    weight_grad_norm: float
    bias_grad_norm: float
    grad_weight_ratio: float
    nonfinite: bool
    sample: FloatArray = field(compare=False, repr=False)

    @classmethod
    def from_norms(
        cls,
        *,
        index: int,
        name: str,
        activation: str,
        fan_in: int,
        fan_out: int,
        n_weights: int,
        stats: Mapping[str, Any],
        duplicate_fraction: float,
        weight_norm: float,
        weight_grad_norm: float,
        bias_grad_norm: float,
        delta_norm: float,
        delta_size: int,
    ) -> LayerRecord:
        """Build a record from a layer's forward ``stats`` and norms (any framework's).

        ``stats`` holds z_mean, z_std, z_rms, a_mean, a_std, a_rms, dead_fraction,
        saturated_fraction, nonfinite and sample; the ratios are derived here.
        """
        wn, gW = weight_norm, weight_grad_norm
        return cls(
            index=index,
            name=name,
            activation=activation,
            fan_in=fan_in,
            fan_out=fan_out,
            weight_rms=wn / math.sqrt(n_weights) if n_weights else 0.0,
            weight_gain=wn * wn / fan_out if n_weights else 0.0,
            z_mean=stats["z_mean"],
            z_std=stats["z_std"],
            z_rms=stats["z_rms"],
            a_mean=stats["a_mean"],
            a_std=stats["a_std"],
            a_rms=stats["a_rms"],
            dead_fraction=stats["dead_fraction"],
            saturated_fraction=stats["saturated_fraction"],
            duplicate_fraction=duplicate_fraction,
            delta_rms=delta_norm / math.sqrt(delta_size) if delta_size else 0.0,
            delta_norm=delta_norm,
            weight_norm=wn,
            weight_grad_norm=gW,
            bias_grad_norm=bias_grad_norm,
            grad_weight_ratio=gW / wn if wn > 0 else (math.inf if gW > 0 else 0.0),
            nonfinite=stats["nonfinite"] or not (math.isfinite(gW) and math.isfinite(delta_norm)),
            sample=stats["sample"],
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (without the sample)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "sample"}


@dataclass(frozen=True)
class SignalRecord:
    """Per-layer statistics of one batch through a whole network.

    Attributes:
        layers: one :class:`LayerRecord` per dense layer, layer 1 first.
        n_samples: rows of the batch.
        input_std: std of the input batch over every entry.
        input_rms: rms of the input batch.
        gradient_source: ``"loss"`` (the model's loss against ``y``) or ``"probe"`` (a seeded
            unit-variance random gradient at the output logits, used when ``y`` is None).
    """

    layers: tuple[LayerRecord, ...]
    n_samples: int
    input_std: float
    input_rms: float
    gradient_source: str

    @property
    def depth(self) -> int:
        """Number of dense layers."""
        return len(self.layers)

    def column(self, name: str) -> FloatArray:
        """One statistic across layers, e.g. ``rec.column("z_std")``, shape ``(depth,)``."""
        return np.array([float(getattr(r, name)) for r in self.layers])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "layers": [r.to_dict() for r in self.layers],
            "n_samples": self.n_samples,
            "input_std": self.input_std,
            "input_rms": self.input_rms,
            "gradient_source": self.gradient_source,
        }


@dataclass(frozen=True)
class Network:
    """A dense network as the tracer sees it: parameters, hidden activations, output.

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


def as_network(model: Any) -> Network:
    """Read ``params``, ``activations`` and ``output`` from ``model`` (duck typing) and validate.

    Raises:
        TypeError: the model lacks one of the attributes.
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
            f"layers), got {sorted(raw)}; the signal tracer supports dense layers without "
            "batch norm"
        )
    params: dict[str, FloatArray] = {}
    promoted = False
    for l in range(1, n_layers + 1):
        W = np.asarray(raw[f"W{l}"])
        b = np.asarray(raw[f"b{l}"])
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
        warnings.warn(
            "model.params: promoted to float64 for the signal statistics (the model is unchanged)",
            PrecisionWarning,
            stacklevel=3,
        )
    acts = model.activations
    acts = (acts,) * (n_layers - 1) if isinstance(acts, str) else tuple(acts)
    if len(acts) != n_layers - 1:
        raise ValueError(
            f"model.activations: expected {n_layers - 1} hidden activations for {n_layers} "
            f"layers, got {len(acts)}: {acts!r}"
        )
    from ..nn.activations import get_activation
    from ..nn.losses import get_output

    for a in acts:
        get_activation(a)  # raises a clear error for unknown names
    out = model.output
    get_output(out)
    out_name = out if isinstance(out, str) else str(getattr(out, "name", out))
    return Network(params, acts, out_name)


def _as_batch(X: Any, n_in: int) -> FloatArray:
    arr = np.asarray(X)
    if arr.ndim != 2 or arr.shape[1] != n_in or arr.shape[0] < 2:
        raise ValueError(
            f"X: expected a batch of shape (n_samples >= 2, {n_in}) (rows are examples), got "
            f"shape {arr.shape}; pass X with one row per example"
        )
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"X: expected real numbers, got dtype {arr.dtype}")
    if arr.dtype != np.float64:
        if arr.dtype.kind == "f":
            warnings.warn(
                f"X: {arr.dtype} promoted to float64 for the signal statistics",
                PrecisionWarning,
                stacklevel=3,
            )
        arr = arr.astype(np.float64)
    return arr


def _duplicates(W: FloatArray, b: FloatArray, W_next: FloatArray | None, gen: Any) -> float:
    """Fraction of units (rows of W) that duplicate another: same row, bias and outgoing column.

    Rows are hashed by a random projection; rows whose hashes collide are then compared exactly
    with the first row of their group, so the cost is O(n_in n_out) however many units match.
    """
    n = W.shape[0]
    if n < 2 or W_next is None:
        return 0.0
    key = W @ gen.standard_normal(W.shape[1]) + b * 0.7071067811865476
    key = key + W_next.T @ gen.standard_normal(W_next.shape[0])
    order = np.argsort(key, kind="stable")
    k = key[order]
    same = np.flatnonzero(k[1:] == k[:-1]) + 1  # positions equal to their predecessor
    if same.size == 0:
        return 0.0
    start = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])  # first position of each group
    rep = order[start[np.searchsorted(start, same, side="right") - 1]]
    cand = order[same]
    equal = (
        np.all(W[cand] == W[rep], axis=1)
        & (b[cand] == b[rep])
        & np.all(W_next[:, cand] == W_next[:, rep], axis=0)
    )
    return float(np.count_nonzero(equal) / n)


def _sample(a: FloatArray) -> FloatArray:
    flat = a.reshape(-1)
    step = max(1, math.ceil(flat.size / SAMPLE_SIZE))
    return flat[::step].copy()


def _fro(x: FloatArray) -> float:
    """Frobenius norm (einsum: no BLAS thread start-up for a reduction)."""
    flat = x.reshape(-1)
    return math.sqrt(float(np.einsum("i,i->", flat, flat)))


def _moments(x: FloatArray) -> tuple[float, float, float]:
    mean = float(x.mean())
    ms = float(np.einsum("ij,ij->", x, x)) / x.size
    var = max(ms - mean * mean, 0.0)
    return mean, math.sqrt(var), math.sqrt(ms)


def trace(net: Network, X: FloatArray, y: Any = None, *, rng: RngLike = 0) -> SignalRecord:
    """Run ``X`` forward and a gradient backward through ``net``; record every layer.

    ``X`` must already be float64 ``(n_samples, n_in)``. See :func:`record` for the public entry.
    """
    from ..nn.activations import get_activation
    from ..nn.losses import get_output

    gen = as_generator(rng)
    L = net.depth
    P = net.params
    m = X.shape[0]
    acts = [get_activation(a) for a in net.activations]
    names = net.activation_names()
    outs: list[FloatArray] = [X]  # a_0, a_1, ..., a_{L-1} (inputs of each layer)
    zs: list[FloatArray | None] = []  # kept only for custom activations that need z
    fwd: list[dict[str, Any]] = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        a = X
        for l in range(1, L + 1):
            W, b = P[f"W{l}"], P[f"b{l}"]
            z = a @ W.T
            z += b
            st: dict[str, Any] = {}
            st["z_mean"], st["z_std"], st["z_rms"] = _moments(z)
            name = names[l - 1]
            st["saturated_fraction"] = (
                float(np.count_nonzero(np.abs(z) > SATURATION_Z)) / z.size
                if name in _SATURATING
                else 0.0
            )
            if l < L:
                act = acts[l - 1]
                keep_z = act.name not in _BUILTIN
                zs.append(z.copy() if keep_z else None)
                a = act.forward(z, out=None if keep_z else z)
                st["dead_fraction"] = (
                    float(np.count_nonzero(~(a > 0).any(axis=0))) / a.shape[1]
                    if name == "relu"
                    else 0.0
                )
                outs.append(a)
            else:
                a = get_output(net.output).activate(z)
                st["dead_fraction"] = 0.0
            st["a_mean"], st["a_std"], st["a_rms"] = _moments(a)
            st["sample"] = _sample(a)
            st["nonfinite"] = not (math.isfinite(st["z_rms"]) and math.isfinite(st["a_rms"]))
            fwd.append(st)
        zL = z
        # ---- backward
        if y is None:
            # the probe loss is mean_i <G_i, z_i> with G ~ N(0, 1): dLoss/dz = G / m
            delta = gen.standard_normal(zL.shape)
            delta /= m
            source = "probe"
        else:
            head = get_output(net.output)
            yp = head.prepare_targets(y, n_out=zL.shape[1], n_samples=m, dtype=np.float64)
            delta = head.cost_and_grad(zL, yp)[1]
            source = "loss"
        layers: list[LayerRecord] = [None] * L  # type: ignore[list-item]
        for l in range(L, 0, -1):
            W, b = P[f"W{l}"], P[f"b{l}"]
            a_prev = outs[l - 1]
            dW = delta.T @ a_prev
            gW = _fro(dW)
            gb = _fro(delta.sum(axis=0))
            d_norm = _fro(delta)
            W_next = P[f"W{l + 1}"] if l < L else None
            layers[l - 1] = LayerRecord.from_norms(
                index=l,
                name=f"layer {l}",
                activation=names[l - 1],
                fan_in=int(W.shape[1]),
                fan_out=int(W.shape[0]),
                n_weights=int(W.size),
                stats=fwd[l - 1],
                duplicate_fraction=_duplicates(W, b, W_next, gen),
                weight_norm=_fro(W),
                weight_grad_norm=gW,
                bias_grad_norm=gb,
                delta_norm=d_norm,
                delta_size=int(delta.size),
            )
            if l > 1:
                da = delta @ W
                delta = acts[l - 2].backward(zs[l - 2], outs[l - 1], da, out=da)
    _, x_std, x_rms = _moments(X)
    return SignalRecord(tuple(layers), m, x_std, x_rms, source)


def record(model: Any, X: Any, y: Any = None, *, rng: RngLike = 0) -> SignalRecord:
    """Push the batch ``X`` through ``model`` and back; per-layer statistics, no judgement.

    Runs its own float64 forward and backward from ``model.params``, ``model.activations`` and
    ``model.output`` (any object with those attributes; :class:`trainready.nn.MLP` has them), with
    the activation maths of :mod:`trainready.nn.activations`. With ``y`` the backward pass starts
    from the model's loss (dropout and L2 are not applied); without it, from a seeded random
    gradient of unit variance at the output logits, so that gradient norms per layer are
    meaningful before any label exists. The model is not modified.

    Args:
        model: the network (duck-typed, see above).
        X: a batch ``(n_samples, n_features)``, at least 2 rows.
        y: targets in the form ``model.loss`` accepts, or None.
        rng: seed of the probe gradient and of the duplicate-unit check.

    Returns:
        A :class:`SignalRecord`.

    Example:
        >>> import numpy as np, trainready as tr
        >>> net = tr.nn.MLP([8, 64, 64, 1], activation="relu", output="sigmoid", rng=0)
        >>> rec = tr.signal.record(net, np.random.default_rng(0).standard_normal((100, 8)))
        >>> rec.depth, rec.layers[0].fan_out
        (3, 64)
    """
    net = as_network(model)
    return trace(net, _as_batch(X, net.layer_dims[0]), y, rng=rng)


def _check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


def _layers_of(seq: Sequence[LayerRecord]) -> tuple[LayerRecord, ...]:
    return tuple(seq)
