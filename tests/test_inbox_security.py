"""The inbox door under attack, through the real server (``nianbao serve --units`` on loopback):
what one anonymous file, one code holder or one computer can make the server do.

Why: the 单位 page is open to every computer in the allow-list and the codes are on paper in 200
offices. A security review reproduced each of these against the server; each test here repeats
its attack with a file made in the test and checks the server's answer, the server process's own
peak memory (``VmHWM`` in /proc), the files on disk (walked with ``pathlib``) and the database
(read with ``sqlite3``) — never through the inbox's own code.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import re
import sqlite3
import stat
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from addin_support import require_xlwings_server
from test_inbox import clean_workbook
from test_inbox_pages import PASSWORD, UNITS, county_server, post, rows_equal_files

require_xlwings_server()

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads the server's peak memory and file modes (Linux)")

WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
REL_WORKSHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"


def with_extra_sheet(src: Path, sheet_xml: str, part: str = "xl/worksheets/extra.xml",
                     target: str = "worksheets/extra.xml") -> bytes:
    """``src`` (a valid unit report) with one more sheet added at zip level — registered in
    workbook.xml, its relationships and [Content_Types].xml; every other part copied byte for
    byte, so the cached values openpyxl would drop stay."""
    out = io.BytesIO()
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as o:
        for item in z.infolist():
            data = z.read(item)
            if item.filename == "xl/workbook.xml":
                data = data.replace(b"</sheets>", b'<sheet name="extra" sheetId="999" r:id="rIdExtra"/></sheets>')
            elif item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", f'<Relationship Id="rIdExtra" Type="{REL_WORKSHEET}" '
                                                         f'Target="{target}"/></Relationships>'.encode())
            elif item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", f'<Override PartName="/{part}" ContentType="{WORKSHEET}"/></Types>'.encode())
            o.writestr(item, data)
        o.writestr(part, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.'
                         f'openxmlformats.org/spreadsheetml/2006/main"><sheetData>{sheet_xml}</sheetData></worksheet>')
    return out.getvalue()


def far_cell(src: Path, corner: str, **where: str) -> bytes:
    row = re.sub(r"\D", "", corner)
    return with_extra_sheet(src, f'<row r="{row}"><c r="{corner}"><v>1</v></c></row>', **where)


def dense(src: Path, rows: int, cols: int) -> bytes:
    """An extra sheet of rows × cols numbers: within every bound, but a lot for openpyxl."""
    from openpyxl.utils import get_column_letter

    letters = [get_column_letter(c) for c in range(1, cols + 1)]
    body = "".join(f'<row r="{r}">' + "".join(f'<c r="{c}{r}"><v>{r}</v></c>' for c in letters) + "</row>"
                   for r in range(1, rows + 1))
    return with_extra_sheet(src, body)


def peak_kb(pid: int) -> int:
    """The process's peak resident memory (VmHWM), from the kernel."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", text)[1])


