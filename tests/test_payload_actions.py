"""The server loop without Excel: file → client payload → real xlwings remote engine →
actions → file. Why: the buttons' code runs inside ``xw.Book(json=…)``; these tests
prove that what it reads and writes survives the round trip, and that every action it
emits can actually be run by the client that posted the book."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.workbook.defined_name import DefinedName

# xlwings' remote engine is PolyForm Noncommercial unless a PRO key is set; the users
# of this project are government bodies, a permitted purpose. Real runs read the key
# from the environment; the tests use the noncommercial one.
os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")

import xlwings as xw  # noqa: E402

from addin.excel.actions import (  # noqa: E402
    ActionError,
    apply_actions,
    client_actions,
    supported_actions,
    unsupported_actions,
)
from addin.excel.payload import build_payload  # noqa: E402

CLIENTS = ["VBA", "Office.js"]

# Key order of the example payloads in /work/shared/reference/xlwings (not read here:
# the repository must stand on its own).
TOP_KEYS = ["client", "version", "book", "names", "sheets"]
BOOK_KEYS = {"VBA": ["name", "active_sheet_index", "selection"],
             "Office.js": ["name", "active_sheet_index", "selection", "calculation"]}
NAME_KEYS = {
    "VBA": ["name", "sheet_index", "address", "book_scope", "scope_sheet_name", "scope_sheet_index"],
    "Office.js": ["name", "refers_to", "sheet_index", "address", "scope_sheet_name",
                  "scope_sheet_index", "book_scope"],
}
SHEET_KEYS = {
    "VBA": ["name", "pictures", "tables", "values"],
    "Office.js": ["name", "visibility", "show_gridlines", "print_area", "notes", "notes_supported",
                  "used_range_address", "used_range_row_count", "used_range_column_count", "values",
                  "pictures", "shapes", "charts", "tables", "pivot_tables"],
}


@pytest.fixture
def report(tmp_path: Path) -> Path:
    """Two visible sheets, one hidden, a book-scope and a sheet-scope name, numbers,
    text, blanks, a date and a boolean."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Revenue"
    for row in [["Unit", "U-17", None, None], ["Item", "Q1", "Q2", "Total"],
                ["Sales", 100, 120.5, None], ["Services", 50, "abc", None],
                ["Other", -5, 10, None], ["Total", None, None, None]]:
        ws.append(row)
    ws["F1"] = dt.date(2024, 1, 31)
    ws["F2"] = True
    ws.defined_names["unit_code"] = DefinedName("unit_code", attr_text="Revenue!$B$1")
    wb.defined_names["tbl_revenue"] = DefinedName("tbl_revenue", attr_text="Revenue!$A$2:$D$6")
    wb.create_sheet("Empty")
    hidden = wb.create_sheet("Config")
    hidden.sheet_state = "hidden"
    hidden["B2"] = "secret"
    path = tmp_path / "report.xlsx"
    wb.save(path)
    return path


@pytest.mark.parametrize("client", CLIENTS)
def test_payload_keys_match_examples(report: Path, client: str) -> None:
    payload = build_payload(report, client, selection="$B$3")
    assert list(payload) == TOP_KEYS
    assert payload["client"] == client and payload["version"] == xw.__version__
    assert list(payload["book"]) == BOOK_KEYS[client]
    assert payload["book"]["selection"] == "B3"
    assert [list(n) for n in payload["names"]] == [NAME_KEYS[client]] * 2
    assert [list(s) for s in payload["sheets"]] == [SHEET_KEYS[client]] * 3


def test_payload_values_follow_each_client(report: Path) -> None:
    vba = build_payload(report, "VBA")
    office = build_payload(report, "Office.js")
    # VBA-JSON sends Empty as null, Office.js sends "".
    assert vba["sheets"][0]["values"][0] == ["Unit", "U-17", None, None, None, "2024-01-31T00:00:00.000Z"]
    assert office["sheets"][0]["values"][0] == ["Unit", "U-17", "", "", "", "2024-01-31T00:00:00.000Z"]
    assert vba["sheets"][0]["values"][2][:3] == ["Sales", 100.0, 120.5]
    assert office["sheets"][0]["values"][1][5] is True
    # An empty sheet: VBA Array(Array()), Office.js the A1 window.
    assert vba["sheets"][1]["values"] == [[]]
    assert office["sheets"][1]["values"] == [[""]]
    assert office["sheets"][1]["used_range_address"] is None
    # Hidden sheets are posted like any other.
    assert vba["sheets"][2]["values"] == [[None, None], [None, "secret"]]
    assert office["sheets"][2]["visibility"] == "Hidden"
    assert office["sheets"][0]["used_range_address"] == "A1:F6"
    # Sheet-scope names: VBA prefixes the sheet, Office.js does not.
    assert [n["name"] for n in vba["names"]] == ["tbl_revenue", "Revenue!unit_code"]
    assert [n["name"] for n in office["names"]] == ["tbl_revenue", "unit_code"]
    assert office["names"][0]["refers_to"] == "=Revenue!$A$2:$D$6"


