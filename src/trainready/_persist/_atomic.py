"""Atomic replacement of a file: a failed write leaves the old file, and no debris.

The new content goes to a temporary file in the destination's folder (same file system), is
flushed and ``fsync``-ed, and then ``os.replace`` swaps it in; the folder is synced so that the
rename itself survives a crash. Any exception on the way (a full disk, a file-size limit,
``KeyboardInterrupt``) removes the temporary file and re-raises; the destination is untouched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["write_atomic"]


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a folder; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(fh)`` on a temporary file beside ``path``, then move it onto ``path``.

    Args:
        path: the destination (its folder must exist).
        write: writes the whole content to the binary file object it gets.

    Raises:
        OSError: the folder is missing or not writable, the disk is full, a size limit was hit;
            the message names ``path``. The destination is then unchanged.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
        >>> write_atomic(p, lambda fh: fh.write(b"new")); p.read_bytes()
        b'new'
    """
    folder = path.parent
    tmp = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = -1
    done = False
    try:
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            fd = os.open(tmp, flags, 0o666)
            with os.fdopen(fd, "wb") as fh:
                fd = -1  # the file object owns it now
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            done = True
        except OSError as exc:
            if exc.errno is None:
                raise
            raise OSError(
                exc.errno,
                f"cannot save {str(path)!r}: {exc.strerror or exc}; the old file, if any, is "
                "unchanged",
            ) from exc
    finally:
        # Inline (no call before the inner try): a second Ctrl-C arriving while we clean up is
        # caught, the cleanup finishes, and the interrupt is raised afterwards.
        interrupted: KeyboardInterrupt | None = None
        while not done:
            try:
                if fd >= 0:
                    fd, closing = -1, fd
                    with contextlib.suppress(OSError):
                        os.close(closing)
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                done = True
            except KeyboardInterrupt as exc:
                interrupted = exc
        if interrupted is not None:
            raise interrupted
    _sync_folder(folder)