def test_an_anonymous_file_cannot_make_the_server_build_a_huge_grid(tmp_path: Path) -> None:
    """H1: a 30 KB report with one extra sheet whose only cell is at XFD1048576 (or AZ1048576, or
    behind a sheet target the size checks cannot place) is refused from ``/marked`` at once with a
    Chinese reason, and the server's memory does not move; a file within every bound that is
    heavy to mark runs out of its worker's time, not the server's memory; a good file is marked."""
    unit = UNITS[1]
    good = clean_workbook(unit, tmp_path / "本单位.xlsx")
    attacks = {
        "XFD1048576": far_cell(good, "XFD1048576"),
        "AZ1048576": far_cell(good, "AZ1048576"),
        # an absolute target: the reader's map of sheets does not find it, openpyxl does
        "XFD1048576 ": far_cell(good, "XFD1048576", part="evil/extra.xml", target="/evil/extra.xml"),
    }
    assert all(len(data) < 40_000 for data in attacks.values())
    heavy = dense(good, 400, 500)  # 200,000 numbers: ~300 MB and ~10 s for openpyxl and the grid
    with county_server(tmp_path / "server", UNITS, env_extra={"NIANBAO_READ_SECONDS": "5"}) as county:
        base = county.pages
        status, body = post(base + "/check", {}, ("far.xlsx", attacks["XFD1048576"]))
        assert status == 200 and not body["error"]  # the reader's bounds cover the report's sheets only

        status, body = post(base + "/marked", {}, (good.name, good.read_bytes()))  # first job: the workers warm up
        assert status == 200 and "text" in body
        before = peak_kb(county.pid)
        for corner, data in attacks.items():
            started = time.monotonic()
            status, body = post(base + "/marked", {}, ("far.xlsx", data))
            assert status == 413, (corner, body)
            assert "数据区域" in body["error"] and corner.strip() in body["error"], body
            assert time.monotonic() - started < 15
        status, body = post(base + "/marked", {}, ("heavy.xlsx", heavy))
        assert status == 413 and "秒" in body["error"] and "校验结果以本页列出的为准" in body["error"], body
        grown = peak_kb(county.pid) - before
        assert grown < 60 * 1024, f"the server's peak memory grew by {grown // 1024} MB"

        import httpx  # a good file is still marked, in a worker: a workbook with the 校验结果 sheet

        r = httpx.post(base + "/marked", files={"file": (good.name, good.read_bytes())}, timeout=120)
        assert r.status_code == 200
        assert "校验结果" in openpyxl.load_workbook(io.BytesIO(r.content)).sheetnames


def test_build_payload_refuses_every_far_sheet_before_building_a_grid(tmp_path: Path) -> None:
    """The 校验 button's payload builder, wherever it runs on a file: bounded by itself."""
    from addin.excel.payload import PayloadTooLarge, build_payload

    good = clean_workbook(UNITS[1], tmp_path / "本单位.xlsx")
    for name, data in {"far": far_cell(good, "XFD1048576"),
                       "hidden": far_cell(good, "XFD1048576", part="evil/extra.xml", target="/evil/extra.xml")}.items():
        path = tmp_path / f"{name}.xlsx"
        path.write_bytes(data)
        for client in ("VBA", "Office.js"):
            started = time.monotonic()
            with pytest.raises(PayloadTooLarge, match="XFD1048576"):
                build_payload(path, client)  # type: ignore[arg-type]
            assert time.monotonic() - started < 10
    path = tmp_path / "dense.xlsx"
    path.write_bytes(dense(good, 50, 100))
    with pytest.raises(PayloadTooLarge, match="CV50"):
        build_payload(path, "Office.js", max_cells=4_000)
    assert len(build_payload(path, "Office.js")["sheets"][-1]["values"]) == 50


