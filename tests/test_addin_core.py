"""The add-in core on xlwings' real remote engine, in process: what each click emits for each
client, and how it fails. Why: the server only wraps these functions; here every branch (not a
template, internal error, stored totals, blanks, two books at once) is cheap to reach.
The server-level tests (real HTTP, CLI comparison, files read back) are in test_addin_server.py."""

from __future__ import annotations

import copy
import functools
import os
import random
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pytest

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # government use: PolyForm Noncommercial

import xlwings as xw

import addin.excel.desktop as desktop

import addin.excel.core as xlcore
from addin.excel.actions import apply_actions, unsupported_actions
from addin.excel.payload import build_payload
from addin.publish.safety import FORMULA_STARTS, cell_value, is_formula_like, neutralise
from checks.findings import Finding
from workbook.build import PROTECTION_OPTIONS, BuildOptions, write_report, write_template
from workbook.layout import RESULTS_SHEET, layout_for
from workbook.read import read_report
from workbook.samples import county_units, fake_report

CLIENTS = ["VBA", "Office.js"]
SEED = Path(__file__).resolve().parents[1] / "samples" / "宁海县交通运输局2020年政府信息公开工作年度报告.xlsx"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("core")
    unit = county_units(2026)[2]
    messy = fake_report(unit, 2026, 11, frozenset({"imbalance", "blanks", "placeholder"}))
    clean = fake_report(unit, 2026, 11, frozenset())
    plain = openpyxl.Workbook()
    plain.active["A1"] = "不是年报"
    plain.save(root / "plain.xlsx")
    return {"messy": write_report(messy, root / "messy.xlsx"), "clean": write_report(clean, root / "clean.xlsx"),
            "plain": root / "plain.xlsx", "seed": SEED}


