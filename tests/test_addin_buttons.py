"""导出PDF and 汇总 through the real server: ``nianbao serve`` on loopback, payloads built from real
workbooks, the units' files uploaded over real multipart HTTP, the made files downloaded and read
back by independent tools (pdfinfo/pdftotext, python-calamine, openpyxl, LibreOffice).

Why: these buttons make files that no Excel client can receive as actions; what the clerk gets is
an answer (actions, a task-pane offer, a message) plus a download. Both halves are checked here,
and every number is checked against sums computed in this file from the uploaded files.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from addin_support import NIANBAO, NO_BROWSER, find_browser, render_taskpane, require_xlwings_server, running_server
from openpyxl.cell.cell import MergedCell
from python_calamine import CalamineWorkbook

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # in-process books (government use); not passed to the server

from addin.excel.actions import apply_actions, unsupported_actions
from addin.excel.payload import build_payload
from addin.excel.transfer import Transfers, safe_name
from workbook.build import write_template
from workbook.layout import RESULTS_SHEET, layout_for
from workbook.spec import load_edition

require_xlwings_server()

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "samples" / "宁海县交通运输局2020年政府信息公开工作年度报告.xlsx"
INBOX = ROOT / "samples" / "青禾县-2026" / "收文"
REGISTER = ROOT / "samples" / "青禾县-2026" / "单位名单.csv"
UNITS = sorted(INBOX.glob("青禾县*.xlsx"))[:5]  # includes a unit with “-”, “/” and “０” in its cells
PART3 = "三、收到和处理政府信息公开申请情况"
NO_SOFFICE = "未安装 LibreOffice（soffice）：apt-get install -y libreoffice-calc-nogui fonts-noto-cjk"



@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``nianbao serve`` in a subprocess with a transfer folder of its own: (url, folder)."""
    root = tmp_path_factory.mktemp("serve-buttons")
    transfer = root / "transfer"
    with running_server(root, {"NIANBAO_TRANSFER_DIR": str(transfer)}) as url:
        yield url, transfer


