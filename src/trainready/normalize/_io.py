"""Save and load fitted scalers as ``.npz`` (``allow_pickle=False``) or JSON; never pickle.

Both formats go through trainready's one persistence container (:mod:`trainready._persist`):
atomic saves, a versioned header ``{"format": "trainready.scaler", "version": 2, "sha256": ...,
"class": ..., "params": {...}, "attributes": {...}}`` and every fitted attribute plus the running
state. npz keeps the raw float64 arrays; JSON writes each float with ``repr`` (the shortest string
that reads back to the same bits) and NaN/inf as strings, so a round trip is bit-exact in both.
Version-1 files (written before the checksum) still load.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from .. import _persist
from ._state import FORMAT_NAME, FORMAT_VERSION, WHAT, scaler_from_state, scaler_specs

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load", "save"]


def save(est: Any, path: str | os.PathLike[str], *, format: str | None = None) -> None:
    """Write a fitted scaler to ``path``: npz (suffix ``.npz``, or none: it is added) or JSON.

    The write is atomic: if it fails (disk full, interrupted), an existing file is unchanged.

    Example:
        >>> import numpy as np, tempfile, os
        >>> from trainready.normalize import StandardScaler, load
        >>> sc = StandardScaler().fit(np.arange(6.0).reshape(3, 2))
        >>> p = os.path.join(tempfile.mkdtemp(), "sc.json")
        >>> sc.save(p); load(p).mean_.tolist()
        [2.0, 3.0]
    """
    _persist.save(est.to_state(), path, format=format)


def load(path: str | os.PathLike[str], *, expected: type | None = None) -> Any:
    """Read a scaler written by ``save`` (npz or JSON, detected from the content).

    ``path`` without a suffix also finds ``path + ".npz"`` (what ``save(path)`` wrote).

    Raises:
        FileNotFoundError: no such file.
        FormatError: the file is corrupted, foreign, of a newer format version, holds values that
            no fit can produce, or (with ``expected``) holds another class.
    """
    p = _persist.load_path(path)
    state = _persist.load(
        p, kind=FORMAT_NAME, what=WHAT, current=FORMAT_VERSION, specs=partial(scaler_specs, path=p)
    )
    return scaler_from_state(state, expected=expected, path=p)