def test_formula_without_cached_value_is_refused(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active["A1"] = 1
    wb.active["A2"] = "=A1*2"  # openpyxl stores no result; Excel would show 2
    wb.save(tmp_path / "f.xlsx")
    with pytest.raises(ValueError, match="没有保存计算结果"):
        build_payload(tmp_path / "f.xlsx", "VBA")


def test_hidden_sheet_cannot_be_active(report: Path) -> None:
    with pytest.raises(ValueError, match="隐藏"):
        build_payload(report, "VBA", active_sheet=2)


@pytest.mark.parametrize("client", CLIENTS)
def test_xlwings_reads_the_payload(report: Path, client: str) -> None:
    book = xw.Book(json=build_payload(report, client, selection="B3"))
    sheet = book.sheets["Revenue"]
    assert sheet["A1"].value == "Unit"
    assert sheet["B3:C3"].value == [100.0, 120.5]
    assert sheet["C1"].value is None and sheet["D6"].value is None
    assert sheet["F1"].value == dt.datetime(2024, 1, 31)
    assert sheet["A2"].expand().shape == (5, 4)
    assert book.names["tbl_revenue"].refers_to_range.value[0] == ["Item", "Q1", "Q2", "Total"]
    assert book.names["Revenue!unit_code"].refers_to_range.value == "U-17"
    assert book.sheets["Empty"]["A1"].value is None
    assert book.sheets["Config"]["B2"].value == "secret"
    assert book.selection.address == "$B$3"


@pytest.mark.parametrize("client", CLIENTS)
def test_round_trip_through_the_engine(report: Path, tmp_path: Path, client: str) -> None:
    book = xw.Book(json=build_payload(report, client))
    sheet = book.sheets["Revenue"]
    total = sum(v for v in sheet["B3:B5"].value)
    sheet["B6"].value = total
    sheet["D3:D5"].value = [[220.5], [None], [5]]
    sheet["B6"].color = "#FFC7CE"
    sheet["B6"].number_format = "0.00"
    log = book.sheets.add("检查结果", after=book.sheets[-1])
    log["A1"].value = [["单元格", "问题"], ["Revenue!C4", "不是数字"], ["编码", "'0012"]]
    log["A4"].add_hyperlink("#Revenue!C4", "跳到 C4", "定位问题单元格")
    sheet.activate()
    book.app.alert("检查完成，发现 1 个问题", title="年报检查")
    actions = book.json()["actions"]

    assert unsupported_actions(actions, client) == []
    out = tmp_path / "out.xlsx"
    result = apply_actions(report, actions, out, client=client)
    assert result.applied == len(actions)
    assert [a.prompt for a in result.alerts] == ["检查完成，发现 1 个问题"]

    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Revenue", "Empty", "Config", "检查结果"]
    ws = wb["Revenue"]
    assert ws["B6"].value == 145 and ws["B6"].number_format == "0.00"
    assert ws["B6"].fill.fgColor.rgb == "FFFFC7CE"
    assert [ws.cell(r, 4).value for r in (3, 4, 5)] == [220.5, None, 5]
    assert wb.active.title == "Revenue"
    new = wb["检查结果"]
    assert new["B2"].value == "不是数字"
    assert new["B3"].value == "0012"  # the apostrophe kept it text, as in Excel
    assert new["A4"].value == "跳到 C4" and new["A4"].hyperlink.location is None
    assert wb["Config"].sheet_state == "hidden"
    # The untouched parts survive: names, other values.
    assert wb.defined_names["tbl_revenue"].attr_text == "Revenue!$A$2:$D$6"
    assert ws["C4"].value == "abc"


def test_support_set_is_a_real_filter(report: Path, tmp_path: Path) -> None:
    """Python does not look at the client: a VBA payload still gets font and width
    actions, which RunServerPython cannot run."""
    book = xw.Book(json=build_payload(report, "VBA"))
    sheet = book.sheets[0]
    sheet["A1"].font.bold = True
    sheet["A:A"].column_width = 20
    sheet["B1"].value = "ok"
    actions = book.json()["actions"]
    assert unsupported_actions(actions, "VBA") == ["setFontProperty", "setColumnWidth"]
    assert unsupported_actions(actions, "Office.js") == []
    out = tmp_path / "out.xlsx"
    with pytest.raises(ActionError, match="VBA 客户端不支持"):
        apply_actions(report, actions, out, client="VBA")
    assert not out.exists()
    apply_actions(report, actions, out)  # no client: the file itself can take them
    ws = openpyxl.load_workbook(out).active
    assert ws["A1"].font.b is True
    assert ws.column_dimensions["A"].width == pytest.approx(20 * 4 / 3 / 7)


def test_vba_cannot_clear_a_fill(report: Path, tmp_path: Path) -> None:
    book = xw.Book(json=build_payload(report, "VBA"))
    book.sheets[0]["A1"].color = None
    actions = book.json()["actions"]
    assert actions[0]["func"] == "setRangeColor" and actions[0]["args"] == [None]
    with pytest.raises(ActionError, match="清除填充色"):
        apply_actions(report, actions, tmp_path / "out.xlsx", client="VBA")
    apply_actions(report, actions, tmp_path / "out.xlsx", client="Office.js")


def test_office_js_notes_and_sheet_visibility(report: Path, tmp_path: Path) -> None:
    book = xw.Book(json=build_payload(report, "Office.js"))
    book.sheets["Revenue"]["C4"].add_note("应为数字")
    book.sheets["Config"].visible = True
    book.sheets["Empty"].visible = False
    book.sheets["Revenue"].name = "收入"
    out = tmp_path / "out.xlsx"
    apply_actions(report, book.json()["actions"], out, client="Office.js")
    wb = openpyxl.load_workbook(out)
    assert wb["收入"]["C4"].comment.text == "应为数字"
    assert [ws.sheet_state for ws in wb.worksheets] == ["visible", "hidden", "visible"]
    # Excel rewrites references to a renamed sheet; so do we.
    assert wb.defined_names["tbl_revenue"].attr_text == "收入!$A$2:$D$6"
    with pytest.raises(NotImplementedError):  # xlwings itself refuses notes for VBA
        xw.Book(json=build_payload(report, "VBA")).sheets[0]["A1"].add_note("x")


def test_unknown_action_and_atomic_write(report: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.xlsx"
    out.write_bytes(b"previous")
    bad: list[dict[str, Any]] = [{"func": "setValues", "args": [None], "values": [[1]], "sheet_position": 0,
                                  "start_row": 0, "start_column": 0, "row_count": 1, "column_count": 1},
                                 {"func": "launchRockets", "args": []}]
    with pytest.raises(ActionError, match="未知的操作“launchRockets”"):
        apply_actions(report, bad, out)
    # A failure while applying leaves the previous file and no temporary file behind.
    hide_all = [{"func": "setSheetVisibility", "args": ["Hidden"], "sheet_position": i} for i in (0, 1)]
    with pytest.raises(ActionError, match="最后一张可见"):
        apply_actions(report, hide_all, out)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx", "report.xlsx"]


def test_client_action_sets() -> None:
    sets = client_actions()
    assert len(sets["python"]) == 122
    assert len(sets["Office.js"]) == 120 and len(supported_actions("VBA")) == 37
    assert {"setValues", "setRangeColor", "addSheet", "alert"} <= supported_actions("VBA")
    assert "addNote" in sets["Office.js"] and "addNote" not in sets["VBA"]
    with pytest.raises(ActionError):
        supported_actions("Lotus 1-2-3")


def test_the_output_has_the_mode_of_an_ordinary_saved_file(report: Path, tmp_path: Path) -> None:
    """Written through ``workbook.atomic``: readable like any file the user saves (the umask's
    default), not the 0600 of a bare temporary file; an existing output keeps its own mode."""
    actions = [{"func": "setValues", "args": [None], "values": [[5]], "sheet_position": 0,
                "start_row": 0, "start_column": 0, "row_count": 1, "column_count": 1}]
    old = os.umask(0o022)
    try:
        out = tmp_path / "新.xlsx"
        apply_actions(report, actions, out)
        assert out.stat().st_mode & 0o777 == 0o644
        os.chmod(out, 0o640)
        apply_actions(report, actions, out)
        assert out.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
    assert openpyxl.load_workbook(out).worksheets[0]["A1"].value == 5
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
