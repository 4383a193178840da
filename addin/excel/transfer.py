"""Files that travel between the add-in server and the clerk's browser: the units' workbooks the
task pane uploads for 汇总, and the files the buttons make (the PDF of 导出PDF, the summary of
汇总) until the clerk downloads them.

Why a folder of random tokens rather than memory: ``nianbao serve --workers N`` runs several
processes, and the request that makes a file is rarely served by the process that answers its
download. A folder that every worker sees, with names nobody can guess, works for any number of
workers. Entries older than the time to live (one hour by default) are swept away by a timer in
every server process (and whenever a new one is made); a restart does not invalidate a token that
has not expired. The token is the only key — the browser that opens a download link
(``openBrowserWindow``, or a link pasted from a VBA message) cannot send the add-in's credentials.

Why a private folder: the tokens are the folder names, so whoever can list the folder can download
every unit's files. The folder is created 0700 in the service account's own cache directory (or
where IT configured it) and refused, in Chinese, when it is a symbolic link, belongs to another
user or cannot be made private — a predictable folder under ``/tmp`` that another local user
created first would otherwise hand them the tokens.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from addin.publish.safety import safe_name

DIR_ENV = "NIANBAO_TRANSFER_DIR"
TTL_ENV = "NIANBAO_TRANSFER_TTL"
#: The address ``nianbao serve`` listens on, for download links in messages to VBA clients.
PUBLIC_URL_ENV = "NIANBAO_PUBLIC_URL"
DEFAULT_TTL = 3600.0
MAX_FILES = 3000  # a city with many counties' units uploads at most this many files at once
#: Total size of one upload, in MB. A unit's workbook is 30–100 KB, so the default leaves room for
#: MAX_FILES files many times over, yet one request cannot fill the server's disk.
UPLOAD_MB_ENV = "NIANBAO_UPLOAD_MAX_MB"
DEFAULT_UPLOAD_MB = 500
#: All upload batches together, in MB: several uploads at once (or a hostile script) cannot fill
#: the disk either. Unused batches expire with the time to live.
UPLOAD_TOTAL_MB_ENV = "NIANBAO_UPLOAD_TOTAL_MB"
DEFAULT_UPLOAD_TOTAL_MB = 2000
_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")


class TransferFolderError(RuntimeError):
    """The transfer folder is not private to this service; the message says why, in Chinese."""


def _megabytes(env: str, default: float) -> int:
    text = os.environ.get(env, "").strip()
    try:
        mb = float(text) if text else default
    except ValueError:
        mb = default
    return int(max(mb, 0.001) * 1024 * 1024)


def upload_limit() -> int:
    """The most bytes one upload may hold (``NIANBAO_UPLOAD_MAX_MB``, else 500 MB)."""
    return _megabytes(UPLOAD_MB_ENV, DEFAULT_UPLOAD_MB)


def upload_total_limit() -> int:
    """The most bytes all upload batches together may hold (``NIANBAO_UPLOAD_TOTAL_MB``, else 2000 MB)."""
    return _megabytes(UPLOAD_TOTAL_MB_ENV, DEFAULT_UPLOAD_TOTAL_MB)


def default_root() -> Path:
    """The service account's own cache directory: ``%LOCALAPPDATA%\\nianbao\\transfer`` on Windows,
    ``$XDG_CACHE_HOME/nianbao/transfer`` (``~/.cache/nianbao/transfer``) elsewhere."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA", "").strip()
        return (Path(base) if base else Path.home() / "AppData" / "Local") / "nianbao" / "transfer"
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache") / "nianbao" / "transfer"


def ensure_private(folder: Path) -> Path:
    """Create ``folder`` (0700) or check the existing one: a real directory (not a symbolic link),
    owned by this process's user, with no access for others (tightened when we own it). Raises
    ``TransferFolderError`` with the reason and what to do, in Chinese."""
    hint = f"请换一个只有运行本服务的账户能访问的文件夹（配置文件中的 transfer_dir 或环境变量 {DIR_ENV}）。"
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
        info = os.lstat(folder)
    except OSError as exc:
        raise TransferFolderError(f"无法创建临时文件夹 {folder}（{exc.strerror or exc}）。{hint}") from None
    if stat.S_ISLNK(info.st_mode):
        raise TransferFolderError(f"临时文件夹 {folder} 是一个符号链接，可能被他人替换过，不能使用。{hint}")
    if not stat.S_ISDIR(info.st_mode):
        raise TransferFolderError(f"临时文件夹 {folder} 不是文件夹。{hint}")
    if hasattr(os, "geteuid"):  # POSIX: ownership and mode mean something
        if info.st_uid != os.geteuid():
            raise TransferFolderError(f"临时文件夹 {folder} 属于其他用户（uid {info.st_uid}），"
                                      f"他人可以读取其中的下载文件。{hint}")
        if stat.S_IMODE(info.st_mode) & 0o077:
            try:
                os.chmod(folder, 0o700)
            except OSError as exc:
                raise TransferFolderError(f"无法把临时文件夹 {folder} 设为仅本账户可访问（{exc.strerror or exc}）。{hint}") from None
    return folder


