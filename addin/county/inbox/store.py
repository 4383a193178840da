"""The inbox folder and its database, kept in step.

See the package's text for why. In short: a submission's file is copied to a temporary name, its
record inserted in a write transaction (``BEGIN IMMEDIATE``: writers of every server process queue
there), the files renamed into place, and only then is the transaction committed; any failure on
the way undoes the renames and rolls back, and ``reconcile`` repairs what a crash left.
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
from addin.county.inbox.settings import InboxError, InboxSettings, RateLimited
from addin.county.register import RegisterError, load_register, norm_code, norm_name
from addin.publish.safety import safe_name

SCHEMA_VERSION = "1"
HISTORY_DIR = ".history"
TEMP_DIR = ".tmp"
ORPHAN_DIR = ".orphans"
SESSION_HOURS = 8
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
    state_note TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS submissions_unit ON submissions(unit_id, id);
CREATE UNIQUE INDEX IF NOT EXISTS one_current ON submissions(unit_id) WHERE state = 'current';
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, unit_id INTEGER, submission_id INTEGER, kind TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS failures (at REAL NOT NULL, scope TEXT NOT NULL, key TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS failures_key ON failures(scope, key, at);
CREATE TABLE IF NOT EXISTS sessions (token_hash TEXT PRIMARY KEY, expires REAL NOT NULL);
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
        self.folder.mkdir(parents=True, exist_ok=True)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        with self.connect() as conn:
            conn.executescript(SCHEMA)
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
        with atomic_path(copy) as tmp:
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

    def _check_rate(self, conn: sqlite3.Connection, keys: list[tuple[str, str]]) -> None:
        window = self.settings.lockout_minutes * 60
        since = time.time() - window
        conn.execute("DELETE FROM failures WHERE at < ?", (time.time() - 86400,))
        for scope, key in keys:
            rows = conn.execute("SELECT at FROM failures WHERE scope=? AND key=? AND at>=? ORDER BY at",
                                (scope, key, since)).fetchall()
            if len(rows) >= self.settings.attempts:
                wait = rows[-self.settings.attempts]["at"] + window - time.time()
                raise RateLimited(max(1, int(wait // 60) + 1))

    def _fail(self, keys: list[tuple[str, str]]) -> None:
        with self.transaction() as conn:
            conn.executemany("INSERT INTO failures VALUES (?, ?, ?)", [(time.time(), s, k) for s, k in keys])

    def authenticate(self, code: str, client: str) -> Unit:
        """The unit a code belongs to. A wrong code — unknown handle or wrong secret, or a unit no
        longer on the register — gets the same answer after the same work; too many failures from
        one address or on one handle lock both out for a while."""
        handle, secret = split_code(code)
        keys = [("address", client), ("handle", handle)]
        with self.transaction() as conn:
            self._check_rate(conn, keys)
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
            self._fail(keys)
            raise InboxError(WRONG_CODE, 403)
        return self._unit_of(row)

    def office_login(self, password: str, client: str) -> str:
        """A session token for the office page, or refused (rate-limited like the codes)."""
        expected = self.settings.office_password
        if not expected:
            raise InboxError("服务器的配置文件中没有设置县政务公开办的密码（[inbox] office_password），办公室页面不可用。", 503)
        keys = [("office", client)]
        with self.transaction() as conn:
            self._check_rate(conn, keys)
        if not hmac.compare_digest(password.encode(), expected.encode()):
            self._fail(keys)
            raise InboxError(WRONG_PASSWORD, 403)
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

    def submit(self, unit: Unit, upload: Path, original_name: str, examined: Examined, client: str = "") -> Submission:
        """Record a submission and keep its file: in force when the checks allow it (replacing the
        unit's earlier file, which moves to the history), else kept in the history as refused.
        ``upload`` is the uploaded file (anywhere; it is copied, not moved)."""
        reason = self.refusal(unit, examined, original_name)
        size = upload.stat().st_size
        if size > MAX_BYTES:
            raise InboxError(f"文件超过 {MAX_BYTES // 1024 // 1024} MB，不是正常的年报工作簿。", 413)
        sha = sha256_file(upload)
        result = examined.result
        state = "refused" if reason else "current"
        findings = json.dumps([finding_json(f) for f in result.findings], ensure_ascii=False)
        explained = sum(1 for f in result.soft if f.explained)
        verdict = f"无法读取：{result.error}" if result.error else result.verdict()
        received = now_text()
        tmp_dir = self.folder / TEMP_DIR
        tmp_dir.mkdir(exist_ok=True)
        moves: list[tuple[Path, Path]] = []
        tmp = tmp_dir / f"{secrets.token_hex(8)}.part"
        try:
            with self.transaction() as conn:
                with open(upload, "rb") as src, open(tmp, "wb") as dst:
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
                target = unit.filename if state == "current" else self._history_path(unit, next_id, received)
                cur = conn.execute(
                    "INSERT INTO submissions (id, unit_id, received_at, state, path, sha256, size, original_name, hard,"
                    " soft, explained, verdict, reason, findings, receipt_key, client, state_at) VALUES"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (next_id, unit.id, received, state, target, sha, size, original_name[:200],
                     len(result.hard), len(result.soft), explained, verdict, reason, findings,
                     secrets.token_urlsafe(18), client, received))
                sid = int(cur.lastrowid or 0)
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
        dst.parent.mkdir(parents=True, exist_ok=True)
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
                          json.loads(row["findings"]) if with_findings else [])

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
            return {r["path"]: r["sha256"] for r in conn.execute("SELECT path, sha256 FROM submissions")}

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
            rows = conn.execute("SELECT id, unit_id, path, sha256 FROM submissions").fetchall()
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
                want.parent.mkdir(parents=True, exist_ok=True)
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
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        return f"收文夹中的 {rel} 没有报送记录，已移到 {ORPHAN_DIR}/{target.name}"


def register_units(settings: InboxSettings, register: Path, address: str = "") -> tuple[list[IssuedCode], Path | None]:
    """``nianbao serve --units 单位名单.xlsx``: take the register and write the new units' codes to a
    printable workbook beside the database (``报送码/报送码-<时间>.xlsx``); None when every unit
    already had a code (codes are never shown twice: a lost one is reset on the office page)."""
    target = settings.data_dir / "报送码" / f"报送码-{dt.datetime.now():%Y%m%d-%H%M%S}.xlsx"
    issued = Inbox(settings).import_register(register, lambda codes: write_codes(codes, target, address))
    return issued, target if issued else None