def post(url: str, script: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    req = urllib.request.Request(f"{url}/xlwings/custom-scripts-call/{script}", data=json.dumps(payload).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=180) as r:
        return json.load(r)["actions"]


def multipart(files: list[tuple[str, bytes]], fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart/form-data body as a browser's FormData sends it."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, data in files:
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n")
        parts.append(head.encode() + data + b"\r\n")
    for key, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload(url: str, paths: list[Path], names: list[str] | None = None) -> dict[str, Any]:
    files = [(n, p.read_bytes()) for n, p in zip(names or [p.name for p in paths], paths)]
    body, kind = multipart(files, {"mtimes": json.dumps([int(p.stat().st_mtime * 1000) for p in paths])})
    req = urllib.request.Request(f"{url}/nianbao/upload", data=body, headers={"Content-Type": kind})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def offer_of(actions: list[dict[str, Any]]) -> dict[str, Any]:
    (macro,) = [a for a in actions if a["func"] == "runMacro"]
    assert macro["args"][0] == "nbOffer"
    return json.loads(macro["args"][1])


def fetch(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read(), r.headers["Content-Disposition"]


# ------------------------------------------------------------------------------------------
# Independent readers
# ------------------------------------------------------------------------------------------

def number(v: Any) -> float:
    """A cell as the county counts it: numbers, full-width digits; “-”, “/”, blank are 0."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    text = unicodedata.normalize("NFKC", str(v or "")).strip().replace(",", "")
    try:
        return float(text)
    except ValueError:
        assert text in ("", "-", "/", "无"), text
        return 0.0


def cell_value(wb: CalamineWorkbook, address: str) -> Any:
    sheet, ref = address.split("!")
    col = sum((ord(ch) - 64) * 26 ** i for i, ch in enumerate(reversed(re.sub(r"\d", "", ref))))
    row = int(re.sub(r"\D", "", ref))
    rows = wb.get_sheet_by_name(sheet).to_python()
    return rows[row - 1][col - 1] if row <= len(rows) and col <= len(rows[row - 1]) else ""


def cover_value(path: Path, key: str) -> str:
    """A cover field of a file, read by python-calamine at the template's position."""
    r, c = layout_for("2021").cover.fields[key]
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(load_edition("2021").cover_sheet).to_python()
    return str(rows[r][c])


def independent_sums(paths: list[Path]) -> dict[str, float]:
    """Every input cell of the 2021 edition summed over the files, read by python-calamine."""
    lay = layout_for("2021")
    books = [CalamineWorkbook.from_path(str(p)) for p in paths]
    return {c.id: sum(number(cell_value(wb, lay.address(c.id))) for wb in books)
            for c in load_edition("2021").input_cells}


def assert_writes_allowed(path: Path, payload: dict[str, Any], actions: list[dict[str, Any]]) -> None:
    """Values only into unlocked cells or unprotected sheets; fills where formatting is allowed;
    clearing only on unprotected sheets."""
    wb = openpyxl.load_workbook(path)
    for a in actions:
        if a["sheet_position"] is None:
            continue
        ws = wb[payload["sheets"][a["sheet_position"]]["name"]]
        if not ws.protection.sheet:
            continue
        assert a["func"] in ("setValues", "setRangeColor"), (ws.title, a["func"])
        if a["func"] == "setRangeColor":
            assert not ws.protection.formatCells, ws.title
            continue
        for i, row in enumerate(a["values"]):
            for j, _ in enumerate(row):
                cell = ws.cell(a["start_row"] + 1 + i, a["start_column"] + 1 + j)
                assert not isinstance(cell, MergedCell) and not cell.protection.locked, f"{ws.title}!{cell.coordinate}"


# ------------------------------------------------------------------------------------------
# 导出PDF
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clean_unit() -> Path:
    """A committed unit of the sample county that has no hard findings (a PDF is allowed)."""
    return INBOX / "青禾县教育局.xlsx"


@pytest.fixture(scope="module")
def pdf_answers(server: tuple[str, Path], clean_unit: Path) -> dict[str, list[dict[str, Any]]]:
    if shutil.which("soffice") is None:
        pytest.skip(NO_SOFFICE)
    return {client: post(server[0], "export_pdf", build_payload(clean_unit, client)) for client in ("Office.js", "VBA")}


def pdf_pages(data: bytes, tmp: Path) -> tuple[list[tuple[float, float]], str]:
    pdf = tmp / "got.pdf"
    pdf.write_bytes(data)
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "99", str(pdf)], capture_output=True, text=True, check=True).stdout
    sizes = [(float(w), float(h)) for w, h in re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info)]
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return sizes, text


@pytest.mark.office
def test_export_pdf_offers_a_real_pdf_to_both_clients(server: tuple[str, Path], clean_unit: Path,
                                                      pdf_answers: dict[str, list[dict[str, Any]]],
                                                      tmp_path: Path) -> None:
    if shutil.which("pdfinfo") is None:
        pytest.skip("未安装 poppler-utils（pdfinfo、pdftotext）")
    url, _ = server
    unit = cover_value(clean_unit, "unit_name")
    sums = independent_sums([clean_unit])
    columns = ("natural", "business", "research", "nonprofit", "legal", "other_org")
    row = [sums[f"part3.main.new.{c}"] for c in columns]
    want = [f"{v:.0f}" for v in [*row, sum(row)]]  # the printed row: the inputs, then 总计
    # Office.js: the task pane gets the offer (no alert); VBA: a message with the full address
    office = pdf_answers["Office.js"]
    assert unsupported_actions(office, "Office.js") == []
    assert [a["func"] for a in office] == ["runMacro"]
    data = offer_of(office)
    assert data["kind"] == "pdf" and data["url"].startswith("/nianbao/download/")
    assert data["filename"] == f"{unit}2026年政府信息公开工作年度报告.pdf"
    vba = pdf_answers["VBA"]
    assert unsupported_actions(vba, "VBA") == []
    (alert,) = [a for a in vba if a["func"] == "alert"]
    links = re.findall(r"http://127\.0\.0\.1:\d+/nianbao/download/\S+", alert["args"][0])
    assert links and links[0].startswith(url) and "请在浏览器中打开" in alert["args"][0]
    for link in (url + data["url"], links[0]):
        body, disposition = fetch(link)
        assert body[:5] == b"%PDF-"
        assert "filename*=UTF-8''" in disposition and urllib.parse.unquote(disposition.split("''")[1]).endswith(".pdf")
        sizes, text = pdf_pages(body, tmp_path)
        assert sizes and all(abs(w - 841.89) < 1 and abs(h - 595.28) < 1 for w, h in sizes), sizes  # A4 landscape
        flat = re.sub(r"\s+", "", text)
        assert PART3 in flat and unit in flat
        (line,) = [ln for ln in text.splitlines() if ln.strip().startswith("一、本年新收政府信息公开申请数量")]
        assert re.findall(r"\d+", line.split("数量", 1)[1]) == want


