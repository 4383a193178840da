"""Files that travel between the add-in server and the clerk's browser: the units' workbooks the
task pane uploads for 汇总, and the files the buttons make (the PDF of 导出PDF, the summary of
汇总) until the clerk downloads them.

Why a folder of random tokens rather than memory: ``nianbao serve --workers N`` runs several
processes, and the request that makes a file is rarely served by the process that answers its
download. A folder that every worker sees, with names nobody can guess, works for any number of
workers and survives nothing it should not: entries older than the time to live (one hour by
default) are swept away whenever a new one is made, and a restart of the server may sweep them
too. The token is the only key — the browser that opens a download link (``openBrowserWindow``,
or a link pasted from a VBA message) cannot send the add-in's credentials.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
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
_TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")


def upload_limit() -> int:
    """The most bytes one upload may hold (``NIANBAO_UPLOAD_MAX_MB``, else 500 MB)."""
    text = os.environ.get(UPLOAD_MB_ENV, "").strip()
    try:
        mb = float(text) if text else DEFAULT_UPLOAD_MB
    except ValueError:
        mb = DEFAULT_UPLOAD_MB
    return int(max(mb, 0.001) * 1024 * 1024)




@dataclass(frozen=True)
class Transfers:
    """The transfer folder: ``downloads/<token>/<file>`` and ``uploads/<token>/<files>``."""

    root: Path
    ttl: float = DEFAULT_TTL

    @classmethod
    def default(cls) -> Transfers:
        """The folder from ``NIANBAO_TRANSFER_DIR`` (shared by all workers), else one in the temp dir."""
        root = os.environ.get(DIR_ENV, "").strip()
        ttl = os.environ.get(TTL_ENV, "").strip()
        return cls(Path(root) if root else Path(tempfile.gettempdir()) / "nianbao-addin",
                   float(ttl) if ttl else DEFAULT_TTL)

    @property
    def lifetime(self) -> str:
        """How long a file stays, as the messages say it: “1 小时”, “30 分钟”."""
        minutes = max(1, round(self.ttl / 60))
        return f"{minutes // 60} 小时" if minutes % 60 == 0 else f"{minutes} 分钟"

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
        self.sweep()
        token = secrets.token_urlsafe(24)
        folder = self.root / kind / token
        folder.mkdir(parents=True, mode=0o700)
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


__all__ = ["DIR_ENV", "MAX_FILES", "PUBLIC_URL_ENV", "TTL_ENV", "UPLOAD_MB_ENV", "Transfers", "safe_name", "upload_limit"]
