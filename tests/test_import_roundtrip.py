"""Export → import is the identity on numbers: the HTML and Word files ``nianbao export`` writes
import back to the numbers of the workbook they came from, for generated reports of both
editions (consistent ones, and a forced export of one with mistakes)."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path
from typing import Callable

import pytest

import addin.publish.doc as export_doc
from workbook.build import write_report
from workbook.published import import_report
from workbook.read import read_report
from workbook.samples import county_units, fake_report

CASES = [(2020, 0, 1), (2026, 3, 3), (2026, 12, 5)]


def _same(a: dict[str, float], b: dict[str, float]) -> dict[str, tuple[float, float]]:
    return {k: (a.get(k, math.nan), v) for k, v in b.items() if not abs(a.get(k, math.nan) - v) <= 1e-9}


@pytest.mark.parametrize("year,unit,seed", CASES)
def test_html_and_docx_exports_import_to_the_same_numbers(tmp_path: Path, year: int, unit: int, seed: int) -> None:
    report = fake_report(county_units()[unit], year, seed)
    book = write_report(report, tmp_path / "年报.xlsx")
    expected = read_report(book).with_totals()
    page, fragment = export_doc.export_html(book, tmp_path / "年报.html")
    word = export_doc.export_docx(book, tmp_path / "年报.docx")
    for path in (page, fragment, word):
        imported = import_report(path)
        rep = imported.report
        assert imported.problems == [], (path.name, [(n.where, n.detail) for n in imported.problems])
        assert rep.edition_key == report.edition_key
        assert (rep.unit, rep.year) == (report.unit, year)
        assert _same(rep.numbers, expected) == {}, path.name
        for key, text in report.texts.items():
            assert rep.texts[key] == text, (path.name, key)


def test_forced_export_of_a_report_with_mistakes_imports_as_exported(tmp_path: Path) -> None:
    report = fake_report(county_units()[3], 2026, 9, mistakes=frozenset({"imbalance", "blanks", "placeholder"}))
    book = write_report(report, tmp_path / "有错.xlsx")
    page, _ = export_doc.export_html(book, tmp_path / "有错.html", True)
    word = export_doc.export_docx(book, tmp_path / "有错.docx", True)
    stated = read_report(book).numbers  # a forced export prints the numbers as the workbook states them
    for path in (page, word):
        rep = import_report(path).report
        assert _same(rep.numbers, stated) == {}, path.name


def test_export_then_import_commands(tmp_path: Path, cli: Callable[[list[str], Path], subprocess.CompletedProcess[str]]) -> None:
    report = fake_report(county_units()[6], 2026, 21)
    book = write_report(report, tmp_path / "市场监管.xlsx")
    (tmp_path / "导出").mkdir()
    made = cli(["export", str(book), "--to", "html", "-o", str(tmp_path / "导出")], tmp_path)
    assert made.returncode == 0, made.stderr
    proc = cli(["import", str(tmp_path / "导出"), "-o", str(tmp_path / "录入")], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    want = read_report(book).with_totals()
    for name in ("市场监管.xlsx", "市场监管-片段.xlsx"):  # the page and the editor's fragment
        assert _same(read_report(tmp_path / "录入" / name).numbers, want) == {}, name
