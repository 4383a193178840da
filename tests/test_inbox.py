"""The county's inbox as a store: codes, attempts, submissions, history, the board, and what a
crash leaves — on a real folder and a real SQLite database, read back with independent readers
(openpyxl for the codes list, ``sqlite3`` dumps, sha256 of the files on disk).

Why: the inbox is where units' files live for the year; a file lost, overwritten, or kept without
its record (or a record without its file) is the failure this module exists to prevent.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import openpyxl
import pytest

from addin.county.inbox import Inbox, InboxError, InboxSettings, examine, load_settings, register_units
from checks import validate_report
from workbook.build import write_report
from workbook.read import read_report
from workbook.report import Explanation
from workbook.samples import county_units, fake_report

ROOT = Path(__file__).resolve().parents[1]
CODE = re.compile(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}")
UNITS = county_units(2026)


def write_register(path: Path, units: list) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["青禾县2026年度政府信息公开年报报送单位名单"])
    ws.append(["单位名称", "统一社会信用代码", "单位类型", "上级单位"])
    for u in units:
        ws.append([u.name, u.code, u.unit_type, u.parent])
    wb.save(path)
    return path


def clean_workbook(unit: object, path: Path, seed: int = 11) -> Path:
    """A correct report of ``unit``; a 提示 the checks still raise is explained on 说明, as the
    clerk does before submitting."""
    report = fake_report(unit, 2026, seed)
    write_report(report, path)
    soft = [f for f in validate_report(read_report(path)) if f.severity == "soft"]
    if soft:
        report.notes = tuple(Explanation(f.rule, f.cell, "经核实，数字属实。") for f in soft)
        write_report(report, path)
    return path


def faulty_workbook(unit: object, path: Path, mistakes: frozenset[str] = frozenset({"imbalance", "blanks"})) -> Path:
    return write_report(fake_report(unit, 2026, 11, mistakes), path)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows_and_files(settings: InboxSettings) -> tuple[dict[str, str], dict[str, str]]:
    """(path → sha256 per database row, path → sha256 per file under the inbox), read with
    ``sqlite3`` and the file system, not through the inbox."""
    with sqlite3.connect(settings.database) as conn:
        rows = dict(conn.execute("SELECT path, sha256 FROM submissions").fetchall())
    files = {p.relative_to(settings.folder).as_posix(): sha(p) for p in settings.folder.rglob("*")
             if p.is_file() and p.relative_to(settings.folder).parts[0] != ".orphans"}
    return rows, files


def codes_from_file(path: Path) -> dict[str, str]:
    ws = openpyxl.load_workbook(path).active
    header = next(i for i, row in enumerate(ws.iter_rows(values_only=True), 1) if row[0] == "单位名称")
    return {row[0]: row[2] for row in ws.iter_rows(min_row=header + 1, values_only=True) if row[0] and row[2]}


@pytest.fixture()
def county(tmp_path: Path) -> tuple[InboxSettings, dict[str, str]]:
    settings = InboxSettings(tmp_path / "收文", tmp_path / "data" / "inbox.sqlite3", "办公室密码", attempts=3)
    issued, codes_file = register_units(settings, write_register(tmp_path / "单位名单.xlsx", UNITS), "http://x/")
    assert codes_file is not None
    return settings, codes_from_file(codes_file)


def test_codes_are_printed_once_and_the_database_keeps_only_hashes(tmp_path: Path,
                                                                   county: tuple[InboxSettings, dict[str, str]]) -> None:
    settings, codes = county
    assert sorted(codes) == sorted(u.name for u in UNITS)
    assert all(CODE.fullmatch(c) for c in codes.values()) and len(set(codes.values())) == len(UNITS)
    dump = "\n".join(sqlite3.connect(settings.database).iterdump())
    for code in codes.values():
        handle, secret = code[:4], code[5:].replace("-", "")
        assert secret not in dump and code not in dump and handle in dump
    assert dump.count("scrypt$") == len(UNITS)
    box = Inbox(settings)
    name = UNITS[3].name
    typed = codes[name].lower().replace("-", " ")
    assert box.authenticate(typed, "10.0.0.1").name == name

    again, file = register_units(settings, write_register(tmp_path / "名单2.xlsx", UNITS[1:] + county_units(2026, n=15)[14:]))
    assert [i.unit.name for i in again] == [county_units(2026, n=15)[14].name] and file is not None
    with pytest.raises(InboxError) as gone:  # dropped from the register: its code no longer works
        box.authenticate(codes[UNITS[0].name], "10.0.0.2")
    assert gone.value.status == 403
    assert box.authenticate(codes[UNITS[1].name], "10.0.0.2").name == UNITS[1].name

    new = box.reset_code(box.authenticate(codes[name], "10.0.0.3").id)
    assert CODE.fullmatch(new.code) and new.code != codes[name]
    with pytest.raises(InboxError):
        box.authenticate(codes[name], "10.0.0.4")
    assert box.authenticate(new.code, "10.0.0.4").name == name


def test_a_wrong_code_tells_nothing_and_attempts_are_limited(county: tuple[InboxSettings, dict[str, str]]) -> None:
    settings, codes = county
    box = Inbox(settings)
    real = codes[UNITS[2].name]
    answers = []
    for attempt in (real[:5] + "2222-2222", "ZZZZ-2222-2222", "nonsense"):  # wrong secret, unknown handle, garbage
        with pytest.raises(InboxError) as err:
            box.authenticate(attempt, "10.1.1.1")
        answers.append((err.value.status, str(err.value)))
    assert len(set(answers)) == 1 and answers[0][0] == 403
    assert not any(u.name in answers[0][1] for u in UNITS)
    assert box.authenticate(real, "10.1.1.1").name == UNITS[2].name  # one slip on this unit: not locked

    for _ in range(2):  # three failures from this address on this unit: even the right code waits
        with pytest.raises(InboxError):
            box.authenticate(real[:5] + "3333-3333", "10.1.1.1")
    with pytest.raises(InboxError) as locked:
        box.authenticate(real, "10.1.1.1")
    assert locked.value.status == 429 and "分钟后再试" in str(locked.value)
    assert box.authenticate(real, "10.1.1.2").name == UNITS[2].name  # another address is not locked out
    assert box.authenticate(codes[UNITS[3].name], "10.1.1.1").name == UNITS[3].name  # nor another unit

    target = codes[UNITS[5].name]
    for i in range(3):  # three addresses guess one unit's secret: that unit slows down, nobody is refused
        with pytest.raises(InboxError):
            box.authenticate(target[:5] + "3333-3333", f"10.2.0.{i}")
    assert box.delay(target) > 0 and box.delay(codes[UNITS[6].name]) == 0
    assert box.authenticate(target, "10.3.0.1").name == UNITS[5].name

    spray = [code for code in (f"{h}{h}{h}{h}-2222-2222" for h in "23456789ABCDEFGHJK")][:3 * 4]
    for guess in spray:  # one address tries twelve units (attempts × 4): that address is locked for all
        with pytest.raises(InboxError):
            box.authenticate(guess, "10.5.0.1")
    with pytest.raises(InboxError) as sprayed:
        box.authenticate(codes[UNITS[7].name], "10.5.0.1")
    assert sprayed.value.status == 429
    assert box.authenticate(codes[UNITS[7].name], "10.5.0.2").name == UNITS[7].name

    with pytest.raises(InboxError) as office:
        box.office_login("猜一个", "10.4.0.1")
    assert office.value.status == 403
    assert box.session_valid(box.office_login("办公室密码", "10.4.0.1"))
    assert not box.session_valid("not-a-session")
    for _ in range(3):
        with pytest.raises(InboxError):
            box.office_login("还是猜", "10.4.0.9")
    with pytest.raises(InboxError) as office_locked:
        box.office_login("办公室密码", "10.4.0.9")
    assert office_locked.value.status == 429
    assert box.session_valid(box.office_login("办公室密码", "10.4.0.8"))  # the office at another desk gets in


def test_every_submission_is_kept_with_its_record_and_the_board_follows(tmp_path: Path,
                                                                        county: tuple[InboxSettings, dict[str, str]]) -> None:
    settings, codes = county
    box = Inbox(settings)
    unit = box.authenticate(codes[UNITS[2].name], "10.0.0.9")
    other = UNITS[3]
    files = {
        "faulty": faulty_workbook(UNITS[2], tmp_path / "有错.xlsx"),
        "clean": clean_workbook(UNITS[2], tmp_path / "改正.xlsx"),
        "again": clean_workbook(UNITS[2], tmp_path / "再报.xlsx", seed=5),
        "someone_else": clean_workbook(other, tmp_path / "别的单位.xlsx"),
    }
    status = {r.unit.name: r.status for r in box.board()}
    assert set(status.values()) == {"missing"}

    def submit(key: str) -> object:
        sub = box.submit(unit, files[key], files[key].name, examine(files[key], files[key].name))
        rows, stored = rows_and_files(settings)
        assert rows == stored  # database rows = files, path for path and byte for byte
        return sub

    first = submit("faulty")
    assert first.state == "refused" and "必须改正" in first.reason and first.hard > 0
    assert not (settings.folder / unit.filename).exists()
    assert {r.unit.name: r.status for r in box.board()}[unit.name] == "returned"

    wrong = submit("someone_else")
    assert wrong.state == "refused" and other.name in wrong.reason and unit.name in wrong.reason

    good = submit("clean")
    assert good.state == "current" and good.sha256 == sha(files["clean"])
    assert sha(settings.folder / unit.filename) == sha(files["clean"])
    board = {r.unit.name: r for r in box.board()}
    assert board[unit.name].status == "submitted" and board[unit.name].count == 3
    assert [n for n, r in board.items() if r.status == "missing"] == [u.name for u in UNITS if u.name != unit.name]

    newer = submit("again")
    assert sha(settings.folder / unit.filename) == sha(files["again"])
    history = box.history(unit.id)
    assert [s.id for s in history] == [newer.id, good.id, wrong.id, first.id]
    assert [s.state for s in history] == ["current", "superseded", "refused", "refused"]
    assert sha(settings.folder / history[1].path) == sha(files["clean"])  # the replaced file, kept

    box.withdraw(unit)
    assert not (settings.folder / unit.filename).exists()
    assert {r.unit.name: r.status for r in box.board()}[unit.name] == "withdrawn"
    with pytest.raises(InboxError):
        box.withdraw(unit)
    back = submit("again")
    box.return_submission(back.id, "第三部分数字请再核对")
    assert {r.unit.name: r.status for r in box.board()}[unit.name] == "returned"
    assert box.submission(back.id).state_note == "第三部分数字请再核对"
    rows, stored = rows_and_files(settings)
    assert rows == stored and len(rows) == 5
    assert Inbox(settings).repairs == []  # a clean start finds nothing to repair


CRASH = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import addin.county.inbox.store as store
    from addin.county.inbox import Inbox, InboxSettings, examine

    folder, database, code, upload, die_after = sys.argv[1:6]
    box = Inbox(InboxSettings(Path(folder), Path(database)))
    unit = box.authenticate(code, "crash")
    checked = examine(Path(upload), "x.xlsx")
    real = os.replace
    done = 0

    def replace(src, dst):  # the process dies here: no rollback, no undo, no commit
        global done
        if int(die_after) == 0:
            os._exit(9)
        real(src, dst)
        done += 1
        if done == int(die_after):
            os._exit(9)

    store.os.replace = replace
    box.submit(unit, Path(upload), "x.xlsx", checked)
    os._exit(0)
""")


