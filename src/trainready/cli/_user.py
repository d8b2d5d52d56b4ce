"""Running the user's code: import ``FILE.py``, call ``FUNC()``, and fence off what it may do.

Everything the user's code raises -- an exception, ``sys.exit(0)``, ``sys.exit(3)`` -- while it is
imported, while ``FUNC`` runs, or while trainready calls back into it (a loss, a backward, a
forward pass) becomes a :class:`UsageProblem`: one line naming what failed, its type and
message and the user's file and line, exit code 2. Exit code 1 stays reserved for verdicts.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ._common import UsageProblem, describe, where_in

__all__ = ["Target", "call_target", "user_code"]


@dataclass(frozen=True)
class Target:
    """The user's ``FILE.py:FUNC``, resolved.

    Attributes:
        path: the absolute path of the file.
        func: the function's name.
    """

    path: Path
    func: str

    @property
    def label(self) -> str:
        """``"model.py:make"``, the prefix of every message about this target."""
        return f"{self.path.name}:{self.func}"


def _exit_text(exc: SystemExit) -> str:
    code = exc.code
    return "sys.exit()" if code is None else f"sys.exit({code!r})"


@contextlib.contextmanager
def user_code(path: Path, doing: str) -> Iterator[None]:
    """Turn whatever escapes a block that runs user code into a one-line :class:`UsageProblem`.

    Args:
        path: the user's file; its last frame in the traceback is named (``model.py, line 12``).
        doing: what was being done, for the message (``"calling model.py:make()"``).

    Example:
        >>> from pathlib import Path
        >>> try:
        ...     with user_code(Path("m.py"), "calling m.py:f()"):
        ...         raise SystemExit(0)
        ... except UsageProblem as exc:
        ...     print(exc)  # doctest: +ELLIPSIS
        calling m.py:f() called sys.exit(0); ...
    """
    try:
        yield
    except UsageProblem:
        raise
    except SystemExit as exc:
        raise UsageProblem(
            f"{doing} called {_exit_text(exc)}{where_in(exc, path)}; trainready cannot judge "
            "code that exits: remove the call (or put it under if __name__ == '__main__':)"
        ) from None
    except Exception as exc:
        raise UsageProblem(f"{doing} raised {describe(exc)}{where_in(exc, path)}") from None


@contextlib.contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))


def _load_module(path: Path) -> ModuleType:
    name = f"_trainready_user_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageProblem(f"cannot import {str(path)!r}: pass a Python source file (.py)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with _on_path(path.parent), user_code(path, f"importing {path.name}"):
            try:
                spec.loader.exec_module(module)
            except SyntaxError as exc:
                raise UsageProblem(
                    f"{path.name} has a syntax error at line {exc.lineno}: {exc.msg}; fix it and "
                    "run again"
                ) from None
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _resolve(target: str, example: str) -> tuple[Callable[..., Any], Target]:
    file_part, sep, func = target.rpartition(":")
    if not sep or not file_part or not func or "/" in func or "\\" in func:
        raise UsageProblem(
            f"expected FILE.py:FUNC (a Python file and the function in it to call), got "
            f"{target!r}; example: {example}"
        )
    path = Path(file_part).expanduser()
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise UsageProblem(f"{file_part!r} {what}; pass the path of a Python file, e.g. {example}")
    path = path.resolve()
    module = _load_module(path)
    fn = getattr(module, func, None)
    if fn is None:
        defined = sorted(
            n
            for n, v in vars(module).items()
            if inspect.isfunction(v) and v.__module__ == module.__name__ and not n.startswith("_")
        )
        listing = f"functions defined there: {', '.join(defined)}" if defined else "it defines none"
        raise UsageProblem(f"{path.name} has no function {func!r} ({listing})")
    if not callable(fn):
        raise UsageProblem(
            f"{path.name}:{func} is a {type(fn).__name__}, not a function; point at a function "
            "that takes no arguments"
        )
    return fn, Target(path, func)


def _takes_no_arguments(fn: Callable[..., Any]) -> bool:
    try:
        inspect.signature(fn).bind()
    except TypeError:
        return False
    except ValueError:  # no signature (a builtin): let the call decide
        return True
    return True


def call_target(target: str, example: str) -> tuple[Any, Target]:
    """Import ``FILE.py`` of ``FILE.py:FUNC``, call ``FUNC()`` and return what it returned.

    Args:
        target: ``"path/to/file.py:function"``.
        example: the command's example, for messages (``"trainready check model.py:make"``).

    Returns:
        ``(value, Target)``.

    Raises:
        UsageProblem: a malformed target, a missing file or function, a function that needs
            arguments, or anything raised (``sys.exit`` included) by the import or the call.
    """
    fn, where = _resolve(target, example)
    if not _takes_no_arguments(fn):
        raise UsageProblem(
            f"{where.label} takes arguments {inspect.signature(fn)}; the function must take no "
            "arguments and return the problem"
        )
    with _on_path(where.path.parent), user_code(where.path, f"calling {where.label}()"):
        value = fn()
    return value, where
