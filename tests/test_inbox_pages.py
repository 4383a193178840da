"""The browser door and the county's inbox through the real server: ``nianbao serve --units`` on
loopback, the pages driven in a real headless Chromium (Playwright pointed at the system's
Chromium, no browser download), downloads read back with openpyxl and zipfile, findings compared
with ``nianbao validate --json`` and the page's 汇总 with ``nianbao consolidate`` on the inbox.

Why: this is the clerk on a WPS/信创 PC and the county office, end to end — choose → findings →
marked workbook → fix → submit → receipt; board → 汇总 — plus what must not get through: a wrong
code, another unit's file, hostile files, twenty units at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import io
import json
import os
import re
import sqlite3
import subprocess
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.cell.cell import MergedCell


from addin_support import (NIANBAO, NO_BROWSER, REPORT_SHEETS, fills, find_browser, free_port, range_cells,
                           require_xlwings_server)
from checks import validate_report
from test_inbox import clean_workbook, codes_from_file, faulty_workbook, write_register
from workbook.build import FILL_HARD, FILL_SOFT, write_report
from workbook.read import read_report
from workbook.samples import county_units, fake_report

require_xlwings_server()

PASSWORD = "县政务公开办-2026"
UNITS = county_units(2026)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class County:
    url: str
    root: Path
    codes: dict[str, str]
    inbox: Path
    database: Path
    register: Path
    log: Path
    pid: int = 0

    @property
    def pages(self) -> str:
        return self.url + "/nianbao/inbox"


@contextlib.contextmanager
def county_server(root: Path, units: list, attempts: int = 5, top: str = "", inbox: str = "",
                  env_extra: dict[str, str] | None = None) -> Iterator[County]:
    """``nianbao serve --units 单位名单.xlsx`` with an ``[inbox]`` config, on a free loopback port
    (``top``: more settings before the table, ``inbox``: more inside it, ``env_extra``: more
    environment for the server)."""
    root.mkdir(parents=True, exist_ok=True)
    register = write_register(root / "单位名单.xlsx", units)
    config = root / "serve.toml"
    config.write_text(f'license_key = "noncommercial"\n{top}\n[inbox]\nfolder = "收文"\ndatabase = "数据/inbox.sqlite3"\n'
                      f'office_password = "{PASSWORD}"\nattempts = {attempts}\n{inbox}\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("XLWINGS_LICENSE_KEY", "XLWINGS_HOSTNAME", "NIANBAO_CONFIG")}
    env.update(env_extra or {})
    port = free_port()
    log = root / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([*NIANBAO, "serve", "--host", "127.0.0.1", "--port", str(port), "--config", str(config),
                                 "--units", str(register)], cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/manifest", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("服务没有启动：\n" + log.read_text(encoding="utf-8"))
            time.sleep(0.2)
        try:
            (codes_file,) = sorted((root / "数据" / "报送码").glob("*.xlsx"))
            assert str(codes_file.name) in log.read_text(encoding="utf-8")  # the command says where the codes are
            yield County(url, root, codes_from_file(codes_file), root / "收文", root / "数据" / "inbox.sqlite3",
                         root / "数据" / "单位名单.xlsx", log, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert "Traceback" not in log.read_text(encoding="utf-8")


def sha(path: Path | bytes) -> str:
    return hashlib.sha256(path if isinstance(path, bytes) else path.read_bytes()).hexdigest()


def rows_equal_files(county: County) -> tuple[dict[str, str], dict[str, str]]:
    """(path → sha256 of every record whose file is kept, path → sha256 of every file in the inbox)."""
    with sqlite3.connect(county.database) as conn:
        rows = dict(conn.execute("SELECT path, sha256 FROM submissions WHERE stored=1").fetchall())
    files = {p.relative_to(county.inbox).as_posix(): sha(p) for p in county.inbox.rglob("*")
             if p.is_file() and p.relative_to(county.inbox).parts[0] != ".orphans"}
    return rows, files


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NIANBAO, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "250", "NO_COLOR": "1"})


def cli_findings(path: Path) -> list[dict[str, Any]]:
    """``nianbao validate --json`` on the file; each finding's cells (a rule marks all the cells of
    its equation) from the checks run on the file, matched by rule, sheet and anchor."""
    done = cli("validate", "--json", str(path), cwd=path.parent)
    assert done.returncode in (0, 1), done.stderr
    (found,) = json.loads(done.stdout)["files"]
    cells = {(f.rule, f.sheet, f.cell): f.cells for f in validate_report(read_report(path))}
    for f in found["findings"]:
        f["cells"] = list(cells[(f["rule"], f["sheet"], f["cell"])]) or range_cells(f["cell"])
    return found["findings"]






def browser_or_skip() -> tuple[Any, str]:
    browser = find_browser()
    if browser is None:
        pytest.skip(NO_BROWSER)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("未安装 playwright（pip install -e \".[test]\"），无法在浏览器中测试网页")
    return sync_playwright, browser


def test_a_unit_checks_fixes_submits_and_the_office_sums_what_the_command_line_sums(tmp_path: Path) -> None:
    sync_playwright, chromium = browser_or_skip()
    unit = UNITS[2]
    faulty = faulty_workbook(unit, tmp_path / "教育局-初稿.xlsx", frozenset({"imbalance", "blanks", "placeholder", "fullwidth"}))
    fixed = clean_workbook(unit, tmp_path / "教育局-改正.xlsx")
    expected = cli_findings(faulty)
    assert any(f["severity"] == "hard" for f in expected) and any(f["severity"] == "soft" for f in expected)
    with county_server(tmp_path / "server", UNITS) as county, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1366, "height": 768}, accept_downloads=True)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))

        # 1. choose the workbook with mistakes: the findings, by table, as nianbao validate gives them
        page.goto(county.pages + "/")
        page.set_input_files("#nb-file", str(faulty))
        page.wait_for_selector("#nb-result:not([hidden])")
        n_hard = sum(f["severity"] == "hard" for f in expected)
        assert page.inner_text("#nb-verdict") == f"{unit.name}：发现 {n_hard} 处错误、{len(expected) - n_hard} 处提示"
        shown = page.eval_on_selector_all("tr.nb-finding", """rows => rows.map(r => ({
            sheet: r.closest('.nb-group').dataset.sheet, rule: r.dataset.rule, location: r.dataset.location,
            cells: [...r.cells].map(c => c.textContent)}))""")
        assert [(s["sheet"], s["rule"], s["location"]) for s in shown] == \
            [(f["sheet"], f["rule"], f"{f['sheet']}!{f['cell']}") for f in sorted(expected, key=sheet_order)]
        by_location = {(s["rule"], s["location"]): s["cells"] for s in shown}
        for f in expected:
            cells = by_location[(f["rule"], f"{f['sheet']}!{f['cell']}")]
            assert cells[1:] == [f["rule"], f["cell"], f["row"], f["column"], f["found"], f["expected"], f["message"],
                                 f["explanation"]]
        assert page.is_disabled("#nb-pdf") and page.is_hidden("#nb-draft-box")

        # 2. the marked workbook: red and yellow on exactly the findings' cells, nothing else changed
        with page.expect_download() as got:
            page.click("#nb-marked")
        marked = tmp_path / "marked.xlsx"
        got.value.save_as(marked)
        assert got.value.suggested_filename == "教育局-初稿-校验标记.xlsx"
        hard = {(f["sheet"], c) for f in expected if f["severity"] == "hard" for c in f["cells"]}
        soft = {(f["sheet"], c) for f in expected if f["severity"] == "soft" for c in f["cells"]} - hard
        before, after = fills(faulty), fills(marked)
        hidden = merged_cells(faulty)
        assert {k for k, v in after.items() if v == FILL_HARD} == hard - hidden
        assert {k for k, v in after.items() if v == FILL_SOFT} == soft - hidden
        assert {k for k, v in after.items() if before.get(k) != v} <= hard | soft
        results = openpyxl.load_workbook(marked)["校验结果"]
        listed = [(r[1], r[2]) for r in results.iter_rows(min_row=2, values_only=True) if r[0]]
        assert listed == [(f["rule"], f"{f['sheet']}!{f['cell']}") for f in expected]

        # 3. the fixed workbook: 校验通过, the data paragraph, the PDF (LibreOffice on the server)
        page.set_input_files("#nb-file", str(fixed))
        page.wait_for_function("document.getElementById('nb-verdict').textContent.includes('校验通过')")
        assert page.input_value("#nb-draft").startswith("2026年") and page.is_visible("#nb-draft-box")
        if office_available():
            with page.expect_download(timeout=120_000) as got:
                page.click("#nb-pdf")
            pdf = tmp_path / "report.pdf"
            got.value.save_as(pdf)
            assert pdf.read_bytes()[:5] == b"%PDF-" and got.value.suggested_filename.startswith(unit.name)

        # 4. submit with the code: the receipt names the unit, the time and the file's sha256
        page.fill("#nb-code", county.codes[unit.name].lower())
        page.click("#nb-submit")
        page.wait_for_selector("#nb-receipt:not([hidden])")
        assert page.inner_text("#nb-receipt-unit") == unit.name
        assert page.inner_text("#nb-receipt-sha") == sha(fixed)
        assert "错误 0 处" in page.inner_text("#nb-receipt-counts")
        with page.expect_download() as got:
            page.click("#nb-receipt-download")
        receipt = Path(got.value.path()).read_text(encoding="utf-8")
        assert sha(fixed) in receipt and html.escape(unit.name) in receipt and "已接收" in receipt
        assert sha(county.inbox / f"{unit.name}.xlsx") == sha(fixed)

        # 5. the office: a wrong password is refused; the board shows 已报送 once and 未报送 for the rest
        office = browser.new_page(viewport={"width": 1366, "height": 768}, accept_downloads=True)
        office.on("pageerror", lambda e: errors.append(str(e)))
        office.goto(county.pages + "/office")
        office.fill("#nb-password", "不对")
        office.click("#nb-login")
        office.wait_for_selector("#nb-error:not([hidden])")
        assert "密码不正确" in office.inner_text("#nb-error")
        office.fill("#nb-password", PASSWORD)
        office.click("#nb-login")
        office.wait_for_selector("#nb-board tbody tr")
        status = dict(office.eval_on_selector_all("#nb-board tbody tr[data-unit]",
                                                  "rows => rows.map(r => [r.dataset.unit, r.cells[2].textContent])"))
        assert status == {u.name: ("已报送" if u is unit else "未报送") for u in UNITS}

        # 6. 汇总 from the page equals nianbao consolidate on the inbox, cell for cell
        office.click("#nb-consolidate")
        office.wait_for_selector("body[data-summary='done']", timeout=180_000)
        with office.expect_download() as got:
            office.click("#nb-summary-xlsx")
        from_page = tmp_path / "page.xlsx"
        got.value.save_as(from_page)
        done = cli("consolidate", str(county.inbox), "--units", str(county.register), "-o", str(tmp_path / "cli.xlsx"),
                   cwd=tmp_path)
        assert done.returncode in (0, 1), done.stderr
        assert workbook_values(from_page) == workbook_values(tmp_path / "cli.xlsx")
        with office.expect_download() as got:
            office.click("#nb-zip")
        with zipfile.ZipFile(got.value.path()) as z:
            assert {n: sha(z.read(n)) for n in z.namelist()} == {f"{unit.name}.xlsx": sha(fixed)}

        # 7. history; a lost code reset on the page (the old one stops working); the unit withdraws
        office.click(f"tr[data-unit='{unit.name}'] .nb-history-button")
        office.wait_for_selector("tr.nb-history tbody tr")
        assert office.eval_on_selector_all("tr.nb-history tbody tr", "rows => rows.map(r => r.dataset.state)") == ["current"]
        other = UNITS[4]
        office.on("dialog", lambda d: d.accept())
        office.click(f"tr[data-unit='{other.name}'] .nb-reset-button")
        office.wait_for_selector("#nb-new-code")
        new_code = office.inner_text("#nb-new-code")
        assert new_code != county.codes[other.name]
        assert post(county.pages + "/withdraw", {"code": county.codes[other.name]})[0] == 403
        status, body = post(county.pages + "/withdraw", {"code": new_code})
        assert status == 409 and "没有在用的报送" in body["error"]  # the new code is recognised
        page.on("dialog", lambda d: d.accept())
        page.click("#nb-withdraw")
        page.wait_for_function("document.getElementById('nb-submit-status').textContent.includes('已撤回')")
        office.click("#nb-refresh")
        office.wait_for_function(f"document.querySelector(\"tr[data-unit='{unit.name}'] td.nb-status\").textContent === '已撤回'")
        office.emulate_media(media="print")  # printed, the board keeps its rows and drops its buttons
        assert office.is_visible("#nb-board") and not office.is_visible("#nb-consolidate")
        assert not office.is_visible(".nb-reset-button")
        assert errors == []
        browser.close()
        rows, files = rows_equal_files(county)
        assert rows == files and len(rows) == 1


def sheet_order(f: dict[str, Any]) -> int:
    """The page groups findings by sheet in the workbook's order (a stable sort keeps nianbao
    validate's order within a sheet)."""
    return REPORT_SHEETS.index(f["sheet"]) if f["sheet"] in REPORT_SHEETS else len(REPORT_SHEETS)