@pytest.mark.office
def test_two_exports_and_a_check_at_once_all_get_their_own_answer(server: tuple[str, Path], clean_unit: Path,
                                                                  pdf_answers: dict[str, list[dict[str, Any]]],
                                                                  tmp_path: Path) -> None:
    """Two PDFs and a 校验 sent together: each PDF is a real PDF of its own unit, and the 校验
    answers its own workbook. (How long the check waits meanwhile is measured by hand:
    tests/bench/bench_export_clicks.py.)"""
    if shutil.which("pdftotext") is None:
        pytest.skip("未安装 poppler-utils（pdftotext）")
    url, _ = server
    other = INBOX / "青禾县交通运输局.xlsx"
    units = (clean_unit, other)
    with ThreadPoolExecutor(3) as pool:
        pdfs = [pool.submit(post, url, "export_pdf", build_payload(p, "Office.js")) for p in units]
        check = pool.submit(post, url, "validate", build_payload(other, "Office.js"))
        answers = [f.result() for f in pdfs]
        checked = check.result()
    alerts = [a["args"][0] for a in checked if a["func"] == "alert"]
    assert len(alerts) == 1 and alerts[0].startswith(cover_value(other, "unit_name") + "：")
    (shown,) = [json.loads(a["args"][1]) for a in checked if a["func"] == "runMacro"]
    from checks import validate_report  # what nianbao validate finds in the same file
    from workbook.read import read_report

    assert [(f["rule"], f["location"]) for f in shown["findings"]] == \
        [(f.rule, f.location) for f in validate_report(read_report(other))]
    offers = [offer_of(a) for a in answers]
    assert len({o["url"] for o in offers}) == 2
    for path, data in zip(units, offers, strict=True):
        unit = cover_value(path, "unit_name")
        assert data["filename"] == f"{unit}2026年政府信息公开工作年度报告.pdf"
        body, _ = fetch(url + data["url"])
        assert body[:5] == b"%PDF-"
        pdf = tmp_path / f"{unit}.pdf"
        pdf.write_bytes(body)
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert unit in re.sub(r"\s+", "", text)


def test_export_pdf_refuses_a_workbook_with_errors(server: tuple[str, Path]) -> None:
    """The seed (a real published report with real errors): a Chinese alert naming the rules that
    ``nianbao validate`` reports as errors, and no file made."""
    url, transfer = server
    done = subprocess.run([*NIANBAO, "validate", "--json", str(SEED)], capture_output=True, text=True,
                          timeout=120, check=False)
    hard = {f["rule"] for f in json.loads(done.stdout)["files"][0]["findings"] if f["severity"] == "hard"}
    assert hard
    before = set((transfer / "downloads").glob("*")) if (transfer / "downloads").exists() else set()
    for client in ("Office.js", "VBA"):
        actions = post(url, "export_pdf", build_payload(SEED, client))
        assert unsupported_actions(actions, client) == []
        (alert,) = actions
        assert alert["func"] == "alert"
        prompt = alert["args"][0]
        assert "不能导出 PDF" in prompt and "校验" in prompt and "Traceback" not in prompt
        listed = set(re.search(r"（([^）]*)），不能导出", prompt).group(1).split("、"))
        assert listed == hard
    after = set((transfer / "downloads").glob("*")) if (transfer / "downloads").exists() else set()
    assert after == before