@pytest.mark.parametrize("die_after", [0, 1, 2])
def test_a_crash_in_the_middle_of_a_submission_leaves_neither_half(tmp_path: Path, die_after: int,
                                                                   county: tuple[InboxSettings, dict[str, str]]) -> None:
    """A process killed before the first rename, after the old file moved to the history, or after
    the new file reached its place (but before the commit): on the next start the old file is in
    force again, the new one is nowhere the consolidation looks, and rows = files."""
    settings, codes = county
    box = Inbox(settings)
    unit = box.authenticate(codes[UNITS[4].name], "10.0.0.1")
    old = clean_workbook(UNITS[4], tmp_path / "旧.xlsx")
    new = clean_workbook(UNITS[4], tmp_path / "新.xlsx", seed=5)
    assert sha(old) != sha(new)
    box.submit(unit, old, old.name, examine(old, old.name))
    script = tmp_path / "crash.py"
    script.write_text(CRASH, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(settings.folder), str(settings.database), codes[UNITS[4].name],
                           str(new), str(die_after)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 9, done.stderr
    after = Inbox(settings)
    said = "\n".join(after.repairs)
    assert ("临时文件" in said) == (die_after < 2)
    assert ("移回" in said) == (die_after > 0)
    assert ("没有报送记录" in said) == (die_after == 2)
    rows, stored = rows_and_files(settings)
    assert rows == stored and len(rows) == 1
    assert sha(settings.folder / unit.filename) == sha(old)
    assert [s.state for s in after.history(unit.id)] == ["current"]
    orphans = list((settings.folder / ".orphans").glob("*")) if (settings.folder / ".orphans").exists() else []
    assert [sha(p) for p in orphans] == ([sha(new)] if die_after == 2 else [])
    assert not list((settings.folder / ".tmp").glob("*"))
    after.submit(unit, new, new.name, examine(new, new.name))  # and the inbox works on
    assert sha(settings.folder / unit.filename) == sha(new)


def test_codes_nobody_was_given_are_not_kept(tmp_path: Path) -> None:
    """The codes list cannot be written (its folder is a file here): no unit keeps a code, and the
    next run gives every unit one."""
    settings = InboxSettings(tmp_path / "收文", tmp_path / "data" / "inbox.sqlite3")
    settings.data_dir.mkdir(parents=True)
    (settings.data_dir / "报送码").write_text("不是文件夹", encoding="utf-8")
    register = write_register(tmp_path / "单位名单.xlsx", UNITS[:3])
    with pytest.raises(InboxError, match="没有生成报送码"):
        register_units(settings, register)
    with sqlite3.connect(settings.database) as conn:
        assert conn.execute("SELECT COUNT(*) FROM units WHERE code_hash IS NOT NULL").fetchone()[0] == 0
    (settings.data_dir / "报送码").unlink()
    issued, file = register_units(settings, register)
    assert file is not None and sorted(codes_from_file(file)) == sorted(u.name for u in UNITS[:3]) and len(issued) == 3


def test_the_settings_keep_the_database_out_of_the_inbox(tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    config.write_text('license_key = "x"\n[inbox]\nfolder = "收文"\ndatabase = "收文/inbox.sqlite3"\n', encoding="utf-8")
    with pytest.raises(InboxError, match="不能放在收文夹"):
        load_settings(config)
    config.write_text('[inbox]\nfolder = "收文"\ndatabase = "数据/inbox.sqlite3"\noffice_password = "县政务公开办口令"\n'
                      'year = 2026\n', encoding="utf-8")
    settings = load_settings(config)
    assert settings.folder == (tmp_path / "收文").resolve() and settings.database.parent == (tmp_path / "数据").resolve()
    assert settings.year == 2026 and settings.office_password == "县政务公开办口令"
    config.write_text('[inbox]\noffice_password = "1234"\n', encoding="utf-8")
    with pytest.raises(InboxError, match="太短"):
        load_settings(config)
    config.write_text("[inbox]\nyear = \"二〇二六\"\n", encoding="utf-8")
    with pytest.raises(InboxError, match="整数"):
        load_settings(config)
