"""Where the inbox lives and how strict it is: the ``[inbox]`` table of the server's config file.

The office's password and the paths are read from the same TOML file as the rest of the server's
configuration (``nianbao serve --config``); the server process finds it through ``NIANBAO_CONFIG``,
which ``nianbao serve`` sets for its workers.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_ENV = "NIANBAO_CONFIG"
#: Shortest office password accepted (attempts are limited too, see ``InboxSettings.attempts``).
MIN_PASSWORD = 8


class InboxError(Exception):
    """A request the inbox refuses; ``str()`` is the Chinese reason, ``status`` the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(InboxError):
    def __init__(self, minutes: int, message: str = "") -> None:
        super().__init__(message or f"尝试次数过多，请 {minutes} 分钟后再试。", 429)


@dataclass(frozen=True)
class InboxSettings:
    """The ``[inbox]`` table of the server's config file (serve.toml).

    ``folder`` is the inbox (收文) folder, ``database`` the SQLite file; the office's outputs
    (register copy, code lists, summaries) go beside the database, never into the inbox.

    A code is all it takes to submit, and every submission is kept for good, so what one code
    holder can make the server keep is bounded: ``submissions_per_hour`` per unit, at most
    ``unit_max_submissions`` records and ``unit_quota_mb`` of kept files per unit, ``quota_mb``
    of kept files in all, and never less than ``min_free_mb`` left free on the inbox's disk. A
    report workbook is ~30–100 KB: the defaults leave room for hundreds of submissions per unit.
    """

    folder: Path
    database: Path
    office_password: str = ""
    name: str = ""
    year: int | None = None
    attempts: int = 5
    lockout_minutes: int = 15
    submissions_per_hour: int = 30
    unit_max_submissions: int = 200
    unit_quota_mb: float = 200.0
    quota_mb: float = 20480.0
    min_free_mb: float = 1024.0

    @property
    def data_dir(self) -> Path:
        return self.database.parent


def load_settings(config: Path | None) -> InboxSettings:
    """Read ``[inbox]`` from the config file; relative paths are relative to the file's folder.

    Without the table (or without a file) the inbox lives beside the config file: ``收文/`` and
    ``inbox.sqlite3``. The database must not lie inside the inbox folder, whose every file counts.
    """
    base = config.parent if config is not None else Path.cwd()
    table: dict[str, Any] = {}
    if config is not None and config.is_file():
        try:
            data = tomllib.loads(config.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InboxError(f"配置文件 {config} 格式有误（应为 TOML）：{exc}") from None
        raw = data.get("inbox", {})
        if not isinstance(raw, dict):
            raise InboxError(f"配置文件 {config} 中的 inbox 应为一个表（[inbox]）。")
        table = raw

    def path(key: str, default: str) -> Path:
        p = Path(str(table.get(key) or default)).expanduser()
        return (p if p.is_absolute() else base / p).resolve()

    folder, database = path("folder", "收文"), path("database", "inbox.sqlite3")
    if database.parent == folder or folder in database.parents:
        raise InboxError(f"数据库 {database} 不能放在收文夹 {folder} 里（收文夹中的每个文件都会被汇总）。")
    password = str(table.get("office_password", ""))
    if 0 < len(password) < MIN_PASSWORD:
        raise InboxError(f"配置文件 {config} 的 [inbox] office_password 太短：至少 {MIN_PASSWORD} 个字符"
                         "（它保护各单位的全部报送文件）。")
    year = table.get("year")
    defaults = InboxSettings(folder, database)
    try:
        counts = {key: int(table.get(key, getattr(defaults, key)))
                  for key in ("attempts", "lockout_minutes", "submissions_per_hour", "unit_max_submissions")}
    except (TypeError, ValueError):
        raise InboxError(f"配置文件 {config} 的 [inbox] 中 year、attempts、lockout_minutes、submissions_per_hour、"
                         "unit_max_submissions 应为整数。") from None
    try:
        sizes = {key: float(table.get(key, getattr(defaults, key))) for key in ("unit_quota_mb", "quota_mb", "min_free_mb")}
    except (TypeError, ValueError):
        sizes = {}
    if len(sizes) < 3 or any(not 0 <= v < 1e9 for v in sizes.values()):
        raise InboxError(f"配置文件 {config} 的 [inbox] 中 unit_quota_mb、quota_mb、min_free_mb 应为不小于 0 的数（单位 MB）。")
    if any(v < 1 for v in counts.values()):
        raise InboxError(f"配置文件 {config} 的 [inbox] 中 attempts、lockout_minutes、submissions_per_hour、"
                         "unit_max_submissions 应为正整数。")
    try:
        return InboxSettings(folder, database, password, str(table.get("name", "")).strip(),
                             int(year) if year not in (None, "") else None, **counts, **sizes)
    except (TypeError, ValueError):
        raise InboxError(f"配置文件 {config} 的 [inbox] 中 year、attempts、lockout_minutes 应为整数。") from None


def settings_from_environment() -> InboxSettings:
    """The settings of the running server: ``nianbao serve`` names its config file in ``NIANBAO_CONFIG``."""
    config = os.environ.get(CONFIG_ENV, "").strip()
    return load_settings(Path(config) if config else None)
