"""Lazy import of optional dependencies, with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

# module name -> (pip extra, what it is needed for)
_EXTRAS: dict[str, str] = {
    "torch": "torch",
    "jax": "jax",
    "jaxlib": "jax",
    "matplotlib": "plot",
    "typer": "cli",
    "rich": "cli",
    "dask": "dask",
    "distributed": "dask",
    "sklearn": "sklearn",
    "pandas": "pandas",
}


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra to install.

    Args:
        module: dotted module name, e.g. ``"matplotlib.pyplot"``.
        purpose: what needs it, for the message, e.g. ``"plotting"``.

    Example:
        >>> np = require("numpy", "arrays")
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = _EXTRAS.get(top, top)
        raise MissingDependencyError(
            f"{purpose} needs the optional dependency {top!r}, which is not installed; "
            f"install it with: pip install 'trainready[{extra}]'"
        ) from exc


def is_available(module: str) -> bool:
    """True when ``module`` can be imported (without raising)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
