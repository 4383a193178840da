"""Folders and files only the account running the server can read.

Why: the codes list is the only plain copy of every unit's submission code, the database holds
the office's sessions and every unit's findings, and the inbox holds the units' files. On a
shared server the default modes (0755 folders, 0644 files) let every local account read them, so
the inbox makes its folders 0700 and its files 0600 (POSIX; on Windows the folder's ACL inherited
from its parent decides, and these calls change nothing there).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from workbook.atomic import TEMP_PREFIX

DIR_MODE = 0o700
FILE_MODE = 0o600
POSIX = os.name == "posix"


def private_dir(path: Path, tighten: bool = True) -> Path:
    """Make ``path`` and any missing parent 0700. An existing ``path`` is tightened to 0700 only
    when ``tighten`` (a folder of the inbox's own); existing parents are never changed."""
    path = Path(path)
    missing = []
    for p in (path, *path.parents):
        if p.exists():
            break
        missing.append(p)
    for p in reversed(missing):
        with contextlib.suppress(FileExistsError):
            p.mkdir(mode=DIR_MODE)
        private_mode(p, DIR_MODE)  # the umask may have taken bits away, never added: set exactly
    if tighten and not missing and path.is_dir():
        private_mode(path, DIR_MODE)
    return path


def private_mode(path: Path, mode: int = FILE_MODE) -> None:
    """chmod where it means something and is ours to do (a file another account owns is left)."""
    if POSIX:
        with contextlib.suppress(FileNotFoundError, PermissionError):
            os.chmod(path, mode)


def create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (SQLite then gives its -wal and
    -shm files the same mode), and tighten it if it does."""
    if POSIX:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE))
        private_mode(path)


def open_private(path: Path) -> int:
    """A new file opened for writing with mode 0600 from its first byte (a descriptor)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), FILE_MODE)


@contextlib.contextmanager
def private_atomic(target: Path) -> Iterator[Path]:
    """Like ``workbook.atomic.atomic_path`` but the file is 0600 from its creation to its rename
    (``mkstemp`` makes it so): there is no moment at which another account could open it."""
    target = Path(target)
    private_dir(target.parent, tighten=False)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{target.stem[:40]}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        private_mode(tmp_path)  # a writer that replaced the file (openpyxl does not) gets 0600 back
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


__all__ = ["DIR_MODE", "FILE_MODE", "create_private", "open_private", "private_atomic", "private_dir", "private_mode"]