def test_export_pdf_without_libreoffice_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                clean_unit: Path) -> None:
    """In process (the server's PATH cannot be changed under it): OfficeMissing becomes the
    install hint in an alert, and the half-made download is removed."""
    monkeypatch.setenv("NIANBAO_TRANSFER_DIR", str(tmp_path / "transfer"))
    monkeypatch.setenv("NIANBAO_PDF_ENGINE", "libreoffice")
    import xlwings as xw

    import addin.excel.buttons as buttons
    from workbook import office

    monkeypatch.setattr(office.shutil, "which", lambda name: None)
    book = xw.Book(json=build_payload(clean_unit, "VBA"))
    try:
        outcome = buttons.export_pdf(book)
        actions = book.json()["actions"]
    finally:
        book.close()
    assert "服务器上无法生成 PDF" in outcome.message and "LibreOffice" in outcome.message
    assert [a["func"] for a in actions] == ["alert"] and unsupported_actions(actions, "VBA") == []
    assert not any(p.is_file() for p in (tmp_path / "transfer").rglob("*"))


# ------------------------------------------------------------------------------------------
# 汇总
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sums() -> dict[str, float]:
    return independent_sums(UNITS)


@pytest.fixture(scope="module")
def blank_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The county office's starting point: the blank 2021 template for the report year."""
    return write_template(tmp_path_factory.mktemp("tpl") / "青禾县汇总.xlsx", "2021", 2026)


@pytest.fixture(scope="module")
def into_template(server: tuple[str, Path], blank_template: Path) -> dict[str, Any]:
    """汇总 with the blank template open: five units and the register uploaded."""
    url, _ = server
    batch = upload(url, [*UNITS, REGISTER])
    assert batch["files"] == len(UNITS) + 1
    payload = build_payload(blank_template, "Office.js")
    payload["args"] = [batch["batch"]]
    return {"payload": payload, "actions": post(url, "consolidate", payload), "batch": batch["batch"]}


def test_consolidate_writes_the_sums_into_a_blank_template(server: tuple[str, Path], blank_template: Path,
                                                           into_template: dict[str, Any], sums: dict[str, float],
                                                           tmp_path: Path) -> None:
    url, transfer = server
    actions, payload = into_template["actions"], into_template["payload"]
    assert unsupported_actions(actions, "Office.js") == []
    assert_writes_allowed(blank_template, payload, actions)
    out = tmp_path / "applied.xlsx"
    apply_actions(blank_template, actions, out, client="Office.js")
    wb = CalamineWorkbook.from_path(str(out))
    lay = layout_for("2021")
    got = {cid: number(cell_value(wb, lay.address(cid))) for cid in sums}
    assert got == pytest.approx(sums)
    assert sums["part3.main.new.natural"] > 0 and sum(sums.values()) > 100
    assert cover_value(out, "unit_name") == "青禾县人民政府" and cover_value(out, "year") == "2026"
    # the download is the command line's summary file, with the same sums, its files named as uploaded
    data = offer_of(actions)
    assert data["kind"] == "summary" and "已汇总 5 个单位" in data["message"] and "未报送" in data["message"]
    assert "汇总数字已写入本工作簿" in data["message"]
    body, _ = fetch(url + data["url"])
    summary = tmp_path / "summary.xlsx"
    summary.write_bytes(body)
    swb = CalamineWorkbook.from_path(str(summary))
    assert {cid: number(cell_value(swb, lay.address(cid))) for cid in sums} == pytest.approx(sums)
    board = [v for row in swb.get_sheet_by_name("报送情况").to_python() for v in row if isinstance(v, str)]
    assert any(v == UNITS[0].name for v in board) and not any(str(transfer) in v or "/tmp" in v for v in board)
    # 校验结果: the summary file's rows, in the open workbook
    want = [r[:3] for r in swb.get_sheet_by_name(RESULTS_SHEET).to_python()[1:] if any(r)]
    have = [[c.value for c in r][:3] for r in openpyxl.load_workbook(out)[RESULTS_SHEET].iter_rows(min_row=2)
            if any(c.value is not None for c in r)]
    assert have == want and len(want) > 0
    # the task pane's figures are table 三's 总计 column
    figures = dict(data["figures"])
    new_total = sum(v for k, v in sums.items() if k.startswith("part3.main.new."))
    assert figures["一、本年新收政府信息公开申请数量"] == f"{new_total:.0f}"
    assert f"共收到政府信息公开申请{new_total:.0f}件" in data["sentence"]
    # nothing uploaded stays on the server
    assert not (transfer / "uploads" / into_template["batch"]).exists()


