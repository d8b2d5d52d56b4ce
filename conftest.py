"""Root conftest: ``pytest --doctest-modules src`` skips the modules of a missing extra.

(The test suite's own fixtures are in tests/conftest.py.)
"""

from __future__ import annotations

import importlib.util

# module folders or files under src/trainready -> the optional dependency they import
_NEEDS = {
    "torch": "torch",
    "report": "matplotlib",
    "cli": "typer",
    "demo": "matplotlib",
    "testing.py": "torch",
    "normalize/_dask.py": "dask",
}

collect_ignore_glob = [
    f"src/trainready/{path}" + ("" if path.endswith(".py") else "/*")
    for path, module in _NEEDS.items()
    if importlib.util.find_spec(module) is None
]
