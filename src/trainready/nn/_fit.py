"""The training loop of :meth:`trainready.nn.MLP.fit`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import TrainingDivergedError
from . import _validate as V
from ._engine import _buffer
from .history import EpochInfo, History
from .optimizers import Optimizer, get_optimizer

if TYPE_CHECKING:
    from .mlp import MLP

__all__ = ["fit"]


def fit(
    self: MLP,
    X: Any,
    y: Any,
    *,
    lr: float,
    epochs: int,
    batch_size: int | None,
    optimizer: str | Optimizer,
    X_dev: Any,
    y_dev: Any,
    callback: Callable[[EpochInfo], Any] | None,
    rng: Any,
    check_gradients_at: Iterable[int] | None = None,
    check_options: Mapping[str, Any] | None = None,
) -> History:
    """See :meth:`trainready.nn.MLP.fit`."""
    lr = V.check_real(
        lr, "lr", positive=True, fix="Pass the learning rate as a number, e.g. lr=0.01."
    )
    epochs = V.check_int(epochs, "epochs", 0, "Pass the number of passes over the data, e.g. 1000.")
    if batch_size is not None:
        batch_size = V.check_int(
            batch_size,
            "batch_size",
            1,
            "Pass a mini-batch size such as 64, or None for full batch.",
        )
    if callback is not None and not callable(callback):
        raise TypeError(
            V.problem(
                "callback",
                "a function of EpochInfo or None",
                callback,
                "Pass e.g. callback=lambda info: info.loss < 1e-3 (True stops training).",
            )
        )
    if check_options is not None and not isinstance(check_options, Mapping):
        raise TypeError(
            V.problem(
                "check_options",
                "a mapping of gradcheck options or None",
                check_options,
                "Pass e.g. check_options={'mode': 'probe'}.",
            )
        )
    if (X_dev is None) != (y_dev is None):
        raise ValueError("X_dev, y_dev: expected both or neither; got one of them. Pass both.")
    Xa, Ya = self._prepare(X, y)
    m = Xa.shape[0]
    if m == 0:
        raise ValueError("X: expected at least one example; got 0 rows. Pass training data.")
    dev = self._prepare(X_dev, y_dev, "X_dev") if X_dev is not None else None
    opt = get_optimizer(optimizer)
    gen = self._rng if rng is None else V.as_generator(rng)
    dropout_rng = gen if any(p < 1 for p in self.keep_prob) else None
    full = batch_size is None or batch_size >= m
    bs = m if full else int(batch_size)  # type: ignore[arg-type]
    if any(self.batch_norm) and (bs < 2 or m % bs == 1):
        raise ValueError(
            f"batch norm needs at least 2 examples in every mini-batch; with {m} examples and "
            f"batch_size={batch_size} one batch has a single example. Choose another batch_size "
            "(or drop an example)."
        )
    ws = self._ws
    params = self._params
    losses: list[float] = []
    dev_losses: list[float] = []
    dev_accs: list[float] = []
    stopped = False
    start = time.perf_counter()
    monitor = _monitor(self, Xa, Ya, check_gradients_at, check_options)

    def history() -> History:
        return History(
            tuple(losses),
            tuple(dev_losses),
            tuple(dev_accs),
            len(losses),
            opt.name,
            float(lr),
            None if full else bs,
            stopped,
            time.perf_counter() - start,
            tuple(monitor.reports) if monitor is not None else (),
        )

    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for epoch in range(1, epochs + 1):
            total = 0.0
            perm = None if full else gen.permutation(m)
            for b0 in range(0, m, bs):
                if perm is None:
                    Xb, Yb = Xa, Ya
                else:
                    idx = perm[b0 : b0 + bs]
                    n = idx.shape[0]
                    Xb = np.take(
                        Xa,
                        idx,
                        axis=0,
                        out=_buffer(ws, ("xb",), (n, Xa.shape[1]), Xa.dtype),
                        mode="clip",
                    )
                    Yb = np.take(
                        Ya,
                        idx,
                        axis=0,
                        out=_buffer(ws, ("yb",), (n, *Ya.shape[1:]), Ya.dtype),
                        mode="clip",
                    )
                params = self._params  # re-read: a callback may have assigned new ones
                cost, grads = self._cost_grads(
                    params,
                    Xb,
                    Yb,
                    train=True,
                    need_grads=True,
                    dropout_rng=dropout_rng,
                    update_running=True,
                    ws=ws,
                )
                if not math.isfinite(cost):
                    losses.append(cost)
                    where = "" if full else f" (mini-batch starting at row {b0})"
                    raise _diverged(epoch, where, f"the cost became {cost}", lr, history())
                total += cost * Xb.shape[0]
                assert grads is not None
                opt.step(params, grads, lr, overwrite_grads=True)
            epoch_loss = total / m
            losses.append(epoch_loss)
            info_dev_loss = info_dev_acc = None
            if dev is not None:
                zd, _ = self._forward(params, dev[0], train=False)
                info_dev_loss = self._out.cost(zd, dev[1]) + self._l2_term(params, zd.shape[0])
                dev_losses.append(info_dev_loss)
                if self._out.is_classifier:
                    info_dev_acc = self._accuracy(zd, dev[1])
                    dev_accs.append(info_dev_acc)
            if monitor is not None:  # on copies, no random numbers drawn: training unaffected
                monitor(epoch)
            if callback is not None and callback(
                EpochInfo(epoch, epochs, epoch_loss, info_dev_loss, info_dev_acc)
            ):
                stopped = True
                break
    bad = [k for k, v in self._params.items() if not np.all(np.isfinite(v))]
    if bad:  # the last update overflowed: the next cost would have been NaN
        raise _diverged(len(losses), "", f"parameters {bad} became NaN or infinite", lr, history())
    return history()


def _monitor(
    net: MLP,
    X: Any,
    Y: Any,
    at: Iterable[int] | None,
    options: Mapping[str, Any] | None,
) -> Any:
    """A started GradientMonitor on the first 256 rows, or None without check epochs."""
    if at is None:
        return None
    from ..gradcheck import GradientMonitor

    try:
        epochs = [int(e) for e in at]
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"check_gradients_at must be a list of epochs (0 = before training); got {at!r}"
        ) from exc
    if any(e < 0 for e in epochs):
        raise ValueError(f"check_gradients_at: epochs must be >= 0; got {epochs}")
    k = min(X.shape[0], 256)
    return GradientMonitor.for_mlp(net, X[:k], Y[:k], epochs, **dict(options or {})).start()


def _diverged(epoch: int, where: str, what: str, lr: float, hist: History) -> TrainingDivergedError:
    err = TrainingDivergedError(
        f"training diverged at epoch {epoch}{where}: {what}. Use a smaller learning rate "
        f"(lr={lr:g}; try {lr / 10:g}) or a better initialization (init='he' for ReLU, "
        "'lecun' for tanh), and normalize the inputs (trainready.normalize)."
    )
    err.epoch = epoch  # type: ignore[attr-defined]
    err.history = hist  # type: ignore[attr-defined]
    return err