@pytest.mark.office
def test_consolidated_template_totals_recalculate_like_the_summary(into_template: dict[str, Any],
                                                                  blank_template: Path, server: tuple[str, Path],
                                                                  tmp_path: Path) -> None:
    """Excel's part (LibreOffice here): the template's SUM totals over the written inputs equal the
    totals of the downloaded summary, which the consolidation computed without any formula."""
    if shutil.which("soffice") is None:
        pytest.skip(NO_SOFFICE)
    from workbook.office import recalculate

    applied = tmp_path / "applied.xlsx"
    apply_actions(blank_template, into_template["actions"], applied, client="Office.js")
    recalculated = recalculate(applied, tmp_path / "lo")
    body, _ = fetch(server[0] + offer_of(into_template["actions"])["url"])
    (tmp_path / "summary.xlsx").write_bytes(body)
    lay = layout_for("2021")
    ours, theirs = (CalamineWorkbook.from_path(str(p)) for p in (recalculated, tmp_path / "summary.xlsx"))
    derived = [c.id for c in load_edition("2021").derived_cells]
    assert {cid: number(cell_value(ours, lay.address(cid))) for cid in derived} == \
        pytest.approx({cid: number(cell_value(theirs, lay.address(cid))) for cid in derived})


def test_consolidate_leaves_an_old_summary_alone_and_offers_the_new_one(server: tuple[str, Path],
                                                                       sums: dict[str, float], tmp_path: Path) -> None:
    """A summary written by ``nianbao consolidate`` keeps its totals as locked values and protects
    明细, 报送情况 and its member list: no write at all, the new summary is offered instead; a
    unit's own report is not overwritten either."""
    url, _ = server
    old = tmp_path / "去年的汇总.xlsx"
    done = subprocess.run([*NIANBAO, "consolidate", *map(str, UNITS[:2]), "-o", str(old)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert old.exists(), done.stderr
    for path, why in ((old, "以前生成的汇总表"), (INBOX / "青禾县教育局.xlsx", "不是汇总用的空白模板")):
        payload = build_payload(path, "Office.js")
        payload["args"] = [upload(url, UNITS)["batch"]]
        actions = post(url, "consolidate", payload)
        assert [a["func"] for a in actions] == ["runMacro"]
        data = offer_of(actions)
        assert why in data["message"] and "下载汇总表" in data["message"]
        body, _ = fetch(url + data["url"])
        (tmp_path / "new.xlsx").write_bytes(body)
        wb = CalamineWorkbook.from_path(str(tmp_path / "new.xlsx"))
        lay = layout_for("2021")
        assert {cid: number(cell_value(wb, lay.address(cid))) for cid in sums} == pytest.approx(sums)


def test_consolidate_without_files_or_with_a_stale_batch(server: tuple[str, Path], blank_template: Path) -> None:
    url, _ = server
    actions = post(url, "consolidate", build_payload(blank_template, "VBA"))  # VBA cannot upload
    assert unsupported_actions(actions, "VBA") == []
    assert [a["func"] for a in actions] == ["alert"] and "任务窗格" in actions[0]["args"][0]
    payload = build_payload(blank_template, "Office.js")
    payload["args"] = ["A" * 32]
    (alert,) = post(url, "consolidate", payload)
    assert alert["func"] == "alert" and "已失效" in alert["args"][0]


def test_upload_refuses_nothing_and_keeps_names_inside_the_batch(server: tuple[str, Path]) -> None:
    url, transfer = server
    body, kind = multipart([], {"mtimes": "[]"})
    req = urllib.request.Request(f"{url}/nianbao/upload", data=body, headers={"Content-Type": kind})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=30)
    assert err.value.code == 400 and "没有收到文件" in json.loads(err.value.read())["detail"]
    got = upload(url, [UNITS[0], UNITS[1]], ["../../逃逸.xlsx", "..\\..\\逃逸.xlsx"])
    assert got["names"] == ["逃逸.xlsx", "逃逸（2）.xlsx"]
    batch = transfer / "uploads" / got["batch"]
    assert sorted(p.name for p in batch.iterdir()) == ["逃逸.xlsx", "逃逸（2）.xlsx"]
    assert abs((batch / "逃逸.xlsx").stat().st_mtime - UNITS[0].stat().st_mtime) < 1  # the browser's lastModified
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{url}/nianbao/download/{got['batch']}", timeout=30)  # an upload is not a download
    assert err.value.code == 404 and "已失效" in err.value.read().decode("utf-8")


def _refused(url: str, body: bytes, kind: str) -> tuple[int, str]:
    req = urllib.request.Request(f"{url}/nianbao/upload", data=body, headers={"Content-Type": kind})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=60)
    return err.value.code, json.loads(err.value.read())["detail"]


