"""What the commands share: one-line errors, loading ``FILE.py:FUNC``, reading data files."""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import numpy as np
import typer

__all__ = [
    "UsageProblem",
    "call_target",
    "fail",
    "help_text",
    "one_line",
    "read_table",
    "write_table",
]


class UsageProblem(Exception):
    """A usage or input error: reported as one line, exit code 2."""


def help_text(text: str) -> str:
    """Reflow a help text: paragraphs (blank-line separated) become one line each, so that the
    terminal wraps them; a paragraph starting with ``[dim]`` (a code example) is kept as is."""
    paras = [p.strip("\n") for p in text.strip().split("\n\n")]
    return "\n\n".join(p if p.startswith("[dim]") else " ".join(p.split()) for p in paras)


def one_line(text: str, limit: int = 400) -> str:
    """Collapse whitespace and newlines; cut very long messages."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on one line to stderr and exit with ``code``."""
    typer.echo(f"error: {one_line(message)}", err=True)
    raise typer.Exit(code)


def _where(exc: BaseException, path: Path) -> str:
    """' (model.py, line 12)' for the deepest frame of the user's file, or ''."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
    if not frames:
        return ""
    return f" ({path.name}, line {frames[-1].lineno})"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {one_line(str(exc), 200)}" if str(exc) else type(exc).__name__


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
        with _on_path(path.parent):
            spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise UsageProblem(
            f"{path.name} has a syntax error at line {exc.lineno}: {exc.msg}; fix it and run again"
        ) from None
    except Exception as exc:
        sys.modules.pop(name, None)
        raise UsageProblem(
            f"importing {path.name} raised {_describe(exc)}{_where(exc, path)}; fix the file and "
            "run again"
        ) from None
    return module


def call_target(target: str, example: str) -> tuple[Any, str]:
    """Import ``FILE.py`` of ``FILE.py:FUNC``, call ``FUNC()`` and return what it returned.

    Args:
        target: ``"path/to/file.py:function"``.
        example: the command's example, for messages (``"trainready check model.py:make"``).

    Returns:
        ``(value, "file.py:function")``.

    Raises:
        UsageProblem: a malformed target, a missing file or function, or an exception raised while
            importing the file or calling the function.
    """
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
    try:
        with _on_path(path.parent):
            value = fn()
    except TypeError as exc:
        if _where(exc, path) == "" or "positional argument" in str(exc):
            raise UsageProblem(
                f"calling {path.name}:{func}() raised {_describe(exc)}; the function must take no "
                "arguments"
            ) from None
        raise UsageProblem(
            f"calling {path.name}:{func}() raised {_describe(exc)}{_where(exc, path)}; fix it and "
            "run again"
        ) from None
    except Exception as exc:
        raise UsageProblem(
            f"calling {path.name}:{func}() raised {_describe(exc)}{_where(exc, path)}; fix it and "
            "run again"
        ) from None
    return value, f"{path.name}:{func}"


# ------------------------------------------------------------------------------ data files
def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_table(path_text: str) -> tuple[np.ndarray, list[str] | None]:
    """Read a ``.npy`` array or a numeric ``.csv`` file (an optional header row is kept).

    Returns:
        ``(X, header)``: X is ``(n_samples, n_features)`` (a 1-D array becomes one column);
        header is the column names or None.

    Raises:
        UsageProblem: a missing file, another extension, or unreadable content.
    """
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise UsageProblem(f"data file {path_text!r} does not exist; pass a .npy or .csv file")
    suffix = path.suffix.lower()
    header: list[str] | None = None
    if suffix == ".npy":
        try:
            X = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise UsageProblem(
                f"cannot read {path.name} as a NumPy .npy file ({_describe(exc)}); save it with "
                "numpy.save"
            ) from None
    elif suffix == ".csv":
        with path.open(encoding="utf-8-sig") as fh:
            first = fh.readline()
        cells = [c.strip() for c in first.strip().split(",")]
        skip = 0
        if cells and not all(_is_number(c) for c in cells if c):
            header = [c.strip('"') for c in cells]
            skip = 1
        try:
            X = np.loadtxt(
                path, delimiter=",", skiprows=skip, dtype=np.float64, ndmin=2, encoding="utf-8-sig"
            )
        except ValueError as exc:
            raise UsageProblem(
                f"{path.name} is not a numeric CSV ({one_line(str(exc), 160)}); keep one optional "
                "header row and numbers only"
            ) from None
    else:
        raise UsageProblem(
            f"{path.name}: unsupported extension {suffix or '(none)'!r}; use .npy or .csv"
        )
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] == 0:
        raise UsageProblem(
            f"{path.name} holds an array of shape {X.shape}; expected rows of samples, "
            "(n_samples, n_features)"
        )
    if not np.issubdtype(X.dtype, np.number):
        raise UsageProblem(f"{path.name} holds {X.dtype} values; expected numbers")
    if header is not None and len(header) != X.shape[1]:
        header = None
    return X, header


def write_table(path_text: str, X: np.ndarray, header: list[str] | None) -> Path:
    """Write ``X`` as ``.npy`` or ``.csv`` (by the extension), with the header if given."""
    path = Path(path_text).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv"):
        raise UsageProblem(f"--out {path_text!r}: use a .npy or .csv file name")
    if not path.parent.exists():
        raise UsageProblem(f"--out {path_text!r}: the folder {str(path.parent)!r} does not exist")
    if suffix == ".npy":
        np.save(path, X, allow_pickle=False)
    else:
        np.savetxt(path, X, delimiter=",", fmt="%.17g", header=",".join(header or []), comments="")
    return path