@dataclass(frozen=True)
class Transfers:
    """The transfer folder: ``downloads/<token>/<file>`` and ``uploads/<token>/<files>``."""

    root: Path
    ttl: float = DEFAULT_TTL

    @classmethod
    def default(cls) -> Transfers:
        """The folder from ``NIANBAO_TRANSFER_DIR`` (shared by all workers), else the private one in
        the service account's cache directory."""
        root = os.environ.get(DIR_ENV, "").strip()
        text = os.environ.get(TTL_ENV, "").strip()
        try:
            ttl = float(text) if text else DEFAULT_TTL
        except ValueError:
            ttl = DEFAULT_TTL
        return cls(Path(root).expanduser() if root else default_root(), ttl if ttl > 0 else DEFAULT_TTL)

    def ensure(self) -> Path:
        """The root, created or checked private (``TransferFolderError`` otherwise)."""
        return ensure_private(self.root)

    @property
    def lifetime(self) -> str:
        """How long a file stays, as the messages say it: “1 小时”, “30 分钟”."""
        minutes = max(1, round(self.ttl / 60))
        return f"{minutes // 60} 小时" if minutes % 60 == 0 else f"{minutes} 分钟"

    @property
    def sweep_interval(self) -> float:
        """How often the server's timer sweeps: a quarter of the time to live, 1 s to 5 min."""
        return min(300.0, max(1.0, self.ttl / 4))

    # -- downloads ---------------------------------------------------------------------------

    def new_download(self, filename: str) -> tuple[str, Path]:
        """A fresh token and the path the file to offer must be written to (atomically)."""
        token, folder = self._new("downloads")
        return token, folder / safe_name(filename)

    def download(self, token: str) -> Path | None:
        """The file behind a download token, or None when the token is unknown, malformed,
        expired or its file is not written yet."""
        folder = self._folder("downloads", token)
        if folder is None or self._expired(folder):
            return None
        files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".~")]
        return files[0] if len(files) == 1 else None

    # -- uploads -----------------------------------------------------------------------------

    def new_batch(self) -> tuple[str, Path]:
        """A fresh upload batch: its token and folder."""
        return self._new("uploads")

    def batch(self, token: str) -> Path | None:
        """The folder of an upload batch, or None when unknown, malformed or expired."""
        folder = self._folder("uploads", token)
        return None if folder is None or self._expired(folder) else folder

    def discard(self, folder: Path) -> None:
        """Remove a batch once it is consumed (the units' files are not kept on the server)."""
        shutil.rmtree(folder, ignore_errors=True)

    def usage(self, kind: str = "uploads") -> int:
        """Bytes held by all entries of ``kind`` (what the upload quota counts)."""
        total = 0
        base = self.root / kind
        if not base.is_dir():
            return 0
        for dirpath, _, files in os.walk(base):
            for name in files:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    pass  # removed meanwhile
        return total

    # -- housekeeping ------------------------------------------------------------------------

    def sweep(self) -> int:
        """Remove every entry older than the time to live; returns how many went."""
        gone = 0
        for kind in ("downloads", "uploads"):
            base = self.root / kind
            if not base.is_dir():
                continue
            for folder in base.iterdir():
                if folder.is_dir() and self._expired(folder):
                    shutil.rmtree(folder, ignore_errors=True)
                    gone += 1
        return gone

    def _new(self, kind: str) -> tuple[str, Path]:
        self.ensure()
        self.sweep()
        token = secrets.token_urlsafe(24)
        base = self.root / kind
        base.mkdir(mode=0o700, exist_ok=True)
        folder = base / token
        folder.mkdir(mode=0o700)
        return token, folder

    def _folder(self, kind: str, token: str) -> Path | None:
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            return None
        folder = self.root / kind / token
        return folder if folder.is_dir() else None

    def _expired(self, folder: Path) -> bool:
        try:
            return time.time() - folder.stat().st_mtime > self.ttl
        except OSError:
            return True


__all__ = ["DIR_ENV", "MAX_FILES", "PUBLIC_URL_ENV", "TTL_ENV", "UPLOAD_MB_ENV", "UPLOAD_TOTAL_MB_ENV",
           "TransferFolderError", "Transfers", "default_root", "ensure_private", "safe_name", "upload_limit",
           "upload_total_limit"]
