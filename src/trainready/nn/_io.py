"""Save and load an :class:`~trainready.nn.MLP` as ``.npz`` without pickle.

The file holds ``__format__`` (``"trainready.nn.MLP"``), ``__version__`` (an int), ``config`` (a
JSON string: layer_dims, activations, output, l2, keep_prob, batch_norm, dtype), ``param/<name>``
for every parameter and ``buffer/<name>`` for batch-norm running statistics. It is read with
``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import FormatError

if TYPE_CHECKING:
    from .mlp import MLP

__all__ = ["FORMAT", "FORMAT_VERSION", "load", "save"]

FORMAT = "trainready.nn.MLP"
FORMAT_VERSION = 1


def save(net: MLP, path: str | os.PathLike[str]) -> None:
    """Write ``net`` to ``path`` (``.npz``; NumPy appends the suffix if missing)."""
    config = {
        "layer_dims": net.layer_dims,
        "activations": list(net.activations),
        "output": net.output,
        "l2": net.l2,
        "keep_prob": list(net.keep_prob),
        "batch_norm": list(net.batch_norm),
        "dtype": net.dtype.name,
    }
    arrays: dict[str, Any] = {
        "__format__": np.array(FORMAT),
        "__version__": np.array(FORMAT_VERSION),
        "config": np.array(json.dumps(config)),
    }
    arrays.update({f"param/{k}": v for k, v in net.params.items()})
    arrays.update({f"buffer/{k}": v for k, v in net.buffers.items()})
    np.savez(path, **arrays)


def load(path: str | os.PathLike[str]) -> MLP:
    """Read a network written by :func:`save`.

    Raises:
        FileNotFoundError: no such file.
        FormatError: not a trainready network file, a newer format version, or corrupted content.
    """
    from .mlp import MLP

    try:
        with np.load(path, allow_pickle=False) as data:
            files = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise FormatError(f"{os.fspath(path)!r} is not a readable .npz file ({exc}).") from exc
    fmt = files.get("__format__")
    if fmt is None or str(fmt) != FORMAT:
        raise FormatError(
            f"{os.fspath(path)!r} is not a trainready network file (format {fmt!r}, expected "
            f"{FORMAT!r}); save networks with MLP.save."
        )
    version = int(files["__version__"])
    if version > FORMAT_VERSION:
        raise FormatError(
            f"{os.fspath(path)!r} has format version {version}, newer than this trainready "
            f"understands ({FORMAT_VERSION}); upgrade trainready."
        )
    try:
        config = json.loads(str(files["config"]))
        params = {k[6:]: v for k, v in files.items() if k.startswith("param/")}
        net = MLP(
            config["layer_dims"],
            activation=config["activations"],
            output=config["output"],
            init=params,
            l2=config["l2"],
            keep_prob=config["keep_prob"],
            batch_norm=config["batch_norm"],
            dtype=config["dtype"],
        )
        for k in net._buffers:
            net._buffers[k][...] = files[f"buffer/{k}"]
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise FormatError(f"{os.fspath(path)!r} is corrupted or incomplete: {exc}") from exc
    return net
