"""Initialize a whole dense network: ``initialize`` (a new dict) and ``init_`` (in place).

One routine, :func:`draw_layer`, turns (shape, scheme, activation) into a weight array, the scheme
``"auto"`` chose and the std it drew from; NumPy's :func:`initialize` and :func:`init_` and
``trainready.torch.init_`` all call it, and the two ``init_`` return the same :class:`InitTable`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._results import HtmlFromSummary
from .._rng import RngLike, as_generator
from .._validation import check_choice
from ._draw import _positive, he_normal, lecun_normal, normal, orthogonal, xavier_normal, zeros
from ._gain import ACTIVATIONS, auto_gain, fans

__all__ = ["SCHEMES", "InitRow", "InitTable", "draw_layer", "init_", "initialize"]

FloatArray = NDArray[np.floating[Any]]

#: Schemes accepted by :func:`initialize` and :func:`init_`.
SCHEMES = ("zeros", "random", "he", "lecun", "xavier", "glorot", "orthogonal", "auto")


def draw_layer(
    shape: tuple[int, ...],
    scheme: str,
    activation: str,
    *,
    rng: np.random.Generator,
    slope: float | None = None,
    scale: float = 0.01,
) -> tuple[FloatArray, str, float]:
    """One layer's weights: ``(W, the scheme used, the std drawn from)``.

    ``"auto"`` picks He before rectifiers and LeCun elsewhere (:func:`auto_gain`); ``"orthogonal"``
    scales by the gain ``"auto"`` would use.

    Example:
        >>> W, chosen, std = draw_layer((4, 8), "auto", "relu", rng=np.random.default_rng(0))
        >>> W.shape, chosen, round(std, 4)
        ((4, 8), 'he', 0.5)
    """
    fan_in, fan_out = fans(shape)
    g = auto_gain(activation, slope)
    if scheme == "zeros":
        return zeros(shape), scheme, 0.0
    if scheme == "random":
        return normal(shape, scale, rng=rng), scheme, scale
    if scheme == "he":
        return he_normal(shape, rng=rng), scheme, math.sqrt(2.0 / fan_in)
    if scheme == "lecun":
        return lecun_normal(shape, rng=rng), scheme, 1.0 / math.sqrt(fan_in)
    if scheme in ("xavier", "glorot"):
        return xavier_normal(shape, rng=rng), scheme, math.sqrt(2.0 / (fan_in + fan_out))
    if scheme == "orthogonal":
        std = g / math.sqrt(max(shape[0], math.prod(shape[1:])))
        return orthogonal(shape, gain=g, rng=rng), scheme, std
    std = g / math.sqrt(fan_in)  # auto
    return normal(shape, std, rng=rng), ("he" if g > 1.0 else "lecun"), std


@dataclass(frozen=True, kw_only=True)
class InitRow:
    """What an ``init_`` set on one layer.

    Attributes:
        name: the layer's name (``"W1"``, or a PyTorch module path such as ``"features.0"``).
        type: the layer's kind (``"Dense"``, ``"Linear"``, ``"Conv2d"``).
        shape: the weight's shape, ``(n_out, n_in)`` or ``(out, in / groups, *kernel)``.
        activation: the nonlinearity the scheme was chosen for.
        scheme: ``"he"``, ``"lecun"``, ``"xavier"``, ``"orthogonal"``... (what ``"auto"`` chose).
        std: the standard deviation of the distribution the weights were drawn from.
        fan_in, fan_out: as in :func:`trainready.init.fans`.
        bias: whether a bias was set to zero.
    """

    name: str
    type: str
    shape: tuple[int, ...]
    activation: str
    scheme: str
    std: float
    fan_in: int
    fan_out: int
    bias: bool


@dataclass(frozen=True)
class InitTable(HtmlFromSummary):
    """The rows an ``init_`` returns, one per layer, in layer order (NumPy and PyTorch alike)."""

    rows: tuple[InitRow, ...]

    def __iter__(self) -> Iterator[InitRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> InitRow:
        return self.rows[i]

    @property
    def ok(self) -> bool:
        """True: every layer was initialized."""
        return True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"rows": [{**vars(r), "shape": list(r.shape)} for r in self.rows]}

    def summary(self) -> str:
        """The table as aligned text (also ``str(table)``)."""
        head = ("layer", "type", "shape", "activation", "scheme", "std", "fan_in")
        body = [
            (
                r.name,
                r.type,
                "×".join(map(str, r.shape)),
                r.activation,
                r.scheme,
                f"{r.std:.4g}",
                str(r.fan_in),
            )
            for r in self.rows
        ]
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in (head, *body)
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _layer_dims(layer_dims: Sequence[int]) -> list[int]:
    try:
        dims = list(layer_dims)
    except TypeError:
        raise TypeError(
            f"layer_dims: expected a list of layer sizes such as [2, 10, 5, 1], got "
            f"{type(layer_dims).__name__}"
        ) from None
    if len(dims) < 2 or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0 for d in dims
    ):
        raise ValueError(
            f"layer_dims: expected at least two positive ints (inputs, ..., outputs) such as "
            f"[2, 10, 5, 1], got {layer_dims!r}"
        )
    return [int(d) for d in dims]


def _per_layer_activations(activation: str | Sequence[str], n_layers: int) -> list[str]:
    if isinstance(activation, str):
        names = [activation] * n_layers
    else:
        names = list(activation)
        if len(names) == n_layers - 1:  # hidden layers only: the output layer counts as linear
            names.append("linear")
        if len(names) != n_layers:
            raise ValueError(
                f"activation: expected one name or a sequence of {n_layers} (every layer) or "
                f"{n_layers - 1} (hidden layers) names, got {len(names)}: {activation!r}"
            )
    for name in names:
        if name not in ACTIVATIONS:
            raise ValueError(
                f"activation: unknown activation {name!r}; expected one of {ACTIVATIONS}"
            )
    return names


def initialize(
    layer_dims: Sequence[int],
    scheme: str = "he",
    *,
    rng: RngLike = None,
    scale: float = 0.01,
    activation: str | Sequence[str] = "relu",
) -> dict[str, FloatArray]:
    """Parameters ``W1, b1, ..., WL, bL`` of a dense network, weights by ``scheme``, biases zero.

    ``W[l]`` has shape ``(layer_dims[l], layer_dims[l-1])`` and ``b[l]`` shape ``(layer_dims[l],)``.

    Schemes (``n = layer_dims[l-1]``, the fan-in; ``n' = layer_dims[l]``):

    - ``"zeros"``: every weight 0. Every unit of a layer computes the same function and gets the
      same gradient forever (the symmetry is never broken).
    - ``"random"``: ``N(0, 1) * scale`` (``scale`` defaults to 0.01, the course's value).
    - ``"he"``: ``N(0, 2/n)`` on every layer (He et al. 2015).
    - ``"lecun"``: ``N(0, 1/n)`` (LeCun et al. 1998) -- the course's "Xavier" for tanh.
    - ``"xavier"``, ``"glorot"``: ``N(0, 2/(n + n'))`` (Glorot & Bengio 2010). See the module
      docstring for the naming clash.
    - ``"orthogonal"``: :func:`orthogonal` scaled by the gain ``"auto"`` would use (sqrt(2) before a
      ReLU, 1 before tanh/sigmoid/linear), so a square layer has the same ``n * Var(W)``.
    - ``"auto"``: per layer from its activation (:func:`scheme_for`): He before ReLU/leaky ReLU
      (leaky: ``2/(1+0.01^2)/n``), LeCun before tanh, sigmoid, linear and softmax.

    ``activation`` names what follows each layer (only ``"auto"`` and ``"orthogonal"`` read it):
    one name for every layer, a sequence of ``L`` names, or of ``L - 1`` hidden names (an MLP's
    ``activations``; the output layer then counts as linear).

    Args:
        layer_dims: sizes ``[n0, n1, ..., nL]``, inputs first.
        scheme: one of :data:`SCHEMES`.
        rng: Generator, int seed or None.
        scale: the std of ``"random"``.
        activation: see above.

    Returns:
        A new dict of float64 arrays (:func:`init_` sets a model's parameters in place instead,
        and returns a table).

    Example:
        >>> p = initialize([4, 8, 1], "auto", activation=["tanh"], rng=0)
        >>> sorted(p)
        ['W1', 'W2', 'b1', 'b2']
    """
    dims = _layer_dims(layer_dims)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: unknown scheme {scheme!r}; expected one of {SCHEMES}")
    scale = _positive(scale, "scale")
    acts = _per_layer_activations(activation, len(dims) - 1)
    gen = as_generator(rng)
    params: dict[str, FloatArray] = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = draw_layer(
            (dims[l], dims[l - 1]), scheme, acts[l - 1], rng=gen, scale=scale
        )[0]
        params[f"b{l}"] = zeros((dims[l],))
    return params


def init_(model: Any, scheme: str = "auto", *, rng: RngLike = None) -> InitTable:
    """Initialize a reference network's weights in place for the activation after each layer.

    The NumPy half of ``trainready.torch.init_``: the same schemes (default ``"auto"``: He before
    ReLU/leaky ReLU, LeCun before tanh, sigmoid and the output; :func:`draw_layer`), biases zero,
    batch-norm parameters left as they are, and the same :class:`InitTable` in return.

    Args:
        model: a :class:`trainready.nn.MLP` (any object with ``layer_dims``, ``activations`` and
            an assignable ``params``).
        scheme: one of :data:`SCHEMES`.
        rng: Generator, int seed or None.

    Returns:
        An :class:`InitTable`, one row per dense layer.

    Example:
        >>> import trainready as tr
        >>> net = tr.nn.MLP([8, 16, 1], activation="tanh", rng=0)
        >>> [(r.name, r.scheme) for r in tr.init.init_(net, rng=0)]
        [('W1', 'lecun'), ('W2', 'lecun')]
    """
    check_choice(scheme, "scheme", SCHEMES)
    missing = [a for a in ("layer_dims", "activations", "params") if not hasattr(model, a)]
    if missing:
        raise TypeError(
            f"model: expected a trainready.nn.MLP (layer_dims, activations, params), got "
            f"{type(model).__name__}, which lacks {', '.join(missing)}; for a torch.nn.Module "
            "use trainready.torch.init_"
        )
    dims = [int(d) for d in model.layer_dims]
    hidden = [a if a in ACTIVATIONS else "linear" for a in model.activations]
    acts = [*hidden, "linear"]
    gen = as_generator(rng)
    params = dict(model.params)
    rows = []
    for l in range(1, len(dims)):
        shape = (dims[l], dims[l - 1])
        W, chosen, std = draw_layer(shape, scheme, acts[l - 1], rng=gen)
        old = np.asarray(params[f"W{l}"])
        params[f"W{l}"] = W.astype(old.dtype)
        params[f"b{l}"] = np.zeros_like(np.asarray(params[f"b{l}"]))
        fan_in, fan_out = fans(shape)
        rows.append(
            InitRow(
                name=f"W{l}",
                type="Dense",
                shape=shape,
                activation=acts[l - 1],
                scheme=chosen,
                std=std,
                fan_in=fan_in,
                fan_out=fan_out,
                bias=True,
            )
        )
    model.params = params
    return InitTable(tuple(rows))
