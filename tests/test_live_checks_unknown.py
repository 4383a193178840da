"""An imported report's unknown cells never turn a cell red in Excel or WPS.

The import leaves a cell it could not place empty and lists it as unknown; the Python checks then
report its rules as “未能核查”. A spreadsheet counts an empty cell as 0, so the workbook's own live
checks (conditional formats and the hidden check sheet) must leave out every place that refers to
an unknown cell. Checked with LibreOffice as the spreadsheet: after a real recalculation, no check
of the written workbook fails, although the cells it would otherwise compare are empty.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Callable

import openpyxl
import pytest

from workbook.build import write_report
from workbook.livecheck import live_checks
from workbook.office import recalculate
from workbook.read import read_report

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "samples" / "青禾县-2026" / "收文" / "青禾县交通运输局.xlsx"
CHECK_SHEET = "_checks"


def _with_unknown(tmp_path: Path, which: Callable[[str], bool]) -> Path:
    report = read_report(UNIT)
    unknown = {c.id for c in report.edition.input_cells if which(c.id)}
    raw = {cid: (None if cid in unknown else v) for cid, v in report.raw.items()}
    return write_report(dataclasses.replace(report, raw=raw, unknown=frozenset(unknown)), tmp_path / "导入.xlsx")


def _part4(cid: str) -> bool:
    return cid.startswith("part4.")


def _cut_after_received(cid: str) -> bool:
    """A report cut off after 一、本年新收 and 二、上年结转: every result row of Part 三 unknown."""
    return cid.startswith("part3.") and cid.split(".")[2] not in ("new", "carried")


def test_no_live_check_refers_to_an_unknown_cell(tmp_path: Path) -> None:
    path = _with_unknown(tmp_path, _part4)
    book = openpyxl.load_workbook(path)
    sheet_of_part4 = read_report(path).sheet_names["part4"]
    formulas = [str(row[2].value) for row in book[CHECK_SHEET].iter_rows(min_row=2)]
    assert formulas and len(formulas) < len(live_checks(read_report(path).edition_key))
    assert not any(sheet_of_part4 in f for f in formulas)
    assert not book[sheet_of_part4].conditional_formatting._cf_rules  # nothing left to colour there


@pytest.mark.office
def test_a_spreadsheet_shows_no_failing_check_for_unknown_cells(soffice: str, tmp_path: Path) -> None:
    path = _with_unknown(tmp_path, _cut_after_received)
    assert read_report(path).raw["part3.main.new.total"]  # the known 本年新收 would not balance blank results
    recalculated = recalculate(path, tmp_path / "lo")
    book = openpyxl.load_workbook(recalculated, data_only=True)
    failing = [(r[0].value, r[1].value) for r in book[CHECK_SHEET].iter_rows(min_row=2) if r[2].value is True]
    assert failing == []


def test_a_report_without_unknown_cells_keeps_every_live_check(tmp_path: Path) -> None:
    report = read_report(UNIT)
    path = write_report(report, tmp_path / "完整.xlsx")
    rows = list(openpyxl.load_workbook(path)[CHECK_SHEET].iter_rows(min_row=2))
    assert len(rows) == len(live_checks(report.edition_key))
    assert all(re.match(r"[A-Z]\d", str(r[0].value)) for r in rows)