def files_under(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def test_a_code_holder_cannot_fill_the_disk(tmp_path: Path) -> None:
    """H2: random bytes submitted with a valid code are recorded (size, SHA-256) but not kept;
    a unit's kept bytes, its records and all kept bytes are capped (507, in Chinese); a unit may
    submit only so often (429)."""
    units = UNITS[:6]
    good = {u.name: clean_workbook(u, tmp_path / f"{u.name}.xlsx") for u in units}
    size = max(p.stat().st_size for p in good.values())
    unit_quota, quota = 3.5 * size, 5.5 * size
    settings = (f"unit_quota_mb = {unit_quota / 1024 / 1024!r}\nquota_mb = {quota / 1024 / 1024!r}\n"
                "unit_max_submissions = 5\nsubmissions_per_hour = 7\n")
    with county_server(tmp_path / "server", units, inbox=settings) as county:
        base, codes = county.pages, county.codes

        def submit(unit: Any, name: str, data: bytes) -> tuple[int, dict[str, Any]]:
            return post(base + "/submit", {"code": codes[unit.name]}, (name, data))

        noise = [os.urandom(3 * 1024 * 1024) for _ in range(3)]
        for data in noise:  # unreadable: a record, no file
            status, body = submit(units[0], "年报.xlsx", data)
            assert status == 200 and not body["accepted"] and body["reason"].startswith("文件无法读取"), body
        assert sum(files_under(county.inbox).values()) == 0
        with sqlite3.connect(county.database) as conn:
            kept = conn.execute("SELECT size, sha256, stored FROM submissions ORDER BY id").fetchall()
        import hashlib

        assert kept == [(len(d), hashlib.sha256(d).hexdigest(), 0) for d in noise]
        import httpx

        with httpx.Client(base_url=base, headers={"x-nianbao": "1"}, timeout=60) as office:  # what the office sees
            assert office.post("/office/login", data={"password": PASSWORD}).status_code == 200
            unit_id = next(r["unit_id"] for r in office.get("/office/board").json()["rows"] if r["unit"] == units[0].name)
            items = office.get(f"/office/history/{unit_id}").json()["items"]
            assert [(i["stored"], i["file_url"]) for i in items] == [(False, None)] * 3
            gone = office.get(f"/office/file/{items[0]['id']}")
            assert gone.status_code == 404 and "没有保存" in gone.json()["error"]
            receipt = office.get(f"/receipt/{items[0]['receipt']}")
            assert "服务器未保存该文件" in receipt.text and items[0]["sha256"] in receipt.text
        for _ in range(2):
            status, body = submit(units[0], "年报.xlsx", b"x" * 100)
            assert status == 200, body
        status, body = submit(units[0], "年报.xlsx", b"x" * 100)  # the sixth record of this unit
        assert status == 507 and "5 次" in body["error"] and "unit_max_submissions" in body["error"], body

        accepted = 0
        while True:  # one unit's kept files: three of them fit its quota, the fourth does not
            status, body = submit(units[1], "年报.xlsx", good[units[1].name].read_bytes())
            if status != 200:
                break
            accepted += 1
        assert accepted == int(unit_quota // good[units[1].name].stat().st_size)
        assert status == 507 and "每个单位" in body["error"], body

        accepted = 0
        while True:  # all kept files together: the rest of the overall quota
            status, body = submit(units[2], "年报.xlsx", good[units[2].name].read_bytes())
            if status != 200:
                break
            accepted += 1
        used = sum(files_under(county.inbox).values())
        assert status == 507 and "总量" in body["error"], body
        assert used <= quota < used + good[units[2].name].stat().st_size

        for i in range(7):  # seven uploads an hour (five recorded, two past the records cap), then the unit waits
            status, body = submit(units[3], "年报.xlsx", b"not a workbook %d" % i)
            assert status == (200 if i < 5 else 507), body
        status, body = submit(units[3], "年报.xlsx", good[units[3].name].read_bytes())
        assert status == 429 and "一小时内" in body["error"], body
        status, body = submit(units[4], "年报.xlsx", good[units[4].name].read_bytes())  # other units carry on
        assert status == 507 and "总量" in body["error"]  # ... within the overall quota

        rows, files = rows_equal_files(county)
        assert rows == files


def test_the_disk_reserve_is_kept(tmp_path: Path) -> None:
    """H2: a disk with less free space than ``min_free_mb`` takes no more files (507)."""
    from addin.county.inbox import Inbox, InboxError, InboxSettings, examine, register_units
    from test_inbox import write_register

    settings = InboxSettings(tmp_path / "收文", tmp_path / "数据" / "inbox.sqlite3", min_free_mb=1e8)  # 100 TB
    register_units(settings, write_register(tmp_path / "单位名单.xlsx", UNITS[:2]))
    box = Inbox(settings)
    unit = next(u for u in box.units() if u.name == UNITS[0].name)
    good = clean_workbook(UNITS[0], tmp_path / "本单位.xlsx")
    with pytest.raises(InboxError, match="磁盘剩余空间不足") as full:
        box.submit(unit, good, good.name, examine(good, good.name))
    assert full.value.status == 507 and files_under(settings.folder) == {}


def test_a_proxy_does_not_make_one_person_lock_everyone_out(tmp_path: Path) -> None:
    """M1: behind a trusted reverse proxy, wrong codes and passwords count against the address the
    proxy forwards, and the lockout never refuses the right code or password from another one."""
    unit = UNITS[2]
    good = clean_workbook(unit, tmp_path / "本单位.xlsx")
    with county_server(tmp_path / "server", UNITS, attempts=3, top='trusted_proxies = ["127.0.0.1"]') as county:
        base, code = county.pages, county.codes[unit.name]
        mallory, clerk = {"X-Forwarded-For": "10.9.9.1"}, {"X-Forwarded-For": "10.9.9.2"}
        for guess in ("2222", "3333", "4444"):
            status, _ = post(base + "/withdraw", {"code": code[:5] + guess + "-" + guess}, headers=mallory)
            assert status == 403
        status, body = post(base + "/withdraw", {"code": code}, headers=mallory)
        assert status == 429, body
        status, body = post(base + "/submit", {"code": code}, (good.name, good.read_bytes()), headers=clerk)
        assert status == 200 and body["accepted"], body
        with sqlite3.connect(county.database) as conn:
            assert conn.execute("SELECT client FROM submissions").fetchall() == [("10.9.9.2",)]

        office = {"x-nianbao": "1"}
        for _ in range(3):
            status, _ = post(base + "/office/login", {"password": "猜一个密码试试"}, headers=office | mallory)
            assert status == 403
        status, _ = post(base + "/office/login", {"password": PASSWORD}, headers=office | mallory)
        assert status == 429
        status, body = post(base + "/office/login", {"password": PASSWORD}, headers=office | clerk)
        assert status == 200 and body == {"ok": True}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_codes_database_and_files_are_for_the_server_account_only(tmp_path: Path) -> None:
    """M3: the codes list (the only plain copy of the codes), the database, the register copy and
    the units' files are 0600, their folders 0700."""
    unit = UNITS[3]
    good = clean_workbook(unit, tmp_path / "本单位.xlsx")
    with county_server(tmp_path / "server", UNITS) as county:
        for version in (1, 2):  # a replaced file goes to the history
            status, body = post(county.pages + "/submit", {"code": county.codes[unit.name]},
                                (good.name, good.read_bytes()))
            assert status == 200 and body["accepted"], (version, body)
        data = county.database.parent
        folders = [data, data / "报送码", county.inbox, *[p for p in county.inbox.rglob("*") if p.is_dir()]]
        files = [county.database, county.register, *(data / "报送码").glob("*.xlsx"),
                 *[p for p in county.inbox.rglob("*") if p.is_file()],
                 *[p for p in data.glob("inbox.sqlite3-*")]]
        assert len(files) >= 5 and any(".history" in p.parts for p in files)
        assert {str(p): oct(mode(p)) for p in folders if mode(p) != 0o700} == {}
        assert {str(p): oct(mode(p)) for p in files if mode(p) != 0o600} == {}


def test_concurrent_wrong_codes_get_exactly_the_allowed_attempts(tmp_path: Path) -> None:
    """L1: 200 wrong codes for one unit from one computer at the same moment: exactly ``attempts``
    of them are tried, every other one is refused as too many."""
    unit = UNITS[4]
    with county_server(tmp_path / "server", UNITS, attempts=5) as county:
        wrong = county.codes[unit.name][:5] + "2222-2222"

        def attempt(_: int) -> int:
            return post(county.pages + "/withdraw", {"code": wrong})[0]

        with concurrent.futures.ThreadPoolExecutor(50) as pool:
            statuses = list(pool.map(attempt, range(200)))
        assert statuses.count(403) == 5 and statuses.count(429) == 195, {s: statuses.count(s) for s in set(statuses)}
