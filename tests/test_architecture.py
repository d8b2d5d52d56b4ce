"""The layering rule, checked on the source: imports point down, and only the adapter knows torch.

Layers (docs/architecture.md): core modules (``trainready._*``, ``errors``) < features
(``nn``, ``init``, ``normalize``, ``signal``, ``gradcheck``, ``datasets``) < the adapter
(``trainready.torch``) < front ends (``cli``, ``report``, ``demo``, ``testing``). Every import
statement is read, at module level or inside a function (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "trainready"
ADAPTERS = {"torch", "jax"}
FRONT_ENDS = {"cli", "report", "demo", "testing", "__main__"}
FEATURES = {"nn", "init", "normalize", "signal", "gradcheck", "datasets"}

# Files allowed to recognise torch tensors by duck typing (``hasattr(x, "detach")``) besides
# trainready._arrays: none; every other module calls _arrays (to_numpy / is_torch_tensor).
SNIFFING_ALLOWED: set[str] = set()
# Modules outside the adapter allowed to import torch besides trainready._arrays: none (the
# scalers transform a tensor on its device through _arrays.native_affine).
TORCH_IMPORT_ALLOWED: set[str] = set()
# Dynamic imports of the adapter by name: deprecation aliases, removed next release.
DYNAMIC_ALLOWED = {"gradcheck/_monitor.py"}  # GradientMonitor.for_torch -> torch.gradient_monitor


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(["trainready", *parts]), path


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "facade"  # trainready/__init__.py re-exports the features
    top = parts[1]
    if top in ADAPTERS:
        return "adapter"
    if top in FRONT_ENDS:
        return "front end"
    if top in FEATURES:
        return "feature"
    return "core"


RANK = {"core": 0, "feature": 1, "adapter": 2, "front end": 3, "facade": 3}


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Absolute names of every import in ``path`` (relative ones resolved), with line numbers."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if node.module:
                yield name, node.lineno
            for alias in node.names:  # "from . import signal" imports a module
                yield f"{name}.{alias.name}", node.lineno


def _owner(name: str, known: set[str]) -> str | None:
    """The trainready module (or package) an imported name refers to."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _node(module: str) -> str:
    """Graph node: a feature or adapter package as a whole; core modules one by one."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 and _layer(module) != "core" else module


MODULES = dict(_modules())


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        for name, _ in _imports(module, path):
            target = _owner(name, set(MODULES))
            if target is None or _node(target) == _node(module):
                continue
            graph.setdefault(_node(module), set()).add(_node(target))
    return graph


def test_the_walk_sees_every_package() -> None:
    assert {"trainready.signal", "trainready.torch", "trainready._arrays"} <= set(MODULES)
    assert len(MODULES) > 60


def test_imports_point_down() -> None:
    wrong = []
    for module, path in MODULES.items():
        for name, line in _imports(module, path):
            target = _owner(name, set(MODULES))
            if target is None or _layer(module) == "facade":
                continue
            if RANK[_layer(target)] > RANK[_layer(module)]:
                wrong.append(
                    f"{path.relative_to(SRC)}:{line} ({_layer(module)}) imports "
                    f"{target} ({_layer(target)})"
                )
    assert not wrong, "\n".join(wrong)


def test_the_core_and_the_features_have_no_import_cycle() -> None:
    graph = {k: v for k, v in _graph().items() if RANK[_layer(k)] <= RANK["feature"]}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in sorted(graph.get(n, ())):
            if RANK[_layer(m)] > RANK["feature"]:
                continue
            if state.get(m) == 1:
                return [*path[path.index(m) :], m]
            if m not in state and (cycle := visit(m)):
                return cycle
        state[n] = 2
        path.pop()
        return None

    for n in sorted(graph):
        if n not in state and (cycle := visit(n)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_only_the_adapter_imports_torch() -> None:
    wrong = [
        f"{path.relative_to(SRC)}:{line}"
        for module, path in MODULES.items()
        if _layer(module) != "adapter" and str(path.relative_to(SRC)) not in TORCH_IMPORT_ALLOWED
        for name, line in _imports(module, path)
        if name == "torch" or name.startswith("torch.")
    ]
    assert not wrong, wrong


def test_only_the_jax_adapter_imports_jax_and_flax_and_adapters_are_independent() -> None:
    frameworks = {"torch": {"torch"}, "jax": {"jax", "jaxlib", "flax"}}
    wrong = [
        f"{path.relative_to(SRC)}:{line} imports {name}"
        for module, path in MODULES.items()
        for name, line in _imports(module, path)
        for adapter, roots in frameworks.items()
        if adapter != "torch" or _layer(module) == "adapter"  # torch outside: the test above
        if name.split(".")[0] in roots and not module.startswith(f"trainready.{adapter}")
    ]
    assert not wrong, wrong


_SNIFF = re.compile(r"""hasattr\([^)]*["'](detach|numel|cpu)["']|["']torch\.float""")
_DYNAMIC = re.compile(r"""import_module\(\s*["']trainready\.(torch|cli|report|demo)""")


def test_only_the_conversion_module_recognises_torch_tensors() -> None:
    found = {
        str(path.relative_to(SRC))
        for module, path in MODULES.items()
        if _layer(module) in ("core", "feature") and _SNIFF.search(path.read_text())
    }
    assert found <= SNIFFING_ALLOWED, sorted(found - SNIFFING_ALLOWED)


def test_no_dynamic_import_of_an_upper_layer() -> None:
    found = {
        str(path.relative_to(SRC))
        for module, path in MODULES.items()
        if _layer(module) in ("core", "feature") and _DYNAMIC.search(path.read_text())
    }
    assert found <= DYNAMIC_ALLOWED, sorted(found - DYNAMIC_ALLOWED)


def test_the_checks_catch_what_they_forbid(tmp_path: Path) -> None:
    """Injected violations: each rule fails on a file that breaks it."""
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nfrom ..torch import record\nok = hasattr(x, 'detach')\n")
    names = [n for n, _ in _imports("trainready.signal._bad", bad)]
    assert "torch" in names and "trainready.torch.record" in names
    assert _layer(_owner("trainready.torch.record", set(MODULES)) or "") == "adapter"
    assert _SNIFF.search(bad.read_text())
    assert _DYNAMIC.search('importlib.import_module("trainready.torch")')


def test_the_gradcheck_package_is_not_shadowed_by_the_function() -> None:
    import inspect
    import subprocess
    import sys

    code = (
        "import numpy as np, trainready as tr, trainready.gradcheck\n"
        "assert trainready.gradcheck.numeric_gradient is not None\n"
        "rep = tr.gradcheck(lambda p: float(np.sum(p['w'] ** 2)), {'w': np.ones(3)},"
        " {'w': 2 * np.ones(3)})\n"
        "assert rep.passed\n"
        "from trainready.gradcheck import gradcheck\n"
        "assert gradcheck(lambda p: float(np.sum(p['w'])), {'w': np.ones(2)},"
        " {'w': np.ones(2)}).passed\n"
    )
    env_src = str(SRC.parent)
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": env_src})
    import trainready as tr

    assert list(inspect.signature(tr.gradcheck).parameters)[:3] == ["loss", "params", "grads"]
