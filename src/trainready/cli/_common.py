"""What the commands share: one-line errors, warnings turned into notes, output-path checks."""

from __future__ import annotations

import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer

__all__ = [
    "ABORTED",
    "UsageProblem",
    "check_out_file",
    "check_out_folder",
    "describe",
    "fail",
    "guard",
    "help_text",
    "is_torch",
    "one_line",
    "print_notes",
    "where_in",
]

T = TypeVar("T")

#: The one line printed after Ctrl-C (exit code 130).
ABORTED = "aborted (Ctrl-C): nothing was written"


class UsageProblem(Exception):
    """A usage or input error: reported as one line, exit code 2."""


def help_text(text: str) -> str:
    """Reflow a help text: paragraphs (blank-line separated) become one line each, so that the
    terminal wraps them; a paragraph starting with ``[dim]`` (a code example) is kept as is."""
    paras = [p.strip("\n") for p in text.strip().split("\n\n")]
    return "\n\n".join(p if p.startswith("[dim]") else " ".join(p.split()) for p in paras)


def one_line(text: str, limit: int = 600) -> str:
    """Collapse whitespace and newlines; cut very long messages."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` on one line to stderr and exit with ``code``."""
    typer.echo(f"error: {one_line(message)}", err=True)
    raise typer.Exit(code)


def describe(exc: BaseException) -> str:
    """``"Type: message"`` on one line (with the exception's notes), or ``"Type"`` alone."""
    text = one_line(str(exc), 300)
    if isinstance(exc, KeyError) and exc.args:
        text = one_line(str(exc.args[0]), 300)
    if isinstance(exc, MemoryError):
        text = (text + "; " if text else "") + "out of memory: try a smaller batch"
    body = text
    for note in (one_line(str(n), 200) for n in getattr(exc, "__notes__", ())):
        body += (" " if note.startswith("(") else "; ") + note if body else note
    return f"{type(exc).__name__}: {body}" if body else type(exc).__name__


def where_in(exc: BaseException, path: Path) -> str:
    """``" (model.py, line 12)"``: the last frame of ``path`` in the traceback, or ``""``.

    The exception's cause and context are searched too (a library that re-raises a user's
    error keeps the user's frame there).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = [
            f for f in traceback.extract_tb(current.__traceback__) if Path(f.filename) == path
        ]
        if frames:
            return f" ({path.name}, line {frames[-1].lineno})"
        current = current.__cause__ or current.__context__
    return ""


def is_torch(obj: Any, kind: str = "Module") -> bool:
    """True for a ``torch.nn.Module`` (``kind="Module"``) or ``torch.Tensor`` (``"Tensor"``),
    without importing torch: a torch object exists only once the user's code imported it."""
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    cls = torch.nn.Module if kind == "Module" else torch.Tensor
    return isinstance(obj, cls)


def is_jax(obj: Any) -> bool:
    """True for a Flax NNX module or a pytree with a ``jax.Array`` leaf, without importing JAX:
    a JAX object exists only once the user's code imported it."""
    jax = sys.modules.get("jax")
    if jax is None:
        return False
    nnx = sys.modules.get("flax.nnx")
    if nnx is not None and isinstance(obj, nnx.Module):
        return True
    try:
        leaves = jax.tree_util.tree_leaves(obj)
    except Exception:  # an object JAX cannot flatten is not a JAX pytree
        return False
    return any(isinstance(leaf, jax.Array) for leaf in leaves)


# ------------------------------------------------------------------------------ warnings
def _notes(caught: Iterable[warnings.WarningMessage]) -> tuple[str, ...]:
    texts = (f"{w.category.__name__}: {one_line(str(w.message), 300)}" for w in caught)
    return tuple(dict.fromkeys(texts))


def guard(fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, tuple[str, ...]]:
    """Run a command's work: warnings become notes, a :class:`UsageProblem` one line (exit 2).

    Returns:
        ``(value, notes)``: what ``fn`` returned and the warnings raised meanwhile (one text
        each, duplicates dropped), for the command to print with its report.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        try:
            value = fn(*args, **kwargs)
        except UsageProblem as exc:
            notes = _notes(caught)
            fail(str(exc) + (f" (warnings: {'; '.join(notes)})" if notes else ""))
        except KeyboardInterrupt:
            typer.echo(ABORTED, err=True)
            raise typer.Exit(130) from None
    return value, _notes(caught)


def print_notes(notes: Iterable[str]) -> None:
    """Print each note as ``note: ...`` on stdout (part of the report, never extra stderr)."""
    for note in notes:
        typer.echo(f"note: {note}")


# ------------------------------------------------------------------------------ output paths
def _probe_folder(option: str, text: str, folder: Path) -> None:
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".trainready-probe-"):
            pass
    except OSError as exc:
        raise UsageProblem(
            f"{option} {text!r}: cannot write in the folder {str(folder)!r} "
            f"({type(exc).__name__}: {exc.strerror or exc}); choose a folder you can write to"
        ) from None


def check_out_file(option: str, text: str, suffixes: tuple[str, ...]) -> Path:
    """Check, before any work, that a file can be written at ``text``.

    Args:
        option: the option's name for messages (``"--out"``).
        text: the path as the user typed it.
        suffixes: the accepted extensions, e.g. ``(".npz", ".json")``.

    Returns:
        The path (``~`` expanded).

    Raises:
        UsageProblem: another extension, a folder, a missing or unwritable parent folder.

    Example:
        >>> check_out_file("--out", "/tmp/scaler.npz", (".npz", ".json")).name
        'scaler.npz'
    """
    path = Path(text).expanduser()
    allowed = " or ".join(suffixes)
    if path.is_dir():
        raise UsageProblem(
            f"{option} {text!r} is a folder; pass a file name such as "
            f"{str(path / ('output' + suffixes[0]))!r}"
        )
    if path.suffix.lower() not in suffixes:
        raise UsageProblem(
            f"{option} {text!r}: use a {allowed} file name (got {path.suffix or 'no extension'!r})"
        )
    parent = path.parent
    if not parent.exists():
        raise UsageProblem(f"{option} {text!r}: the folder {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise UsageProblem(f"{option} {text!r}: {str(parent)!r} is a file, not a folder")
    _probe_folder(option, text, parent)
    return path


def check_out_folder(option: str, text: str) -> Path:
    """Check, before any work, that a folder can be created (or written) at ``text``.

    Nothing is created: the nearest existing folder above is probed with a temporary file.

    Raises:
        UsageProblem: ``text`` is a file, lies under a file, or cannot be written.
    """
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise UsageProblem(f"{option} {text!r} is a file; pass a folder for the report")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageProblem(
            f"{option} {text!r}: {str(existing)!r} is a file, so no folder can be made under it"
        )
    _probe_folder(option, text, existing)
    return path
