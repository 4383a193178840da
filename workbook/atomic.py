"""Atomic output: write beside the target, then rename, so a crash never leaves half a file.

A crash can still leave the *temporary* file behind (``kill -9`` between the write and the
rename), and a killed consolidation leaves its spool folder in the system's temporary folder. So
every temporary name we make is recognisable — :data:`TEMP_PREFIX` beside an output,
``nianbao-<kind>-`` in the temporary folder — and the next run removes the stale ones: only names
of those exact shapes, only entries owned by the user running the command, only those untouched
for :data:`STALE_AFTER` seconds (far longer than any write or conversion runs, LibreOffice's
time-out included), never following a symbolic link. A file the user saved is never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Iterable, Iterator

#: Start of every temporary file or folder made beside an output.
TEMP_PREFIX = ".~nianbao-"
#: Temporary folders in the system's temporary folder: ``nianbao-<kind>-XXXXXXXX``.
TEMP_KINDS = ("spool", "pdf", "lo", "in")
#: A temporary entry untouched this long belongs to a run that died (30 minutes).
STALE_AFTER = 30 * 60
#: Extensions our atomic writes use (the earlier naming ``.~<stem>.XXXXXXXX.<ext>`` is swept too).
OUTPUT_SUFFIXES = ("xlsx", "xlsm", "pdf", "html", "htm", "docx", "csv", "json", "md", "txt", "xml")

_RANDOM = r"[a-z0-9_]{8}"  # what tempfile puts in the middle of a name
_BESIDE = re.compile(rf"^{re.escape(TEMP_PREFIX)}(?:.*\.)?{_RANDOM}(?:\.[A-Za-z0-9]+)?$", re.S)
_LEGACY = re.compile(rf"^\.~.*\.{_RANDOM}\.(?:{'|'.join(OUTPUT_SUFFIXES)})$", re.S | re.I)
_IN_TEMP = re.compile(rf"^nianbao-(?:{'|'.join(TEMP_KINDS)})-{_RANDOM}$")

_swept: set[str] = set()


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_once(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{target.stem[:40]}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; an output on a shared office folder must be readable like any
        # file the user saves (keep the replaced file's mode, else the umask's default)
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o666 & ~_umask()
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes_atomic(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: Path, text: str, encoding: str = "utf-8") -> None:
    write_bytes_atomic(target, text.encode(encoding))


# --- stale temporary files -----------------------------------------------------------------------

def is_temp_name(name: str, in_temp_folder: bool = False) -> bool:
    """Whether ``name`` has the shape of a temporary entry we make (beside an output, or in the
    system's temporary folder)."""
    if in_temp_folder:
        return bool(_IN_TEMP.match(name))
    return bool(_BESIDE.match(name) or _LEGACY.match(name))


def _mine(info: os.stat_result) -> bool:
    getuid = getattr(os, "getuid", None)
    return getuid is None or info.st_uid == getuid()  # Windows: the user's own folders


def _last_touched(path: Path, info: os.stat_result) -> float:
    """When the entry was last written: for a folder, the latest of it and its direct entries
    (a live run keeps writing inside its folder)."""
    newest = info.st_mtime
    if stat.S_ISDIR(info.st_mode):
        with contextlib.suppress(OSError), os.scandir(path) as entries:
            for n, entry in enumerate(entries):
                if n > 10_000:
                    break
                with contextlib.suppress(OSError):
                    newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    return newest


def sweep(folder: Path, in_temp_folder: bool = False, older_than: float = STALE_AFTER) -> list[Path]:
    """Remove stale temporary entries of ours from ``folder``; return what was removed.

    Never raises for a single entry: one that cannot be removed (another user's, in use on
    Windows) is left alone."""
    removed: list[Path] = []
    now = time.time()
    try:
        names = [e.name for e in os.scandir(folder)]
    except OSError:
        return removed
    for name in names:
        if not is_temp_name(name, in_temp_folder):
            continue
        path = Path(folder) / name
        try:
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode) or not _mine(info):
                continue
            if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
                continue
            if now - _last_touched(path, info) < older_than:
                continue
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path)
        except OSError:
            continue
    return removed


def sweep_once(folder: Path) -> list[Path]:
    """:func:`sweep` a folder the first time this process writes there (later writes skip it)."""
    key = os.path.abspath(folder)
    if key in _swept:
        return []
    _swept.add(key)
    return sweep(Path(folder))


def sweep_temp(folders: Iterable[Path] | None = None) -> list[Path]:
    """:func:`sweep` the system's temporary folder for our spool and conversion folders."""
    removed: list[Path] = []
    for folder in folders if folders is not None else [Path(tempfile.gettempdir())]:
        removed += sweep(Path(folder), in_temp_folder=True)
    return removed
