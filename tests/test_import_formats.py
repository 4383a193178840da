"""Published reports as government sites and offices really serve them — each imported back to
exactly the numbers it was written with, in both editions:

- a Word document pasted into a site's editor (every cell a paragraph in a styled span,
  ``&nbsp;``, ``<br>`` inside labels, Part 二 as one table per block, Part 三's table split in
  two, header rows as ``<td>``, inside the site's layout table), UTF-8 and GBK;
- a page saved from a browser: menus, a sidebar listing the other years' reports, footer;
- a PDF's text with its columns aligned by spaces (wrapped and vertical labels);
- a .doc and a .wps made by LibreOffice, and the tables published as .xls / .et.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from published_layouts import aligned_text, browser_page, tables_xlsx, word_html
from test_import_writers import Published, numbers, sample, write_docx

from workbook.office import convert_many
from workbook.published import import_report, read_document
from workbook.published.model import Table

EDITIONS = [("2021", 2026), ("2019", 2020)]
NO_OFFICE = "LibreOffice (soffice) is not installed: the .doc/.xls files of these tests are made with it"


def _imports_exactly(path: Path, pub: Published) -> None:
    imported = import_report(path)
    rep = imported.report
    assert imported.problems == [], [(n.kind, n.where, n.found, n.detail) for n in imported.problems]
    assert (rep.edition_key, rep.unit, rep.year) == (pub.edition, pub.unit, pub.year)
    assert imported.placed == imported.cells and rep.unknown == frozenset()
    got, want = rep.numbers, numbers(pub)
    assert {k: (got[k], v) for k, v in want.items() if abs(got[k] - v) > 1e-9} == {}


@pytest.mark.parametrize("edition,year", EDITIONS)
@pytest.mark.parametrize("charset", ["utf-8", "gb2312"])
def test_word_pasted_web_page(tmp_path: Path, edition: str, year: int, charset: str) -> None:
    pub = sample(edition=edition, year=year, seed=41)
    path = tmp_path / "年报.html"
    data = word_html(pub, charset)
    assert b"&nbsp;" in data and b"MsoNormal" in data and b"<br>" in data
    path.write_bytes(data)
    doc = read_document(path)
    assert sum(isinstance(i, Table) for i in doc.items) >= 7  # the split tables stay split in the document
    _imports_exactly(path, pub)
    texts = import_report(path).report.texts
    assert texts["problems"] == pub.texts["problems"]


@pytest.mark.parametrize("edition,year", EDITIONS)
def test_page_saved_from_a_browser_with_menus_and_footer(tmp_path: Path, edition: str, year: int) -> None:
    pub = sample(unit="青禾县自然资源和规划局", edition=edition, year=year, seed=42)
    path = tmp_path / "青禾县自然资源和规划局年报_files.htm"
    path.write_bytes(browser_page(pub))
    assert path.read_bytes().decode("gbk")  # really GBK, with only an HTML5 <meta charset>
    _imports_exactly(path, pub)
    rep = import_report(path).report
    assert "版权所有" not in rep.texts["other"] and "相关文章" not in rep.texts["other"]
    assert rep.texts["other"] == pub.texts["other"]


@pytest.mark.parametrize("edition,year", EDITIONS)
def test_text_with_columns_aligned_by_spaces(tmp_path: Path, edition: str, year: int) -> None:
    pub = sample(edition=edition, year=year, seed=43)
    text = aligned_text(pub)
    assert "\n三\n、\n本\n" in text  # the vertical label, one character a line
    path = tmp_path / "年报.txt"
    path.write_text(text, encoding="utf-8")
    _imports_exactly(path, pub)


def test_the_real_pdfs_text_as_pdftotext_lays_it_out(tmp_path: Path) -> None:
    """The real report's PDF through ``pdftotext -layout``: the same 200 cells as the PDF."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    real = Path(__file__).parent / "data" / "published" / "洪泽区人民政府2024年政府信息公开工作年度报告.pdf"
    out = tmp_path / "洪泽区.txt"
    subprocess.run(["pdftotext", "-layout", str(real), str(out)], check=True)
    as_text, as_pdf = import_report(out), import_report(real)
    assert as_text.problems == [] and as_text.placed == 200
    assert as_text.report.numbers == as_pdf.report.numbers
    assert as_text.report.numbers["part3.main.new.natural"] == 95.0  # 一、本年新收 as published, not 0


@pytest.fixture(scope="module")
def office_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Published]]:
    """.doc files from Word files the tests write, .xls from the tables as a spreadsheet — both
    editions, converted by LibreOffice in one run; copies named .wps and .et as WPS saves them."""
    if shutil.which("soffice") is None:
        pytest.skip(NO_OFFICE)
    tmp = tmp_path_factory.mktemp("office")
    docs, sheets, pubs = [], [], {}
    for edition, year in EDITIONS:
        pub = sample(edition=edition, year=year, seed=44)
        docs.append(write_docx(pub, tmp / f"文档{edition}.docx", ruled=True))
        sheets.append(tables_xlsx(pub, tmp / f"表格{edition}.xlsx"))
        pubs[edition] = pub
    out: dict[str, tuple[Path, Published]] = {}
    for made in convert_many(docs, "doc", tmp / "doc") + convert_many(sheets, "xls", tmp / "xls"):
        edition = made.stem[-4:]
        out[made.name] = (made, pubs[edition])
        twin = made.with_suffix(".wps" if made.suffix == ".doc" else ".et")
        shutil.copyfile(made, twin)
        out[twin.name] = (twin, pubs[edition])
    return out


@pytest.mark.parametrize("name", ["文档2021.doc", "文档2019.doc", "文档2021.wps", "表格2021.xls", "表格2019.xls", "表格2019.et"])
def test_old_office_formats_through_libreoffice(office_files, name: str) -> None:  # type: ignore[no-untyped-def]
    path, pub = office_files[name]
    assert path.read_bytes()[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the binary formats, not renamed .docx
    before = path.read_bytes()
    if path.suffix in (".xls", ".et"):
        imported = import_report(path)  # a spreadsheet of the tables: the title is on its first sheet
        got, want = imported.report.numbers, numbers(pub)
        assert imported.placed == imported.cells, imported.unplaced()
        assert {k: (got[k], v) for k, v in want.items() if abs(got[k] - v) > 1e-9} == {}
        assert (imported.report.unit, imported.report.year) == (pub.unit, pub.year)
    else:
        _imports_exactly(path, pub)
    assert path.read_bytes() == before  # the input is never modified


def test_a_doc_that_is_really_a_web_page(tmp_path: Path) -> None:
    """Word's “save as web page” kept the .doc name (common on government sites)."""
    pub = sample(seed=45)
    path = tmp_path / "年报.doc"
    path.write_bytes(word_html(pub))
    _imports_exactly(path, pub)