def test_upload_caps_the_number_of_files_and_checks_their_times_in_chinese(server: tuple[str, Path]) -> None:
    from addin.excel.transfer import MAX_FILES

    url, transfer = server
    batches = set((transfer / "uploads").iterdir()) if (transfer / "uploads").exists() else set()
    body, kind = multipart([(f"{i}.xlsx", b"x") for i in range(MAX_FILES + 1)], {"mtimes": "[]"})
    code, detail = _refused(url, body, kind)
    assert code == 400 and f"一次最多上传 {MAX_FILES} 个文件" in detail
    for bad in ("[1e300]", "[NaN]", '["昨天"]', "[true]", "[-5]", '{"a": 1}', "[1, 2, 3]", "不是时间", "[" * 100_000):
        body, kind = multipart([("a.xlsx", UNITS[0].read_bytes())], {"mtimes": bad})
        code, detail = _refused(url, body, kind)
        assert code == 400 and "修改时间" in detail, bad
    after = set((transfer / "uploads").iterdir()) if (transfer / "uploads").exists() else set()
    assert after == batches  # nothing kept from a refused upload
    # a count the page really sends (more than the 1,000 a form parser allows by default) is taken
    body, kind = multipart([(f"{i}.xlsx", b"x") for i in range(1200)], {"mtimes": json.dumps([0] * 1200)})
    req = urllib.request.Request(f"{url}/nianbao/upload", data=body, headers={"Content-Type": kind})
    with urllib.request.urlopen(req, timeout=60) as r:
        many = json.load(r)
    assert many["files"] == 1200 and len(set(many["names"])) == 1200


def test_upload_refuses_a_request_larger_than_the_limit_before_reading_it(server: tuple[str, Path]) -> None:
    import http.client

    from addin.excel.transfer import upload_limit

    url, _ = server
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.putrequest("POST", "/nianbao/upload")
        conn.putheader("Content-Type", "multipart/form-data; boundary=x")
        conn.putheader("Content-Length", str(upload_limit() + 1))
        conn.endheaders(b"--x\r\n")  # a few bytes of a body that is never sent: the answer must not wait for it
        answer = conn.getresponse()
        detail = json.loads(answer.read())["detail"]
    finally:
        conn.close()
    assert answer.status == 413 and "超过服务器的上限" in detail and "分批" in detail


def test_transfers_expire_and_refuse_forged_tokens(tmp_path: Path) -> None:
    store = Transfers(tmp_path, ttl=3600)
    token, target = store.new_download("a/b\\..\\报告.pdf")
    assert target.parent.parent == tmp_path / "downloads" and target.name == "报告.pdf"
    assert store.download(token) is None  # not written yet
    target.write_bytes(b"%PDF-")
    assert store.download(token) == target
    for forged in ("..", "../uploads", token + "/../x", "", "短"):
        assert store.download(forged) is None
    old = Transfers(tmp_path, ttl=0)
    time.sleep(0.01)
    assert old.download(token) is None and old.sweep() == 1 and not target.exists()
    assert store.lifetime == "1 小时" and Transfers(tmp_path, ttl=1800).lifetime == "30 分钟"
    assert safe_name("...") == "文件" and safe_name("C:\\a\\b:c?.xlsx") == "b_c_.xlsx"