@pytest.fixture(scope="module")
def protections(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The messy report as real templates protected three ways: the builder's default (users may
    edit objects), protected without that permission (Excel then refuses notes), unprotected."""
    root = tmp_path_factory.mktemp("protection")
    report = read_report(files["messy"])
    no_objects = BuildOptions(protection={**PROTECTION_OPTIONS, "objects": False})
    return {"default": files["messy"],
            "locked_objects": write_report(report, root / "locked_objects.xlsx", no_objects),
            "unprotected": write_report(report, root / "unprotected.xlsx", BuildOptions(protect=False))}


@functools.cache
def _payload(path: Path, client: str) -> dict[str, Any]:
    return build_payload(path, client)


def book_for(path: Path, client: str) -> xw.Book:
    """A remote book as the client would post it (payloads built once per file and client)."""
    return xw.Book(json=copy.deepcopy(_payload(path, client)))


def actions_of(book: xw.Book) -> list[dict[str, Any]]:
    return book.json()["actions"]


def alerts(actions: list[dict[str, Any]]) -> list[list[Any]]:
    return [a["args"] for a in actions if a["func"] == "alert"]


def test_marks_are_the_template_live_check_colours(tmp_path: Path) -> None:
    """Read the template back: its live checks (conditional formats) use exactly the two fills
    the add-in marks with, and its derived cells carry the fill 清除标记 restores."""
    path = write_template(tmp_path / "t.xlsx", "2021", 2026)
    wb = openpyxl.load_workbook(path)
    ws = wb["三、依申请公开"]
    cf_fills = {rule.dxf.fill.bgColor.rgb[-6:] for sheet in wb.worksheets for cf in sheet.conditional_formatting
                for rule in cf.rules if rule.dxf is not None and rule.dxf.fill is not None}
    fills = xlcore.template_fills()
    assert {fills.hard[1:], fills.soft[1:]} == cf_fills
    r, c = layout_for("2021").pos("part3.main.total.total")
    assert ws.cell(r + 1, c + 1).fill.fgColor.rgb[-6:] == fills.derived[1:]
    assert len({fills.hard, fills.soft, fills.derived}) == 3


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("click", ["validate", "fill_totals", "fill_zeros", "clear_marks"])
def test_every_action_is_one_the_client_runs(files: dict[str, Path], client: str, click: str) -> None:
    for name in ("messy", "seed"):
        book = book_for(files[name], client)
        getattr(xlcore, click)(book)
        actions = actions_of(book)
        assert unsupported_actions(actions, client) == [], (name, click)
        assert len(alerts(actions)) == 1
        if client == "VBA":  # the VBA colour handler cannot take None
            assert all(a["args"] != [None] for a in actions if a["func"] == "setRangeColor")


def test_office_js_gets_the_extras_and_vba_degrades(files: dict[str, Path]) -> None:
    office, vba = book_for(files["messy"], "Office.js"), book_for(files["messy"], "VBA")
    xlcore.validate(office)
    xlcore.validate(vba)
    o_funcs = {a["func"] for a in actions_of(office)}
    v_funcs = {a["func"] for a in actions_of(vba)}
    assert "runMacro" in o_funcs and "addHyperlink" not in o_funcs
    assert "addHyperlink" in v_funcs and not {"addNote", "runMacro"} & v_funcs
    # notes only where the file's protection lets users edit objects (Excel refuses them otherwise)
    objects_locked = openpyxl.load_workbook(files["messy"])["三、依申请公开"].protection.objects
    assert ("addNote" in o_funcs) == (not objects_locked)
    o_colours = {a["args"][0] for a in actions_of(office) if a["func"] == "setRangeColor"}
    v_colours = {a["args"][0] for a in actions_of(vba) if a["func"] == "setRangeColor"}
    assert None in o_colours and None not in v_colours and xlcore.WHITE in v_colours


def test_notes_when_the_template_lets_users_edit_objects(files: dict[str, Path], protections: dict[str, Path],
                                                      tmp_path: Path) -> None:
    """Office.js puts each finding's messages in a note on its cell, and 清除标记 takes them away —
    on real templates whose protection lets users edit objects (the default) or that are not
    protected; never on a template protected without that permission."""
    ws_protection = {name: openpyxl.load_workbook(path)["三、依申请公开"].protection for name, path in protections.items()}
    assert ws_protection["default"].sheet and not ws_protection["default"].objects
    assert ws_protection["locked_objects"].sheet and ws_protection["locked_objects"].objects
    assert not ws_protection["unprotected"].sheet
    book = book_for(files["messy"], "Office.js")
    outcome = xlcore.validate(book)
    out = tmp_path / "notes.xlsx"
    apply_actions(files["messy"], actions_of(book), out, client="Office.js")
    assert outcome.result is not None
    ws = openpyxl.load_workbook(out)["三、依申请公开"]
    first = next(f for f in outcome.result.findings if f.sheet == ws.title)
    assert first.message in ws[first.cells[0]].comment.text
    noted = {c.coordinate for row in ws.iter_rows() for c in row if c.comment is not None}
    assert noted == {f.cells[0] for f in outcome.result.findings if f.sheet == ws.title}
    payload = build_payload(files["messy"], "Office.js")  # as Excel posts it once the notes are there
    next(s for s in payload["sheets"] if s["name"] == ws.title)["notes"] = [{"address": c} for c in sorted(noted)]
    cleared = xw.Book(json=payload)
    xlcore.clear_marks(cleared)
    assert sum(a["func"] == "deleteNote" for a in actions_of(cleared)) == len(noted)
    locked = book_for(protections["locked_objects"], "Office.js")
    xlcore.validate(locked)
    assert not any(a["func"] == "addNote" for a in actions_of(locked))
    assert any(a["func"] == "setRangeColor" for a in actions_of(locked))  # the marks themselves still come
    unprotected = book_for(protections["unprotected"], "Office.js")
    xlcore.validate(unprotected)
    assert any(a["func"] == "addNote" for a in actions_of(unprotected))


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("click", ["validate", "fill_totals", "clear_marks"])
def test_a_workbook_that_is_not_the_template_gets_a_chinese_alert(files: dict[str, Path], client: str,
                                                                   click: str) -> None:
    book = book_for(files["plain"], client)
    outcome = getattr(xlcore, click)(book)
    actions = actions_of(book)
    assert [a["func"] for a in actions] == ["alert"]
    assert "不是政府信息公开工作年度报告模板" in actions[0]["args"][0]
    assert "plain.xlsx" in outcome.message and "Traceback" not in outcome.message


def test_an_internal_failure_is_an_alert_not_a_traceback(files: dict[str, Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(xlcore, "_results", broken)  # fails after the marks were queued
    book = book_for(files["messy"], "VBA")
    xlcore.validate(book)
    actions = actions_of(book)
    assert [a["func"] for a in actions] == ["alert"]
    assert "内部错误" in actions[0]["args"][0] and "未做任何改动" in actions[0]["args"][0]
    assert "boom" not in actions[0]["args"][0]


def test_each_answer_goes_to_its_own_book(files: dict[str, Path]) -> None:
    """Two books open in one process, as on a busy server: xlwings' app-level alert lands in the
    book opened last; ours stays with the book it is about."""
    first, second = book_for(files["messy"], "VBA"), book_for(files["seed"], "VBA")
    first.app.alert("to first")
    assert [a[0] for a in alerts(actions_of(second))] == ["to first"], "xlwings fixed? drop xlcore._app_action"
    actions_of(second).clear()
    xlcore.validate(first)
    assert len(alerts(actions_of(first))) == 1 and "青禾县教育局" in alerts(actions_of(first))[0][0]
    assert actions_of(second) == []


def test_fill_totals_explains_stored_totals_and_never_writes_locked_cells(files: dict[str, Path]) -> None:
    book = book_for(files["seed"], "Office.js")
    outcome = xlcore.fill_totals(book)
    assert "三、依申请公开!E27（现为 1，应为 0）" in outcome.message
    assert "四、复议诉讼!O6" in outcome.message and "锁定" in outcome.message and "新模板" in outcome.message
    (prompt, _title, buttons, _mode, callback), = alerts(actions_of(book))
    assert buttons == "yes_no" and callback == xlcore.ASK_FILL_ZEROS and "是否" in prompt
    assert [a["func"] for a in actions_of(book)] == ["alert"]


@pytest.mark.parametrize("client", CLIENTS)
def test_fill_zeros_writes_0_into_exactly_the_blank_unlocked_cells(files: dict[str, Path], tmp_path: Path,
                                                                   client: str) -> None:
    path = files["seed"]
    book = book_for(path, client)
    outcome = xlcore.fill_zeros(book)
    out = tmp_path / "zeros.xlsx"
    apply_actions(path, actions_of(book), out, client=client)
    before, after = openpyxl.load_workbook(path), openpyxl.load_workbook(out)
    changed = []
    for ws in before.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                old, new = _blank_none(cell.value), _blank_none(after[ws.title][cell.coordinate].value)
                if new != old:
                    changed.append((ws.title, cell.coordinate, old, new, cell.protection.locked, ws.protection.sheet))
    assert len(changed) == outcome.filled > 0
    assert all(old is None and new == 0 and not locked and protected for _, _, old, new, locked, protected in changed)


def _blank_none(value: Any) -> Any:
    """A blank as readers see it: None, "" and spaces alike (the seed has cells holding a space)."""
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def test_fill_totals_on_a_complete_template_changes_nothing(files: dict[str, Path]) -> None:
    book = book_for(files["clean"], "VBA")
    outcome = xlcore.fill_totals(book)
    assert "无需改动" in outcome.message and outcome.bad_totals == [] and outcome.filled == 0
    assert [a["func"] for a in actions_of(book)] == ["alert"]


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    unit = county_units(2026)[1]
    report = fake_report(unit, 2026, 3, frozenset())
    report.cover["credit_code"] = "=1+1"
    path = write_report(report, tmp_path / "f.xlsx")
    book = book_for(path, "VBA")
    xlcore.validate(book)
    written = [v for a in actions_of(book) if a["func"] == "setValues" for row in a["values"] for v in row]
    assert "'=1+1" in written and "=1+1" not in written
    out = tmp_path / "out.xlsx"
    apply_actions(path, actions_of(book), out, client="VBA")
    ws = openpyxl.load_workbook(out)["校验结果"]
    typed = [c for row in ws.iter_rows(min_row=2) for c in row if c.value == "=1+1"]
    assert typed and all(c.quotePrefix for c in typed)  # Excel keeps it as text


def test_rectangles_cover_each_cell_once() -> None:
    rng = random.Random(4)
    for _ in range(200):
        cells = {(rng.randrange(8), rng.randrange(6)): rng.choice("ab") for _ in range(rng.randrange(1, 30))}
        rects = xlcore._rectangles({k: (k[1], v) for k, v in cells.items()})
        covered: dict[tuple[int, int], str] = {}
        for r0, c0, r1, c1, value in rects:
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    assert (r, c) not in covered
                    covered[(r, c)] = value
        assert covered == cells


def test_desktop_door_hands_the_calling_book_to_the_core(files: dict[str, Path],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Excel, ``xw.Book.caller()`` cannot run; give it a remote book to prove the wiring."""
    book = book_for(files["messy"], "VBA")
    monkeypatch.setattr(xw.Book, "caller", classmethod(lambda cls: book))
    outcome = desktop.validate()
    assert outcome.result is not None and outcome.result.hard
    assert any(a["func"] == "addHyperlink" for a in actions_of(book))