def merged_cells(path: Path) -> set[tuple[str, str]]:
    wb = openpyxl.load_workbook(path)
    return {(n, c.coordinate) for n in REPORT_SHEETS for row in wb[n].iter_rows() for c in row if isinstance(c, MergedCell)}


def office_available() -> bool:
    import shutil

    return shutil.which("soffice") is not None or shutil.which("libreoffice") is not None


def workbook_values(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every sheet's values as openpyxl reads them (formulas as written); the minute a summary
    was made is left out (the page's and the command line's may fall either side of a minute)."""
    wb = openpyxl.load_workbook(path)

    def plain(v: Any) -> Any:
        return re.sub(r"生成时间：\d{4}-\d\d-\d\d \d\d:\d\d", "生成时间：…", v) if isinstance(v, str) else v

    return {ws.title: [tuple(plain(v) for v in r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


# ------------------------------------------------------------------------------------------
# What must not get through
# ------------------------------------------------------------------------------------------

def post(url: str, fields: dict[str, str], file: tuple[str, bytes] | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    import httpx

    files = {"file": (file[0], file[1], XLSX)} if file else None
    r = httpx.post(url, data=fields, files=files, headers=headers or {}, timeout=120)
    try:
        body = r.json()
    except ValueError:
        body = {"text": r.text}
    return r.status_code, body


def zip_bomb(template: Path) -> bytes:
    """A real report workbook whose shared strings inflate to 256 MB of spaces (~250 KB on disk):
    the part the reader loads whole when it opens the package."""
    out = io.BytesIO()
    with zipfile.ZipFile(template) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for item in src.infolist():
            if item.filename != "xl/sharedStrings.xml":
                z.writestr(item, src.read(item))
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>')
            chunk = b" " * (1 << 20)
            for _ in range(256):
                part.write(chunk)
            part.write(b"</t></si></sst>")
    return out.getvalue()


def announced_too_large(url: str) -> int:
    """The status of a POST that announces 200 MB and sends a few bytes (the server must answer
    from the header, not wait for the body)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("POST", parts.path)
        conn.putheader("Content-Type", "multipart/form-data; boundary=x")
        conn.putheader("Content-Length", str(200 * 1024 * 1024))
        conn.endheaders(b"--x\r\n")
        return conn.getresponse().status
    finally:
        conn.close()


def test_wrong_codes_other_units_files_and_hostile_files_are_refused_and_nothing_is_lost(tmp_path: Path) -> None:
    unit, other = UNITS[5], UNITS[6]
    mine = clean_workbook(unit, tmp_path / "本单位.xlsx")
    theirs = clean_workbook(other, tmp_path / "别的单位.xlsx")
    evil = fake_report(UNITS[7], 2026, 11)
    evil.cover["unit_name"] = '<img src=x onerror="document.body.dataset.pwned=1">局'
    script_name = write_report(evil, tmp_path / "脚本.xlsx")
    hostile = {
        "not_a_workbook.xlsx": os.urandom(4096),
        "empty.xlsx": b"",
        "old.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4000,
        "bomb.xlsx": zip_bomb(mine),
        "report.docx.xlsx": zipfile_with("word/document.xml"),
    }
    with county_server(tmp_path / "server", UNITS, attempts=4) as county:
        base = county.pages
        code = county.codes[unit.name]

        # another unit's file with my code: refused, kept as a refused submission, the reason says why
        status, body = post(base + "/submit", {"code": code}, (theirs.name, theirs.read_bytes()))
        assert status == 200 and body["accepted"] is False and other.name in body["reason"] and unit.name in body["reason"]

        # hostile files: a Chinese reason from /check and /submit, the server stays up
        for name, data in hostile.items():
            status, body = post(base + "/check", {}, (name, data))
            assert status == 200 and body["error"] and re.search(r"[\u4e00-\u9fff]", body["verdict"]), (name, body)
            status, body = post(base + "/submit", {"code": code}, (name, data))
            assert status == 200 and body["accepted"] is False and body["reason"].startswith("文件无法读取"), (name, body)
        status, body = post(base + "/marked", {}, ("bomb.xlsx", hostile["bomb.xlsx"]))
        assert status == 400 and "无法读取" in body["error"]
        status, body = post(base + "/check", {}, None)
        assert status == 400 and "没有收到文件" in body["error"]
        assert announced_too_large(base + "/check") == 413  # refused from the header, before the body
        # markup in a workbook is shown as text, never run
        sync_playwright, chromium = browser_or_skip()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(base + "/")
            page.set_input_files("#nb-file", str(script_name))
            page.wait_for_selector("#nb-result:not([hidden])")
            assert page.inner_text("#nb-verdict").startswith('<img src=x onerror="document.body.dataset.pwned=1">局')
            assert page.evaluate("document.body.dataset.pwned") is None and page.query_selector("#nb-result img") is None
            page.fill("#nb-code", code[:5] + "2222-2222")  # a wrong code, on the page
            page.click("#nb-submit")
            page.wait_for_selector("#nb-error:not([hidden])")
            assert page.inner_text("#nb-error").startswith("报送码不正确") and page.is_hidden("#nb-receipt")
            browser.close()

        # wrong codes: one answer for a wrong secret and an unknown unit; then this computer waits for this unit
        answers = set()
        for guess in (code[:5] + "2222-2222", "ZZZZ-ZZZZ-ZZZZ", "我不知道", code[:5] + "3333-3333", code[:5] + "4444-4444"):
            status, body = post(base + "/submit", {"code": guess}, (mine.name, mine.read_bytes()))
            answers.add((status, body["error"]))
        assert len(answers) == 1 and next(iter(answers))[0] == 403
        assert not any(u.name in next(iter(answers))[1] for u in UNITS)
        status, body = post(base + "/submit", {"code": code}, (mine.name, mine.read_bytes()))
        assert status == 429 and "分钟后再试" in body["error"]  # four failures on this unit: even the right code waits

        rows, files = rows_equal_files(county)
        assert rows == files and len(rows) == 1  # the unreadable files were not kept, only recorded
        with sqlite3.connect(county.database) as conn:
            kept = conn.execute("SELECT original_name, stored, size FROM submissions ORDER BY id").fetchall()
        assert len(kept) == 1 + len(hostile) and [k[1] for k in kept] == [1] + [0] * len(hostile)
        assert [k[2] for k in kept[1:]] == [len(d) for d in hostile.values()]
        assert [p.name for p in county.inbox.iterdir() if not p.name.startswith(".")] == []  # nothing in force
        with urllib.request.urlopen(base + "/") as r:
            assert r.status == 200


def zipfile_with(part: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(part, "<document/>")
    return out.getvalue()


def test_twenty_units_submitting_at_once_each_get_their_own_receipt(tmp_path: Path) -> None:
    units = county_units(2026, n=20)
    books = [clean_workbook(u, tmp_path / f"{u.name}.xlsx", seed=3) for u in units]
    with county_server(tmp_path / "server", units) as county:
        barrier = threading.Barrier(len(units))

        def submit(i: int) -> tuple[int, dict[str, Any]]:
            barrier.wait()
            return post(county.pages + "/submit", {"code": county.codes[units[i].name]}, (books[i].name, books[i].read_bytes()))

        import concurrent.futures

        with concurrent.futures.ThreadPoolExecutor(len(units)) as pool:
            answers = list(pool.map(submit, range(len(units))))
        assert [s for s, _ in answers] == [200] * len(units)
        assert [b["unit"] for _, b in answers] == [u.name for u in units]
        assert all(b["accepted"] for _, b in answers), [b["reason"] for _, b in answers if not b["accepted"]]
        assert sorted(int(b["number"]) for _, b in answers) == list(range(1, len(units) + 1))
        for u, book in zip(units, books):
            assert sha(county.inbox / f"{u.name}.xlsx") == sha(book)
        rows, files = rows_equal_files(county)
        assert rows == files and len(rows) == len(units)
