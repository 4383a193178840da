"""The inbox folder and its database, kept in step.

See the package's text for why. In short: a submission's file is copied to a temporary name, its
record inserted in a write transaction (``BEGIN IMMEDIATE``: writers of every server process queue
there), the files renamed into place, and only then is the transaction committed; any failure on
the way undoes the renames and rolls back, and ``reconcile`` repairs what a crash left.

What one person can make the server do is bounded here too:

* **Attempts** (codes and the office password) are counted per (address, unit) — a clerk's typos
  lock out that clerk's computer for that unit, nobody else — and per address over all units (one
  computer trying many units); the address is the one the guard judged (``X-Forwarded-For`` only
  from ``trusted_proxies``). No count ever refuses a correct code or password from another
  address: an attack on one unit's code from many addresses, or on everything at once, only slows
  every attempt down (``delay``). The check and the recording of an attempt are one write
  transaction, so concurrent guesses cannot slip past the count; a correct code takes its attempt
  back.
* **What is kept**: a file the reader could not read is not kept (its record keeps the size and
  the SHA-256); a unit may submit ``submissions_per_hour`` times an hour; records and kept bytes
  are capped per unit and in all, and a disk left with less than ``min_free_mb`` takes nothing
  more (HTTP 507 with the reason in Chinese).
* **Modes**: the inbox's folders are 0700 and its files — the database, the codes list, the
  units' files — 0600 (``private``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import sqlite3
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from workbook.atomic import atomic_path
from workbook.errors import os_error_text
from workbook.layout import NOTES_SHEET
from workbook.read import MAX_BYTES

from addin.county.consolidate import ConsolidateOptions, ConsolidationResult, consolidate, save
from addin.county.inbox.codes import (HANDLE_LEN, SECRET_LEN, hash_secret, new_code, split_code, verify_secret,
                                      write_codes)
from addin.county.inbox.records import (BoardRow, Examined, IssuedCode, Submission, Unit, finding_json,
                                        now_text)
from addin.county.inbox.private import create_private, open_private, private_atomic, private_dir, private_mode
from addin.county.inbox.settings import InboxError, InboxSettings, RateLimited
from addin.county.register import RegisterError, load_register, norm_code, norm_name
from addin.publish.safety import safe_name

SCHEMA_VERSION = "1"
HISTORY_DIR = ".history"
TEMP_DIR = ".tmp"
ORPHAN_DIR = ".orphans"
#: The place a record names for a file that was not kept (the reader could not read it).
NOT_KEPT = "(未保存)"
SESSION_HOURS = 8
#: An address may fail this many times ``attempts`` over all units within the lockout window.
ADDRESS_FACTOR = 4
#: Failures of one unit's code (any address) beyond ``attempts``, or of all codes beyond
#: ``attempts * SLOW_FACTOR``, within the window: every attempt then waits ``SLOW_SECONDS``.
SLOW_FACTOR = 20
SLOW_SECONDS = 2.0
MB = 1024 * 1024
WRONG_CODE = "报送码不正确。请核对县政务公开办发放的报送码（形如 ABCD-EFGH-JKMN）；遗失的请联系县政务公开办重置。"
WRONG_PASSWORD = "密码不正确。"
_DUMMY_HASH = hash_secret("0" * SECRET_LEN, b"\0" * 16)


SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS units (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, credit_code TEXT NOT NULL DEFAULT '',
    unit_type TEXT NOT NULL DEFAULT '', parent TEXT NOT NULL DEFAULT '', line INTEGER NOT NULL DEFAULT 0,
    listed INTEGER NOT NULL DEFAULT 1, handle TEXT UNIQUE, code_hash TEXT, code_set_at TEXT,
    filename TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY, unit_id INTEGER NOT NULL REFERENCES units(id), received_at TEXT NOT NULL,
    state TEXT NOT NULL, path TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    original_name TEXT NOT NULL, hard INTEGER NOT NULL, soft INTEGER NOT NULL, explained INTEGER NOT NULL,
    verdict TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', findings TEXT NOT NULL DEFAULT '[]',
    receipt_key TEXT NOT NULL UNIQUE, client TEXT NOT NULL DEFAULT '', state_at TEXT NOT NULL DEFAULT '',
    state_note TEXT NOT NULL DEFAULT '', stored INTEGER NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS submissions_unit ON submissions(unit_id, id);
CREATE UNIQUE INDEX IF NOT EXISTS one_current ON submissions(unit_id) WHERE state = 'current';
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, unit_id INTEGER, submission_id INTEGER, kind TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS failures (at REAL NOT NULL, scope TEXT NOT NULL, key TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS failures_key ON failures(scope, key, at);
CREATE TABLE IF NOT EXISTS sessions (token_hash TEXT PRIMARY KEY, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS uploads (at REAL NOT NULL, unit_id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS uploads_unit ON uploads(unit_id, at);
"""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable (POSIX; Windows has no directory handles to sync)."""
    if sys.platform == "win32":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Inbox:
    """The inbox folder and its database. Cheap to create; every method opens its own connection,
    so one object serves all threads of a server process, and several processes share the files."""

    def __init__(self, settings: InboxSettings, reconcile: bool = True) -> None:
        self.settings = settings
        self.folder = settings.folder
        #: Codes this process has verified (keyed by an HMAC with a key of this process only, never
        #: the code): a unit submitting again skips the deliberately slow hash.
        self._key = secrets.token_bytes(32)
        self._verified: dict[tuple[str, bytes], str] = {}
        private_dir(self.folder)
        private_dir(settings.data_dir, tighten=False)  # may be the config's folder: not ours to tighten
        create_private(settings.database)
        for extra in ("-wal", "-shm"):  # a database made before the inbox set modes
            private_mode(settings.database.with_name(settings.database.name + extra))
        with self.connect() as conn:
            conn.executescript(SCHEMA)
            columns = {r["name"] for r in conn.execute("PRAGMA table_info(submissions)")}
            if "stored" not in columns:  # a database from before files could go unkept
                conn.execute("ALTER TABLE submissions ADD COLUMN stored INTEGER NOT NULL DEFAULT 1")
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        self.repairs: list[str] = self.reconcile() if reconcile else []

    # -- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.settings.database, timeout=60, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # a receipt shown is a record kept, power cut or not
            conn.execute("PRAGMA foreign_keys=ON")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: taken at once (``BEGIN IMMEDIATE``), so writers of every server
        process queue here, and the file moves made inside it happen one submission at a time."""
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def meta(self, key: str) -> str:
        with self.connect() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else ""

    @staticmethod
    def _event(conn: sqlite3.Connection, kind: str, unit_id: int | None = None, submission_id: int | None = None,
               note: str = "") -> None:
        conn.execute("INSERT INTO events (at, unit_id, submission_id, kind, note) VALUES (?, ?, ?, ?, ?)",
                     (now_text(), unit_id, submission_id, kind, note))

    # -- units and codes -----------------------------------------------------------------------

    def import_register(self, register: Path,
                        deliver: Callable[[list[IssuedCode]], object] | None = None) -> list[IssuedCode]:
        """Take the county's register (单位名单): keep a copy beside the database (the 汇总 uses it,
        as ``--units``), add new units, mark units no longer listed, and give every unit without a
        code a new one. Returns the codes made now — the only time they exist in plain text.

        ``deliver`` (writing the codes list) runs before the transaction commits: if it fails,
        no code is kept, rather than codes kept that nobody was given."""
        try:
            reg = load_register(register)
        except RegisterError as exc:
            raise InboxError(str(exc)) from None
        if not reg.entries:
            raise InboxError(f"单位名单 {register.name} 中没有单位。")
        copy = self.settings.data_dir / f"单位名单{register.suffix.lower()}"
        with private_atomic(copy) as tmp:
            shutil.copyfile(register, tmp)
        issued: list[IssuedCode] = []
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('register', ?)", (copy.name,))
            rows = conn.execute("SELECT * FROM units").fetchall()
            by_code = {norm_code(r["credit_code"]): r for r in rows if r["credit_code"]}
            by_name = {norm_name(r["name"]): r for r in rows}
            taken = {r["filename"] for r in rows}
            seen: set[int] = set()
            for entry in reg.entries:
                row = by_code.get(norm_code(entry.code)) if entry.code else None
                row = row or by_name.get(norm_name(entry.name))
                if row is not None:
                    conn.execute("UPDATE units SET name=?, credit_code=?, unit_type=?, parent=?, line=?, listed=1 WHERE id=?",
                                 (entry.name, entry.code, entry.unit_type, entry.parent, entry.line, row["id"]))
                    seen.add(row["id"])
                    continue
                filename = safe_name(f"{entry.name}.xlsx", "单位.xlsx", strip_path=False)
                if filename in taken or filename.startswith("~$"):
                    filename = safe_name(f"{entry.name}（{entry.code or entry.line}）.xlsx", "单位.xlsx", strip_path=False)
                taken.add(filename)
                cur = conn.execute("INSERT INTO units (name, credit_code, unit_type, parent, line, filename) VALUES (?, ?, ?, ?, ?, ?)",
                                   (entry.name, entry.code, entry.unit_type, entry.parent, entry.line, filename))
                seen.add(int(cur.lastrowid or 0))
                self._event(conn, "unit_added", cur.lastrowid, note=entry.name)
            for r in rows:
                if r["id"] not in seen and r["listed"]:
                    conn.execute("UPDATE units SET listed=0 WHERE id=?", (r["id"],))
                    self._event(conn, "unit_unlisted", r["id"], note=r["name"])
            handles = {r["handle"] for r in conn.execute("SELECT handle FROM units WHERE handle IS NOT NULL")}
            for r in conn.execute("SELECT id FROM units WHERE listed=1 AND code_hash IS NULL ORDER BY line").fetchall():
                issued.append(IssuedCode(self._unit(conn, r["id"]), self._set_code(conn, r["id"], handles)))
            if issued and deliver is not None:
                try:
                    deliver(issued)
                except OSError as exc:  # rolled back: no unit holds a code nobody was given
                    raise InboxError(f"报送码文件无法写出（{os_error_text(exc)}），没有生成报送码。") from None
        return issued

    def _set_code(self, conn: sqlite3.Connection, unit_id: int, taken: set[str] | None = None) -> str:
        """A new code for a unit (its handle unique among ``taken``, which it joins)."""
        if taken is None:
            taken = {r["handle"] for r in conn.execute("SELECT handle FROM units WHERE handle IS NOT NULL")}
        while True:
            handle, secret, code = new_code()
            if handle not in taken:
                taken.add(handle)
                break
        conn.execute("UPDATE units SET handle=?, code_hash=?, code_set_at=? WHERE id=?",
                     (handle, hash_secret(secret), now_text(), unit_id))
        self._event(conn, "code_set", unit_id)
        return code

    def reset_code(self, unit_id: int) -> IssuedCode:
        """A new code for one unit; the old one stops working at once."""
        with self.transaction() as conn:
            unit = self._unit(conn, unit_id)
            return IssuedCode(unit, self._set_code(conn, unit_id))

    @staticmethod
    def _unit_of(row: sqlite3.Row) -> Unit:
        return Unit(row["id"], row["name"], row["credit_code"], row["unit_type"], row["parent"], row["filename"],
                    bool(row["listed"]))

    def _unit(self, conn: sqlite3.Connection, unit_id: int) -> Unit:
        row = conn.execute("SELECT * FROM units WHERE id=?", (unit_id,)).fetchone()
        if row is None:
            raise InboxError("没有这个单位。", 404)
        return self._unit_of(row)

    def unit(self, unit_id: int) -> Unit:
        with self.connect() as conn:
            return self._unit(conn, unit_id)

    def units(self) -> list[Unit]:
        with self.connect() as conn:
            return [self._unit_of(r) for r in conn.execute("SELECT * FROM units ORDER BY listed DESC, line, id")]

    # -- attempts ------------------------------------------------------------------------------

    def _attempt(self, limits: list[tuple[str, str, int]], record: list[tuple[str, str]]) -> list[int]:
        """Check and record one attempt in ONE write transaction (concurrent guesses queue here, so
        none slips past a count): refused with ``RateLimited`` when a (scope, key) of ``limits``
        already has its number of failures within the window; else a failure row is recorded for
        each of ``limits`` and ``record`` (counted only for the slow-down) and their row ids are
        returned — a correct answer takes them back (``_succeeded``)."""
        window = self.settings.lockout_minutes * 60
        now = time.time()
        with self.transaction() as conn:
            conn.execute("DELETE FROM failures WHERE at < ?", (now - max(window, 86400),))
            for scope, key, limit in limits:
                rows = conn.execute("SELECT at FROM failures WHERE scope=? AND key=? AND at>=? ORDER BY at",
                                    (scope, key, now - window)).fetchall()
                if len(rows) >= limit:
                    wait = rows[-limit]["at"] + window - now
                    raise RateLimited(max(1, int(wait // 60) + 1))
            ids = []
            for scope, key in [(scope, key) for scope, key, _ in limits] + record:
                ids.append(int(conn.execute("INSERT INTO failures VALUES (?, ?, ?)", (now, scope, key)).lastrowid or 0))
        return ids

    def _succeeded(self, ids: list[int]) -> None:
        with self.transaction() as conn:
            conn.executemany("DELETE FROM failures WHERE rowid=?", [(i,) for i in ids])

    def _failures(self, scope: str, key: str) -> int:
        since = time.time() - self.settings.lockout_minutes * 60
        with self.connect() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM failures WHERE scope=? AND key=? AND at>=?",
                                    (scope, key, since)).fetchone()[0])

    def delay(self, code: str | None = None) -> float:
        """Seconds every attempt waits now (the door sleeps them without holding a thread): a unit's
        code failed ``attempts`` times from any addresses, or all codes (``code`` None: the office
        password) ``attempts * SLOW_FACTOR`` times, within the window. A slow-down, never a refusal:
        the right code or password from another address still gets in."""
        n = self.settings.attempts
        if code is None:
            return SLOW_SECONDS if self._failures("office_all", "") >= n * ADDRESS_FACTOR else 0.0
        handle, _ = split_code(code)
        if self._failures("handle", handle) >= n or self._failures("codes", "") >= n * SLOW_FACTOR:
            return SLOW_SECONDS
        return 0.0

    def authenticate(self, code: str, client: str) -> Unit:
        """The unit a code belongs to. A wrong code — unknown handle or wrong secret, or a unit no
        longer on the register — gets the same answer after the same work. Too many failures lock
        out this address for this unit (``attempts``), or this address for all units (``attempts``
        × ``ADDRESS_FACTOR``) for a while; never another address."""
        handle, secret = split_code(code)
        n = self.settings.attempts
        pending = self._attempt([("pair", f"{client}|{handle}", n), ("address", client, n * ADDRESS_FACTOR)],
                                [("handle", handle), ("codes", "")])
        with self.connect() as conn:
            row = conn.execute("SELECT * FROM units WHERE handle=? AND listed=1", (handle,)).fetchone() \
                if len(handle) == HANDLE_LEN and len(secret) == SECRET_LEN else None
        seen = (handle, hmac.new(self._key, secret.encode(), "sha256").digest())
        if row is not None and self._verified.get(seen) == row["code_hash"]:
            ok = True  # verified before against this very hash (a reset changes the hash)
        else:
            ok = verify_secret(secret, row["code_hash"] if row is not None else _DUMMY_HASH) and row is not None
            if ok:
                if len(self._verified) > 20_000:
                    self._verified.clear()
                self._verified[seen] = row["code_hash"]
        if not ok:
            raise InboxError(WRONG_CODE, 403)
        self._succeeded(pending)
        return self._unit_of(row)

    def office_login(self, password: str, client: str) -> str:
        """A session token for the office page, or refused: ``attempts`` failures lock out that
        address only (and slow every attempt down, see ``delay``)."""
        expected = self.settings.office_password
        if not expected:
            raise InboxError("服务器的配置文件中没有设置县政务公开办的密码（[inbox] office_password），办公室页面不可用。", 503)
        pending = self._attempt([("office", client, self.settings.attempts)], [("office_all", "")])
        if not hmac.compare_digest(password.encode(), expected.encode()):
            raise InboxError(WRONG_PASSWORD, 403)
        self._succeeded(pending)
        token = secrets.token_urlsafe(32)
        with self.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE expires < ?", (time.time(),))
            conn.execute("INSERT INTO sessions VALUES (?, ?)",
                         (hashlib.sha256(token.encode()).hexdigest(), time.time() + SESSION_HOURS * 3600))
        return token

    def session_valid(self, token: str) -> bool:
        if not token or not self.settings.office_password:
            return False
        with self.connect() as conn:
            row = conn.execute("SELECT expires FROM sessions WHERE token_hash=?",
                               (hashlib.sha256(token.encode()).hexdigest(),)).fetchone()
        return row is not None and row["expires"] > time.time()

    def office_logout(self, token: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE token_hash=?", (hashlib.sha256(token.encode()).hexdigest(),))

    # -- submissions ---------------------------------------------------------------------------

    def refusal(self, unit: Unit, examined: Examined, original_name: str) -> str:
        """Why this file cannot be the unit's submission, or "" when it can."""
        result, report = examined.result, examined.report
        if result.error or report is None:
            return f"文件无法读取：{result.error}"
        if not original_name.lower().endswith(".xlsx"):
            return "请报送下发模板的 .xlsx 工作簿（不要另存为其他格式）。"
        if report.source != "template":
            return "这不是用下发模板填报的工作簿（是汇总表或据公开报告录入的工作簿），不能作为本单位的报表报送。"
        code, name = report.cover.get("credit_code", ""), report.unit
        same = (norm_code(code) == norm_code(unit.credit_code)) if code and unit.credit_code else norm_name(name) == norm_name(unit.name)
        if not same or not name:
            shown = f"“{name}”" if name else "（封面未填单位名称）"
            return (f"文件封面的单位是{shown}，与报送码对应的单位“{unit.name}”不符：请报送本单位的年报，"
                    "或核对封面的单位名称和统一社会信用代码。")
        year = self.settings.year
        if year is not None and report.year != year:
            return f"文件封面的年度是 {report.year or '（未填）'}，本次收的是 {year} 年度的年报。"
        if result.hard:
            rules = "、".join(dict.fromkeys(f.rule for f in result.hard))
            return f"还有 {len(result.hard)} 处错误（{rules}）必须改正后才能报送。"
        if examined.open_soft:
            rules = "、".join(dict.fromkeys(f.rule for f in examined.open_soft))
            return (f"有 {len(examined.open_soft)} 处提示（{rules}）既未改正也未在“{NOTES_SHEET}”页写明理由："
                    f"请核实，确需保留的在“{NOTES_SHEET}”页逐条写明理由后再报送。")
        return ""

    def reserve_upload(self, unit: Unit) -> None:
        """Count a submission of ``unit`` against ``submissions_per_hour`` — checked and recorded in
        one write transaction — before its file is checked (the check costs the server the most)."""
        limit, now = self.settings.submissions_per_hour, time.time()
        with self.transaction() as conn:
            conn.execute("DELETE FROM uploads WHERE at < ?", (now - 86400,))
            rows = conn.execute("SELECT at FROM uploads WHERE unit_id=? AND at>=? ORDER BY at",
                                (unit.id, now - 3600)).fetchall()
            if len(rows) >= limit:
                minutes = max(1, int((rows[-limit]["at"] + 3600 - now) // 60) + 1)
                raise RateLimited(minutes, f"本单位一小时内已报送 {len(rows)} 次，达到服务器设定的上限，请 {minutes} 分钟后再试。"
                                           "如确需频繁报送，请联系县政务公开办。")
            conn.execute("INSERT INTO uploads VALUES (?, ?)", (now, unit.id))

    def _room(self, conn: sqlite3.Connection, unit: Unit, size: int, keep: bool) -> None:
        """Refuse (507, in Chinese) a submission that would pass a cap on what is kept."""
        s = self.settings
        used = conn.execute("SELECT COUNT(*), COALESCE(SUM(CASE WHEN stored=1 THEN size END), 0) FROM submissions"
                            " WHERE unit_id=?", (unit.id,)).fetchone()
        after = "本次报送未保存。请联系县政务公开办（信息化人员可在配置文件 [inbox] 中调整 {}）。"
        if used[0] >= s.unit_max_submissions:
            raise InboxError(f"本单位已有 {used[0]} 次报送记录，达到服务器设定的上限（{s.unit_max_submissions} 次）。"
                             + after.format("unit_max_submissions"), 507)
        if not keep:
            return
        if used[1] + size > s.unit_quota_mb * MB:
            raise InboxError(f"本单位已保存的报送文件共 {used[1] / MB:.1f} MB，再保存这份（{size / MB:.1f} MB）将超过每个单位"
                             f" {s.unit_quota_mb:g} MB 的上限。" + after.format("unit_quota_mb"), 507)
        total = conn.execute("SELECT COALESCE(SUM(size), 0) FROM submissions WHERE stored=1").fetchone()[0]
        if total + size > s.quota_mb * MB:
            raise InboxError(f"收文夹已保存的报送文件共 {total / MB:.1f} MB，再保存这份将超过服务器设定的总量上限"
                             f"（{s.quota_mb:g} MB）。" + after.format("quota_mb"), 507)
        free = shutil.disk_usage(self.folder).free
        if free - size < s.min_free_mb * MB:
            raise InboxError(f"服务器磁盘剩余空间不足（约 {free / MB:.0f} MB）。" + after.format("min_free_mb"), 507)

    def submit(self, unit: Unit, upload: Path, original_name: str, examined: Examined, client: str = "") -> Submission:
        """Record a submission and keep its file: in force when the checks allow it (replacing the
        unit's earlier file, which moves to the history), else kept in the history as refused — or,
        when the reader could not read it, not kept at all (the record keeps its size and SHA-256:
        bytes no reader can read are no report, and keeping them would let a code holder fill the
        disk). Refused with 507 past a cap (``_room``). ``upload`` is the uploaded file (anywhere;
        it is copied, not moved)."""
        reason = self.refusal(unit, examined, original_name)
        size = upload.stat().st_size
        if size > MAX_BYTES:
            raise InboxError(f"文件超过 {MAX_BYTES // 1024 // 1024} MB，不是正常的年报工作簿。", 413)
        sha = sha256_file(upload)
        result = examined.result
        keep = not (result.error or examined.report is None)
        state = "refused" if reason else "current"
        findings = json.dumps([finding_json(f) for f in result.findings], ensure_ascii=False)
        explained = sum(1 for f in result.soft if f.explained)
        verdict = f"无法读取：{result.error}" if result.error else result.verdict()
        received = now_text()
        tmp_dir = private_dir(self.folder / TEMP_DIR)
        moves: list[tuple[Path, Path]] = []
        tmp = tmp_dir / f"{secrets.token_hex(8)}.part"
        try:
            with self.transaction() as conn:
                self._room(conn, unit, size, keep)
                if keep:
                    with open(upload, "rb") as src, os.fdopen(open_private(tmp), "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                        dst.flush()
                        os.fsync(dst.fileno())
                    if sha256_file(tmp) != sha:
                        raise InboxError("上传的文件在保存时发生变化，请重新报送。", 500)
                old = conn.execute("SELECT * FROM submissions WHERE unit_id=? AND state='current'", (unit.id,)).fetchone() \
                    if state == "current" else None
                next_id = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM submissions").fetchone()[0]
                if old is not None:  # the file in force goes to the history first: one file in force per unit
                    moves.append(self._retire(conn, old, "superseded", f"由第 {next_id:06d} 号报送替换"))
                target = (unit.filename if state == "current" else self._history_path(unit, next_id, received)) if keep \
                    else f"{NOT_KEPT}/{next_id:06d}"
                cur = conn.execute(
                    "INSERT INTO submissions (id, unit_id, received_at, state, path, sha256, size, original_name, hard,"
                    " soft, explained, verdict, reason, findings, receipt_key, client, state_at, stored) VALUES"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (next_id, unit.id, received, state, target, sha, size, original_name[:200],
                     len(result.hard), len(result.soft), explained, verdict, reason, findings,
                     secrets.token_urlsafe(18), client, received, int(keep)))
                sid = int(cur.lastrowid or 0)
                if keep:
                    moves.append(self._move(tmp, self.folder / target))
                self._event(conn, "submitted" if state == "current" else "refused", unit.id, sid, reason)
        except BaseException:
            self._undo(moves)
            tmp.unlink(missing_ok=True)
            raise
        return self.submission(sid)

    def _history_path(self, unit: Unit, sid: int, received: str) -> str:
        stamp = re.sub(r"\D", "", received)[:14]
        return f"{HISTORY_DIR}/{Path(unit.filename).stem}/{sid:06d}-{stamp}.xlsx"

    def _retire(self, conn: sqlite3.Connection, row: sqlite3.Row, state: str, note: str) -> tuple[Path, Path]:
        """Move a unit's file in force to the history, inside the caller's transaction."""
        unit = self._unit(conn, row["unit_id"])
        target = self._history_path(unit, row["id"], row["received_at"])
        conn.execute("UPDATE submissions SET state=?, path=?, state_at=?, state_note=? WHERE id=?",
                     (state, target, now_text(), note, row["id"]))
        return self._move(self.folder / row["path"], self.folder / target)

    @staticmethod
    def _move(src: Path, dst: Path) -> tuple[Path, Path]:
        """Rename ``src`` to ``dst``, never over an existing file."""
        private_dir(dst.parent)
        if dst.exists():
            raise InboxError(f"收文夹中已有文件 {dst.name}，为防止覆盖，本次操作未完成。请联系信息化人员。", 500)
        os.replace(src, dst)
        _fsync_dir(dst.parent)
        return src, dst

    @staticmethod
    def _undo(moves: list[tuple[Path, Path]]) -> None:
        for src, dst in reversed(moves):
            try:
                if dst.exists() and not src.exists():
                    os.replace(dst, src)
            except OSError:
                pass  # reconcile puts it right at the next start

    def withdraw(self, unit: Unit) -> Submission:
        """The unit takes back its file in force (it moves to the history)."""
        moves: list[tuple[Path, Path]] = []
        try:
            with self.transaction() as conn:
                row = conn.execute("SELECT * FROM submissions WHERE unit_id=? AND state='current'", (unit.id,)).fetchone()
                if row is None:
                    raise InboxError("本单位目前没有在用的报送，无需撤回。", 409)
                moves.append(self._retire(conn, row, "withdrawn", "单位撤回"))
                self._event(conn, "withdrawn", unit.id, row["id"])
        except BaseException:
            self._undo(moves)
            raise
        return self.submission(row["id"])

    def return_submission(self, submission_id: int, reason: str) -> Submission:
        """The office returns a unit's file in force for correction (the county never edits a
        unit's numbers); the unit shows as 有错误被退回 until it submits again."""
        reason = reason.strip()[:500] or "县政务公开办退回，请核实后重新报送。"
        moves: list[tuple[Path, Path]] = []
        try:
            with self.transaction() as conn:
                row = conn.execute("SELECT * FROM submissions WHERE id=?", (submission_id,)).fetchone()
                if row is None or row["state"] != "current":
                    raise InboxError("这份报送不是该单位在用的文件，不能退回。", 409)
                moves.append(self._retire(conn, row, "returned", reason))
                self._event(conn, "returned", row["unit_id"], row["id"], reason)
        except BaseException:
            self._undo(moves)
            raise
        return self.submission(submission_id)

    # -- reading -------------------------------------------------------------------------------

    _SELECT = "SELECT s.*, u.name AS unit_name FROM submissions s JOIN units u ON u.id = s.unit_id"

    @staticmethod
    def _submission_of(row: sqlite3.Row, with_findings: bool = False) -> Submission:
        return Submission(row["id"], row["unit_id"], row["unit_name"], row["received_at"], row["state"], row["path"],
                          row["sha256"], row["size"], row["original_name"], row["hard"], row["soft"], row["explained"],
                          row["verdict"], row["reason"], row["receipt_key"], row["state_at"], row["state_note"],
                          json.loads(row["findings"]) if with_findings else [], bool(row["stored"]))

    def submission(self, submission_id: int) -> Submission:
        with self.connect() as conn:
            row = conn.execute(f"{self._SELECT} WHERE s.id=?", (submission_id,)).fetchone()
        if row is None:
            raise InboxError("没有这份报送。", 404)
        return self._submission_of(row, True)

    def receipt(self, key: str) -> Submission:
        with self.connect() as conn:
            row = conn.execute(f"{self._SELECT} WHERE s.receipt_key=?", (key,)).fetchone()
        if row is None:
            raise InboxError("没有这份回执。", 404)
        return self._submission_of(row, True)

    def history(self, unit_id: int) -> list[Submission]:
        with self.connect() as conn:
            rows = conn.execute(f"{self._SELECT} WHERE s.unit_id=? ORDER BY s.id DESC", (unit_id,)).fetchall()
        return [self._submission_of(r, True) for r in rows]

    def submissions(self) -> list[Submission]:
        with self.connect() as conn:
            return [self._submission_of(r) for r in conn.execute(f"{self._SELECT} ORDER BY s.id")]

    def board(self) -> list[BoardRow]:
        """Every listed unit's status: 已报送 while a file is in force; else what happened last —
        refused or returned (有错误被退回), withdrawn (已撤回) — or 未报送."""
        with self.connect() as conn:
            units = [self._unit_of(r) for r in conn.execute("SELECT * FROM units WHERE listed=1 ORDER BY line, id")]
            rows = conn.execute(f"{self._SELECT} ORDER BY s.id").fetchall()
        by_unit: dict[int, list[Submission]] = {}
        for r in rows:
            by_unit.setdefault(r["unit_id"], []).append(self._submission_of(r))
        out = []
        for unit in units:
            subs = by_unit.get(unit.id, [])
            current = next((s for s in subs if s.state == "current"), None)
            if current is not None:
                out.append(BoardRow(unit, "submitted", current, len(subs)))
                continue
            last = max(subs, key=lambda s: (s.state_at, s.id)) if subs else None
            status = {"refused": "returned", "returned": "returned", "withdrawn": "withdrawn"}.get(last.state, "missing") \
                if last else "missing"
            out.append(BoardRow(unit, status, last, len(subs)))
        return out

    def current_files(self) -> list[tuple[Unit, Path]]:
        with self.connect() as conn:
            rows = conn.execute("SELECT s.path, s.unit_id FROM submissions s WHERE s.state='current' ORDER BY s.unit_id").fetchall()
            return [(self._unit(conn, r["unit_id"]), self.folder / r["path"]) for r in rows]

    def file_of(self, submission_id: int) -> Path:
        sub = self.submission(submission_id)
        if not sub.stored:
            raise InboxError("这份报送的文件无法读取，服务器没有保存它（只记录了大小和 SHA-256）。", 404)
        path = self.folder / sub.path
        if not path.is_file():
            raise InboxError("这份报送的文件不在收文夹中（请信息化人员检查备份）。", 404)
        return path

    def zip_current(self, target: Path) -> Path:
        """All files in force, one zip (written atomically)."""
        with atomic_path(target) as tmp, self.transaction():  # no file moves meanwhile
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                for unit, path in self.current_files():
                    z.write(path, unit.filename)
        return target

    def register_path(self) -> Path | None:
        name = self.meta("register")
        path = self.settings.data_dir / name if name else None
        return path if path is not None and path.is_file() else None

    def consolidate(self, out_dir: Path) -> ConsolidationResult:
        """汇总: ``nianbao consolidate <收文夹> --units <单位名单>`` (with ``--name``/``--year`` when
        the config sets them), written to ``out_dir`` — the same function, the same options."""
        if not self.current_files():
            raise InboxError("还没有单位报送，无法汇总。", 409)
        options = ConsolidateOptions(year=self.settings.year, name=self.settings.name or None, units=self.register_path())
        with self.transaction():  # the write lock: no file moves while the folder is read
            result = consolidate([self.folder], None, options)
        out_dir.mkdir(parents=True, exist_ok=True)
        name = safe_name(f"{result.name}{result.year}年度汇总.xlsx", "汇总.xlsx", strip_path=False)
        save(result, out_dir / name)
        return result

    # -- crash recovery ------------------------------------------------------------------------

    def expected_files(self) -> dict[str, str]:
        """Relative path → sha256 of every file a record names."""
        with self.connect() as conn:
            return {r["path"]: r["sha256"] for r in conn.execute("SELECT path, sha256 FROM submissions WHERE stored=1")}

    def stored_files(self) -> list[str]:
        """Every file in the inbox folder (relative, ``/``-separated), orphans excepted."""
        out = []
        for p in self.folder.rglob("*"):
            rel = p.relative_to(self.folder)
            if p.is_file() and rel.parts[0] != ORPHAN_DIR:
                out.append(rel.as_posix())
        return sorted(out)

    def reconcile(self) -> list[str]:
        """Make the folder agree with the records after a crash: a record's file found elsewhere
        (a move whose transaction never committed) goes back to where the record says; temporary
        files are deleted; any other file no record names moves to ``.orphans``. Runs inside a
        write transaction, so no submission is half-way meanwhile. Returns what was done, in
        Chinese (also kept as events)."""
        done: list[str] = []
        with self.transaction() as conn:
            rows = conn.execute("SELECT id, unit_id, path, sha256 FROM submissions WHERE stored=1").fetchall()
            files = {rel: sha256_file(self.folder / rel) for rel in self.stored_files()}
            good = {r["path"] for r in rows if files.get(r["path"]) == r["sha256"]}
            for r in rows:
                if r["path"] in good:
                    continue
                spare = [rel for rel, sha in files.items() if sha == r["sha256"] and rel not in good]
                if not spare:
                    note = f"第 {r['id']:06d} 号报送的文件 {r['path']} 不见了，请从备份中找回"
                    done.append(note)
                    self._event(conn, "missing", r["unit_id"], r["id"], note)
                    continue
                want = self.folder / r["path"]
                if want.exists():  # a file no committed record put there (the crash's new file)
                    done.append(self._orphan(want))
                    files.pop(r["path"], None)
                private_dir(want.parent)
                os.replace(self.folder / spare[0], want)
                files[r["path"]] = files.pop(spare[0])
                good.add(r["path"])
                note = f"第 {r['id']:06d} 号报送的文件已从 {spare[0]} 移回 {r['path']}"
                done.append(note)
                self._event(conn, "restored", r["unit_id"], r["id"], note)
            for rel in sorted(set(files) - good):
                path = self.folder / rel
                if rel.split("/")[0] == TEMP_DIR:
                    path.unlink(missing_ok=True)
                    done.append(f"已删除未完成报送的临时文件 {rel}")
                else:
                    done.append(self._orphan(path))
                    self._event(conn, "orphan", note=done[-1])
        return done

    def _orphan(self, path: Path) -> str:
        rel = path.relative_to(self.folder).as_posix()
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        target = self.folder / ORPHAN_DIR / f"{stamp}-{secrets.token_hex(3)}-{rel.replace('/', '_')}"
        private_dir(target.parent)
        os.replace(path, target)
        return f"收文夹中的 {rel} 没有报送记录，已移到 {ORPHAN_DIR}/{target.name}"


def register_units(settings: InboxSettings, register: Path, address: str = "") -> tuple[list[IssuedCode], Path | None]:
    """``nianbao serve --units 单位名单.xlsx``: take the register and write the new units' codes to a
    printable workbook beside the database (``报送码/报送码-<时间>.xlsx``); None when every unit
    already had a code (codes are never shown twice: a lost one is reset on the office page)."""
    target = settings.data_dir / "报送码" / f"报送码-{dt.datetime.now():%Y%m%d-%H%M%S}.xlsx"
    issued = Inbox(settings).import_register(register, lambda codes: write_codes(codes, target, address))
    return issued, target if issued else None