# ------------------------------------------------------------------------------------------
# Text that would run as a formula: one rule (addin.publish.safety), applied at every door
# ------------------------------------------------------------------------------------------

def test_one_rule_for_text_that_a_spreadsheet_would_run() -> None:
    assert set(FORMULA_STARTS) == {"=", "+", "-", "@", "\t", "\r"}
    for start in FORMULA_STARTS:
        text = start + "SUM(A1)"
        assert is_formula_like(text)
        assert neutralise(text) == "'" + text and cell_value(text) == "'" + text
    for number in (-8, -8.0, 8.5, 0):  # numbers are data, never text to neutralise
        assert not is_formula_like(number) and neutralise(number) == number
    assert cell_value(-8.0) == -8 and isinstance(cell_value(-8.0), int) and cell_value(-8.5) == -8.5
    assert neutralise("青禾县") == "青禾县" == cell_value("青禾县") and neutralise("") == "" == cell_value("")
    for converted in ("0012", "1.5", "2026年1月", "(5)", "TRUE", "'引号"):  # Excel would change these when set
        assert cell_value(converted) == "'" + converted and neutralise(converted) == converted


@pytest.mark.parametrize("client", CLIENTS)
def test_results_rows_keep_formula_like_text_as_text(files: dict[str, Path], tmp_path: Path, client: str) -> None:
    """The 校验结果 door: every text column of a finding that starts like a formula is written
    with the text flag, and every column of the builder's header gets its value."""
    risky = [start + "1+1" for start in FORMULA_STARTS]
    findings = [Finding("R0.1", "soft", "封面", "B3", f"行{i}", f"列{i}", found=text, expected=text, message=text,
                        explanation=text) for i, text in enumerate(risky)]
    book = book_for(files["clean"], client)
    assert xlcore._results(book, xlcore.client_of(book), findings)
    written = [v for a in actions_of(book) if a["func"] == "setValues" for row in a["values"] for v in row]
    for text in risky:
        assert written.count("'" + text) == 4 and text not in written
    out = tmp_path / "results.xlsx"
    apply_actions(files["clean"], actions_of(book), out, client=client)
    ws = openpyxl.load_workbook(out)[RESULTS_SHEET]
    header = [c.value for c in ws[1] if c.value is not None]
    rows = [list(r)[:len(header)] for r in ws.iter_rows(min_row=2, max_row=1 + len(findings))]
    assert len(rows) == len(findings)
    for f, row in zip(findings, rows, strict=True):
        assert all(c.value not in (None, "") for c in row), "a column of 校验结果 was left blank"
        risky_cells = [c for c in row if isinstance(c.value, str) and c.value.strip() in f.found.strip()]
        assert len(risky_cells) == 4 and all(c.quotePrefix and c.data_type == "s" for c in risky_cells)
    by_header = dict(zip(header, rows[0], strict=True))
    assert by_header["规则"].value == "R0.1" and by_header["位置"].value == "封面!B3"