# ------------------------------------------------------------------------------------------
# The ribbon and the task pane
# ------------------------------------------------------------------------------------------

def test_ribbon_has_the_two_buttons(server: tuple[str, Path]) -> None:
    url, _ = server
    with urllib.request.urlopen(url + "/manifest") as r:
        text = r.read().decode("utf-8")
    assert 'DefaultValue="导出PDF"' in text and 'DefaultValue="汇总"' in text
    pdf = re.search(r'<Control xsi:type="Button" id="Nianbao.ExportPdf">.*?</Control>', text, re.DOTALL).group(0)
    assert "<FunctionName>nbExportPdf</FunctionName>" in pdf
    summary = re.search(r'<Control xsi:type="Button" id="Nianbao.Consolidate">.*?</Control>', text, re.DOTALL).group(0)
    assert 'xsi:type="ShowTaskpane"' in summary  # the units' files are chosen in the task pane
    ribbon = (ROOT / "addin" / "server" / "static" / "js" / "ribbon.js").read_text(encoding="utf-8")
    assert 'nbExportPdf: "export_pdf"' in ribbon
    with urllib.request.urlopen(url + "/xlwings/custom-scripts-meta.json") as r:
        assert {"export_pdf", "consolidate"} <= {m["function_name"] for m in json.load(r)}


def test_task_pane_shows_the_buttons_and_offers_in_headless_chromium(server: tuple[str, Path],
                                                                    into_template: dict[str, Any],
                                                                    tmp_path: Path) -> None:
    """The served task pane in a real browser (Office.js and the xlwings client stubbed, as they
    only run inside Excel): the 导出PDF button and the 汇总 file chooser render, and a real 汇总
    answer shows its message, figures and download link."""
    browser = find_browser()
    if browser is None:
        pytest.skip(NO_BROWSER)
    url, _ = server
    dom, state = render_taskpane(browser, url, into_template["actions"], STUB, DRIVER, tmp_path)
    assert state["errors"] == []
    text = html.unescape(dom)
    assert re.search(r'<button[^>]*xw-click="export_pdf"[^>]*>导出PDF</button>', text)
    assert re.search(r'<input[^>]*type="file"[^>]*id="nb-units"[^>]*multiple', text)
    assert re.search(r'<button[^>]*id="nb-consolidate"[^>]*>汇总</button>', text)
    data = offer_of(into_template["actions"])
    assert 'id="nb-offer"' in text and 'class="mt-3" aria-live' in text  # shown (d-none removed)
    assert state["link"] == url + data["url"] and data["filename"] in state["linkText"]
    assert text.count('class="text-end nb-figure"') == len(data["figures"])
    assert "已汇总 5 个单位" in text
    assert state["opened"] == [url + data["url"]]  # the link opens the system browser
    assert state["said"] == "请先选择各单位报送的文件（可多选）。"  # 汇总 without files asks for them


STUB = """
window.__nb = {errors: [], opened: []};
window.addEventListener("error", (e) => __nb.errors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => __nb.errors.push(String(e.reason)));
window.Office = { context: { requirements: { isSetSupported: () => true },
                             ui: { openBrowserWindow: (url) => __nb.opened.push(url) } },
  addin: { showAsTaskpane: async () => { __nb.shown = true; } }, onReady: async () => ({ host: "Excel" }) };
window.Excel = { run: async (callback) => callback({}) };
window.config = { appPath: "" };
"""

DRIVER = """
window.addEventListener("load", async () => {
  try {
    const actions = JSON.parse(document.getElementById("answer").textContent);
    for (const action of actions) {
      if (action.func === "runMacro") await globalThis.callbacks[action.args[0]]({}, ...action.args.slice(1));
    }
    const link = document.getElementById("nb-offer-link");
    __nb.link = link.href;
    __nb.linkText = link.textContent;
    link.click();
    document.getElementById("nb-consolidate").click();
    await new Promise((resolve) => setTimeout(resolve, 50));
    __nb.said = document.getElementById("nb-summary-status").textContent;
  } catch (error) {
    __nb.errors.push(String(error));
  }
  document.body.setAttribute("data-nb", JSON.stringify(__nb));
});
"""
