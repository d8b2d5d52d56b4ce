"""The multilayer perceptron: a deep dense network, clear enough to read and fast enough to use.

Layer ``l`` (1..L) computes ``z = a_prev @ W{l}.T + b{l}``; hidden layers then apply (optional)
batch norm with ``gamma{l}, beta{l}``, the activation, and (optional) inverted dropout; the last
layer feeds the output/loss pair (:mod:`trainready.nn.losses`). The cost is the mean loss plus
``l2 / (2 m) * sum_l ||W{l}||^2`` (biases and batch-norm parameters are not regularized).

The network computes in its ``dtype`` (float64 by default; float32 data and a float32 network
compute in float32 throughout). Training reuses preallocated buffers between steps; everything
returned to the caller is a new array.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._arrays import to_numpy
from . import _validate as V
from ._engine import Backprop, Workspace
from .activations import ACTIVATIONS, Activation, get_activation
from .history import EpochInfo, History
from .losses import OutputLoss, get_output
from .optimizers import Optimizer

__all__ = ["MLP"]

Array = NDArray[Any]


class MLP(Backprop):
    """A dense network with any depth, per-layer activations, L2, dropout and batch norm.

    Args:
        layer_dims: ``[n_inputs, n_1, ..., n_outputs]``.
        activation: hidden activation(s): one name for all hidden layers or one per hidden layer
            (``"relu"``, ``"leaky_relu"``, ``"tanh"``, ``"sigmoid"``, ``"linear"``).
        output: ``"sigmoid"`` (binary cross-entropy), ``"softmax"`` (cross-entropy) or
            ``"linear"`` (mean squared error); see :mod:`trainready.nn.losses` for the targets.
        init: a scheme of :func:`trainready.init.initialize` (``"he"``, ``"lecun"``,
            ``"xavier"``, ``"orthogonal"``, ``"auto"``, ``"random"``, ``"zeros"``) or a mapping of
            parameters (copied, validated like :attr:`params`).
        l2: the L2 strength lambda in ``lambda / (2 m) * sum ||W||^2``.
        keep_prob: probability of keeping a hidden unit under inverted dropout; one value or one
            per hidden layer; 1 disables dropout. Dropout is on only while training.
        batch_norm: batch norm after every hidden dense layer (True) or per hidden layer.
        dtype: float64 (default) or float32; parameters and computation use it.
        init_scale: the std of ``init="random"``.
        rng: Generator, int seed or None; used for initialization, and by :meth:`fit` for dropout
            and shuffling unless ``fit`` gets its own ``rng``.

    Labels (``y``): shape ``(m,)`` or ``(m, 1)`` with 0/1 for ``"sigmoid"`` and reals for
    ``"linear"`` (``(m, K)`` for K outputs); integer classes ``(m,)`` or one-hot ``(m, K)`` for
    ``"softmax"``.

    Example:
        >>> import trainready as tr
        >>> data = tr.datasets.circles(rng=0)
        >>> net = tr.nn.MLP([2, 10, 5, 1], activation="relu", output="sigmoid", init="he", rng=0)
        >>> hist = net.fit(data.X_train, data.y_train, lr=0.05, epochs=2000)
        >>> net.accuracy(data.X_test, data.y_test) > 0.9
        True
    """

    def __init__(
        self,
        layer_dims: Sequence[int],
        activation: str | Activation | Sequence[str | Activation] = "relu",
        output: str | OutputLoss = "sigmoid",
        init: str | Mapping[str, Any] = "he",
        *,
        l2: float = 0.0,
        keep_prob: float | Sequence[float] = 1.0,
        batch_norm: bool | Sequence[bool] = False,
        dtype: Any = np.float64,
        init_scale: float = 0.01,
        rng: Any = None,
    ) -> None:
        self.layer_dims: list[int] = V.check_layer_dims(layer_dims)
        n_hidden = len(self.layer_dims) - 2
        self._acts: tuple[Activation, ...] = tuple(
            get_activation(a) for a in V.per_hidden(activation, n_hidden, "activation")
        )
        self._out: OutputLoss = get_output(output)
        if self._out.name == "softmax" and self.layer_dims[-1] < 2:
            raise ValueError(
                "output='softmax' needs at least 2 output units (classes); got layer_dims[-1] = "
                f"{self.layer_dims[-1]}. Use output='sigmoid' for one binary output."
            )
        self.l2: float = V.check_l2(l2)
        self.keep_prob: tuple[float, ...] = V.check_keep_prob(keep_prob, n_hidden)
        self.batch_norm: tuple[bool, ...] = V.check_flags(batch_norm, n_hidden, "batch_norm")
        self.dtype: np.dtype[Any] = V.check_dtype(dtype)
        init_scale = V.check_real(
            init_scale,
            "init_scale",
            positive=True,
            fix="It is the std of init='random', e.g. 0.01.",
        )
        self._rng = V.as_generator(rng)
        self._ws: Workspace = {}
        self._buffers: dict[str, Array] = {}
        for l, on in enumerate(self.batch_norm, start=1):
            if on:
                n = self.layer_dims[l]
                self._buffers[f"running_mean{l}"] = np.zeros(n, self.dtype)
                self._buffers[f"running_var{l}"] = np.ones(n, self.dtype)
        self.init = init if isinstance(init, str) else "given"
        if isinstance(init, str):
            from .. import init as _init  # the initializers live in trainready.init

            p: dict[str, Any] = dict(
                _init.initialize(
                    self.layer_dims,
                    init,
                    rng=self._rng,
                    scale=init_scale,
                    # a custom activation with an unknown name is initialized as linear
                    activation=[a.name if a.name in ACTIVATIONS else "linear" for a in self._acts],
                )
            )
            for l, on in enumerate(self.batch_norm, start=1):
                if on:
                    p[f"gamma{l}"] = np.ones(self.layer_dims[l])
                    p[f"beta{l}"] = np.zeros(self.layer_dims[l])
            self._params = self._validated(p)
        elif isinstance(init, Mapping):
            self._params = self._validated(init)
        else:
            raise TypeError(
                f"init must be a scheme name (e.g. 'he') or a mapping of parameters; got "
                f"{type(init).__name__}."
            )

    # -- description ----------
    @property
    def activations(self) -> tuple[str, ...]:
        """The hidden activations' names, one per hidden layer (length L - 1)."""
        return tuple(a.name for a in self._acts)

    @property
    def output(self) -> str:
        """The output activation: ``"sigmoid"``, ``"softmax"`` or ``"linear"``."""
        return self._out.name

    @property
    def loss_name(self) -> str:
        """The loss paired with the output (e.g. ``"binary_cross_entropy"``)."""
        return self._out.loss_name

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Expected name -> shape of every parameter, in order W1, b1, [gamma1, beta1], W2, ..."""
        shapes: dict[str, tuple[int, ...]] = {}
        d = self.layer_dims
        for l in range(1, self.n_layers + 1):
            shapes[f"W{l}"] = (d[l], d[l - 1])
            shapes[f"b{l}"] = (d[l],)
            if l < self.n_layers and self.batch_norm[l - 1]:
                shapes[f"gamma{l}"] = (d[l],)
                shapes[f"beta{l}"] = (d[l],)
        return shapes

    def __repr__(self) -> str:
        acts = self.activations
        act = acts[0] if len(set(acts)) == 1 else list(acts)
        extra = "".join(
            [
                f", l2={self.l2:g}" if self.l2 else "",
                f", keep_prob={self.keep_prob}" if any(p < 1 for p in self.keep_prob) else "",
                f", batch_norm={self.batch_norm}" if any(self.batch_norm) else "",
                f", dtype={self.dtype.name}" if self.dtype != np.float64 else "",
            ]
        )
        return f"MLP({self.layer_dims}, activation={act!r}, output={self.output!r}{extra})"

    # -- parameters ----------
    @property
    def params(self) -> dict[str, Array]:
        """Parameters by name (W1, b1, [gamma1, beta1,] W2, ...): a new dict of the live arrays.

        Assigning a mapping replaces them all: names and shapes are checked against
        :meth:`param_shapes` (a bias of shape ``(n, 1)`` is accepted and flattened) and the values
        are copied in the network's dtype. Batch-norm ``gamma{l}``/``beta{l}`` may be left out:
        they then keep their current values (1 and 0 at construction). Modifying an array of the
        returned dict in place modifies the network.
        """
        return dict(self._params)

    @params.setter
    def params(self, value: Mapping[str, Any]) -> None:
        self._params = self._validated(value)

    @property
    def buffers(self) -> dict[str, Array]:
        """Batch-norm running statistics (``running_mean{l}``, ``running_var{l}``), copies."""
        return {k: v.copy() for k, v in self._buffers.items()}

    def _validated(self, value: Mapping[str, Any]) -> dict[str, Array]:
        if not isinstance(value, Mapping):
            raise TypeError(f"params must be a mapping name -> array; got {type(value).__name__}.")
        shapes = self.param_shapes()
        current: Mapping[str, Any] = getattr(self, "_params", {})
        value = dict(value)
        for name, shape in shapes.items():  # batch-norm parameters may be left out
            if name.startswith(("gamma", "beta")) and name not in value:
                value[name] = current.get(name, np.full(shape, name.startswith("gamma") * 1.0))
        missing = [k for k in shapes if k not in value]
        unknown = [k for k in value if k not in shapes]
        if missing or unknown:
            raise ValueError(
                f"params must have exactly the names {list(shapes)}; missing {missing}, unknown "
                f"{unknown}. Weights are W{{l}} (n_l, n_(l-1)), biases b{{l}} (n_l,)."
            )
        out: dict[str, Array] = {}
        for name, shape in shapes.items():
            arr = to_numpy(value[name])
            if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool) or np.iscomplexobj(
                arr
            ):
                raise TypeError(f"params[{name!r}] must be a real array; got dtype {arr.dtype}.")
            if len(shape) == 1 and arr.shape == (shape[0], 1):
                arr = arr.reshape(shape)
            if arr.shape != shape:
                hint = " (transposed? W is (n_out, n_in))" if arr.shape == shape[::-1] else ""
                raise ValueError(
                    f"params[{name!r}] must have shape {shape}{hint}; got {arr.shape}."
                )
            arr = np.array(arr, dtype=self.dtype, copy=True)
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"params[{name!r}] contains NaN or infinite values.")
            out[name] = arr
        return out

    def _prepare(self, X: Any, y: Any, what: str = "X") -> tuple[Array, Array]:
        Xa = V.check_X(X, self.layer_dims[0], self.dtype, what)
        Ya = self._out.prepare_targets(
            y, n_out=self.layer_dims[-1], n_samples=Xa.shape[0], dtype=self.dtype
        )
        return Xa, Ya

    # -- public computations ----------
    def loss(
        self, X: Any, y: Any, *, train: bool = True, dropout: bool = False, rng: Any = None
    ) -> float:
        """The cost: mean loss plus the L2 term.

        Args:
            X: (m, n_inputs). y: labels, see the class docstring.
            train: batch norm uses batch statistics (True, the function training minimizes) or
                the running statistics (False, evaluation). No effect without batch norm.
            dropout: apply dropout (random; seed it with ``rng``).
            rng: Generator or seed for dropout; defaults to the network's generator.
        """
        Xa, Ya = self._prepare(X, y)
        drng = (self._rng if rng is None else V.as_generator(rng)) if dropout else None
        return self._cost_grads(
            self._params, Xa, Ya, train=train, need_grads=False, dropout_rng=drng
        )[0]

    def gradients(
        self, X: Any, y: Any, *, train: bool = True, dropout: bool = False, rng: Any = None
    ) -> dict[str, Array]:
        """Gradients of :meth:`loss` (same arguments) for every parameter (new arrays)."""
        Xa, Ya = self._prepare(X, y)
        drng = (self._rng if rng is None else V.as_generator(rng)) if dropout else None
        grads = self._cost_grads(
            self._params, Xa, Ya, train=train, need_grads=True, dropout_rng=drng
        )[1]
        assert grads is not None
        return {k: grads[k] for k in self.param_shapes()}

    def logits(self, X: Any) -> Array:
        """The last layer's pre-activation (m, n_outputs), evaluation mode."""
        Xa = V.check_X(X, self.layer_dims[0], self.dtype)
        return self._forward(self._params, Xa, train=False)[0]

    def predict_proba(self, X: Any) -> Array:
        """Output activations (m, n_outputs): probabilities (sigmoid, softmax) or values."""
        return self._out.activate(self.logits(X))

    def predict(self, X: Any) -> Array:
        """Class labels (m,) for sigmoid (one output) and softmax; values for linear."""
        return self._out.predict(self.logits(X))

    def accuracy(self, X: Any, y: Any) -> float:
        """Fraction of examples whose predicted label equals ``y`` (classifiers only)."""
        if not self._out.is_classifier:
            raise ValueError(
                "accuracy needs a classifier (output 'sigmoid' or 'softmax'); use loss()."
            )
        Xa, Ya = self._prepare(X, y)
        return self._accuracy(self._forward(self._params, Xa, train=False)[0], Ya)

    def _accuracy(self, z: Array, Y: Array) -> float:
        pred = self._out.predict(z)
        if self._out.name == "softmax":
            truth = Y if Y.ndim == 1 else np.argmax(Y, axis=1)
        else:
            truth = (Y >= 0.5).astype(np.int64)
            truth = truth[:, 0] if truth.shape[1] == 1 else truth
        return float(np.mean(pred == truth)) if pred.size else float("nan")

    # -- training ----------
    def fit(
        self,
        X: Any,
        y: Any,
        *,
        lr: float = 0.01,
        epochs: int = 1000,
        batch_size: int | None = None,
        optimizer: str | Optimizer = "gd",
        X_dev: Any = None,
        y_dev: Any = None,
        callback: Callable[[EpochInfo], Any] | None = None,
        rng: Any = None,
        check_gradients_at: Iterable[int] | None = None,
        check_options: Mapping[str, Any] | None = None,
    ) -> History:
        """Train in place and return the :class:`History`.

        Args:
            X: (m, n_inputs). y: labels (see the class docstring).
            lr: learning rate.
            epochs: passes over the data.
            batch_size: mini-batch size (reshuffled every epoch with ``rng``); None = full batch.
            optimizer: ``"gd"``, ``"momentum"``, ``"adam"`` or an :class:`Optimizer` instance
                (its state carries over between calls).
            X_dev, y_dev: optional dev set, evaluated (no dropout, running statistics) every epoch.
            callback: called with an :class:`EpochInfo` after every epoch; returning True stops.
            rng: Generator or seed for shuffling and dropout; defaults to the network's generator.
            check_gradients_at: epochs after which to check :meth:`gradients` with
                :meth:`gradcheck` (0 = before training), on the first 256 training rows. The
                reports land in ``history.gradchecks`` and ``history.gradcheck_summary`` calls
                out a check that passed early and fails later. A check never changes training:
                the history is bit-identical with and without checks.
            check_options: options for those checks (default ``mode="probe"``).

        Raises:
            TrainingDivergedError: the cost became NaN or infinite (its ``epoch`` and ``history``
                attributes tell when and what came before).
        """
        from ._fit import fit

        return fit(
            self,
            X,
            y,
            lr=lr,
            epochs=epochs,
            batch_size=batch_size,
            optimizer=optimizer,
            X_dev=X_dev,
            y_dev=y_dev,
            callback=callback,
            rng=rng,
            check_gradients_at=check_gradients_at,
            check_options=check_options,
        )

    # -- checks and persistence ----------
    def gradcheck(self, X: Any, y: Any, **options: Any) -> Any:
        """Check :meth:`gradients` numerically with :func:`trainready.gradcheck`.

        Runs in float64 on copies: dropout is off, batch norm uses batch statistics and the
        running statistics are not updated; the network is left exactly as it was.

        Args:
            X, y: a (small) batch.
            **options: passed to :func:`trainready.gradcheck` (``mode``, ``eps``, ``rng``...).

        Returns:
            The gradcheck report (``.passed``, ``.difference``, ``.verdict``).
        """
        from ..gradcheck import gradcheck as check

        Xa, Ya = self._prepare(X, y)
        X64 = np.array(Xa, dtype=np.float64)
        Y64 = Ya if Ya.dtype.kind == "i" else np.array(Ya, dtype=np.float64)
        p64 = {k: np.array(v, dtype=np.float64) for k, v in self._params.items()}

        def loss(p: Mapping[str, Array]) -> float:
            return self._cost_grads(p, X64, Y64, train=True, need_grads=False)[0]

        def grads(p: Mapping[str, Array]) -> dict[str, Array]:
            g = self._cost_grads(p, X64, Y64, train=True, need_grads=True)[1]
            assert g is not None
            return g

        report = check(loss, p64, grads, **options)
        if report.passed or not self.l2:
            return report
        from ._regularization import split_regularization

        return split_regularization(self, report, X64, Y64, p64, options)

    def to_state(self) -> Any:
        """The network as a persistence :class:`~trainready._persist.State` (arrays copied)."""
        from ._io import to_state

        return to_state(self)

    @classmethod
    def from_state(cls, state: Any) -> MLP:
        """A network from :meth:`to_state`'s output, every field checked (FormatError otherwise)."""
        from ._io import from_state

        return from_state(state)

    def save(self, path: Any) -> None:
        """Save to ``path`` atomically, no pickle: configuration, parameters, running statistics.

        ``.npz`` (added when the path has no suffix; :meth:`load` with the same path finds it) or
        ``.json``. If the write fails, an existing file is left unchanged.
        """
        from ._io import save

        save(self, path)

    @classmethod
    def load(cls, path: Any) -> MLP:
        """Load a network saved by :meth:`save` (also trainready's version-1 files).

        Raises:
            trainready.errors.FormatError: not a trainready network file, a newer format, or
                corrupted or impossible content.
        """
        from ._io import load

        return load(path)