def test_desktop_export_pdf_answers_every_failure_in_chinese(files: dict[str, Path], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The desktop door exports the saved file beside it: a workbook with errors, a damaged file and
    an output it cannot write each end in a Chinese alert (never a traceback in Excel)."""
    monkeypatch.chdir(tmp_path)

    def click(source: Path) -> tuple[str, list[list[Any]]]:
        book = book_for(source, "VBA")  # a remote book stands in for the calling one; its name is the file
        monkeypatch.setattr(xw.Book, "caller", classmethod(lambda cls: book))
        return desktop.export_pdf(), alerts(actions_of(book))

    name = Path(book_for(SEED, "VBA").fullname)
    shutil.copyfile(SEED, tmp_path / name)
    message, shown = click(SEED)
    assert "R3.1" in message and "--force" in message and [a[0] for a in shown] == [message]
    (tmp_path / name).write_bytes(b"PK\x03\x04 damaged")
    message, shown = click(SEED)
    assert message.startswith("无法读取已保存的工作簿") and "损坏" in message and [a[0] for a in shown] == [message]
    assert not (tmp_path / name).with_suffix(".pdf").exists()
    if shutil.which("soffice") is None:
        return  # the last case needs a real PDF conversion
    clean = Path(book_for(files["clean"], "VBA").fullname)
    shutil.copyfile(files["clean"], tmp_path / clean)
    (tmp_path / clean).with_suffix(".pdf").mkdir()  # where the PDF should go, something else is in the way
    message, shown = click(files["clean"])
    assert message.startswith("无法写出 PDF") and "Traceback" not in message and [a[0] for a in shown] == [message]
