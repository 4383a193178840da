"""The report document: HTML read back with pandas.read_html and DOCX read back with python-docx
give exactly the workbook's numbers and labels, in the official order, for both editions — the
2019 seed (published with errors, so exported with force: its numbers as published) and a 2021
unit of the bundled county. The expected numbers are read from the workbooks with openpyxl.
"""

from __future__ import annotations

import dataclasses
import io
import re
import unicodedata
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from lxml import html as lxml_html

from addin.publish.data import ExportRefused
from addin.publish.doc import export_docx, export_html
from workbook.build import write_report
from workbook.layout import TABLE_TOP, layout_for
from workbook.read import read_report
from workbook.spec import load_edition

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "samples" / "宁海县交通运输局2020年政府信息公开工作年度报告.xlsx"
UNIT = ROOT / "samples" / "青禾县-2026" / "收文" / "青禾县交通运输局.xlsx"
CASES = {"2019-seed": (SEED, "2019", True), "2021-unit": (UNIT, "2021", False)}
ALLOWED_TAGS = {"div", "h1", "h2", "p", "table", "colgroup", "col", "tbody", "tr", "th", "td"}


def as_number(value: Any) -> float:
    """What a reader takes from a cell as published: blank is 0, “1．2678万元” is 1.2678."""
    if value is None:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    text = unicodedata.normalize("NFKC", str(value)).replace("万元", "").strip()
    return float(text) if text else 0.0


def workbook_numbers(path: Path, edition: str) -> dict[str, float]:
    lay = layout_for(edition)
    wb = openpyxl.load_workbook(path, data_only=True)
    out = {}
    for cell in lay.edition.cells:
        r, c = lay.pos(cell.id)
        out[cell.id] = as_number(wb[lay.sheet_of(cell.id)].cell(r + 1, c + 1).value)
    return out


def workbook_texts(path: Path, edition: str) -> dict[str, str]:
    lay = layout_for(edition)
    ws = openpyxl.load_workbook(path, data_only=True)[lay.edition.cover_sheet]
    return {k: str(ws.cell(r + 1, c + 1).value or "") for k, (r, c) in lay.cover.texts.items()}


def grid_from_html(df: pd.DataFrame) -> list[list[str]]:
    """pandas moves leading header rows into the columns; put them back as rows (without the
    “.1” pandas appends to repeated names) so that positions match the printed table."""
    cols = df.columns if isinstance(df.columns, pd.MultiIndex) else pd.MultiIndex.from_arrays([df.columns])
    head = [[re.sub(r"\.\d+$", "", str(t[i])) for t in cols] for i in range(cols.nlevels)]
    body = [[str(v) for v in row] for row in df.itertuples(index=False)]
    return head + body


@pytest.fixture(scope="module", params=list(CASES))
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path, edition, force = CASES[request.param]
    out = tmp_path_factory.mktemp(request.param)
    page, fragment = export_html(path, out / "报告.html", force=force)
    docx = export_docx(path, out / "报告.docx", force=force)
    return {"name": request.param, "edition": edition, "page": page, "fragment": fragment, "docx": docx,
            "numbers": workbook_numbers(path, edition), "texts": workbook_texts(path, edition), "forced": force}


def test_html_tables_read_back_with_the_workbook_numbers_and_labels(exported: dict[str, Any]) -> None:
    ed = load_edition(exported["edition"])
    lay = layout_for(ed.key)
    tables = pd.read_html(io.StringIO(exported["fragment"].read_text(encoding="utf-8")))
    assert len(tables) == 3
    for table, df in zip(ed.tables, tables, strict=True):
        tl = lay.tables[table.key]
        grid = grid_from_html(df)
        assert len(grid) == tl.height - TABLE_TOP and all(len(r) == tl.width for r in grid)
        for cid, (r, c) in tl.cells.items():
            assert float(grid[r - TABLE_TOP][c]) == pytest.approx(exported["numbers"][cid]), cid
        for m in tl.merges:
            if m.first_row < TABLE_TOP:
                continue
            for r in range(m.first_row, m.last_row + 1):
                for c in range(m.first_col, m.last_col + 1):
                    assert grid[r - TABLE_TOP][c] == m.text, f"{m.text!r} does not span ({r},{c})"


def test_html_is_a_clean_fragment_in_the_official_order(exported: dict[str, Any]) -> None:
    ed = load_edition(exported["edition"])
    text = exported["fragment"].read_text(encoding="utf-8")
    root = lxml_html.fragment_fromstring(text)
    tags = {el.tag for el in root.iter()}
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    for el in root.iter():
        assert not any(a.startswith("on") or a in {"src", "href", "class"} and el is not root for a in el.attrib)
    for td in root.iter("td"):
        assert "text-align:right" in td.get("style", "")
    heads = [h.text_content() for h in root.iter("h2")]
    assert heads == ["一、总体情况", *(t.title for t in ed.tables), "五、存在的主要问题及改进情况", "六、其他需要报告的事项"]
    body = re.sub(r"\s+", "", root.text_content())
    for key, value in exported["texts"].items():
        for para in value.splitlines():
            assert re.sub(r"\s+", "", para) in body, f"text part {key} not exported verbatim"
    h1 = root.find(".//h1").text_content()
    assert h1 == {"2019-seed": "宁海县交通运输局2020年政府信息公开工作年度报告",
                  "2021-unit": "青禾县交通运输局2026年政府信息公开工作年度报告"}[exported["name"]]
    notice = root.xpath("./div")
    if exported["forced"]:
        assert notice and "4 处未解决的错误" in notice[0].text_content()
        assert "R3.1、R3.2、R3.3、R4.3" in notice[0].text_content()
        assert list(root).index(notice[0]) == 1, "the notice comes right after the title"
    else:
        assert not notice
    page = exported["page"].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "default-src 'none'" in page and text in page


def test_docx_tables_read_back_with_the_workbook_numbers_and_real_merges(exported: dict[str, Any]) -> None:
    ed = load_edition(exported["edition"])
    lay = layout_for(ed.key)
    doc = Document(str(exported["docx"]))
    assert len(doc.tables) == 3
    for table, t in zip(ed.tables, doc.tables, strict=True):
        tl = lay.tables[table.key]
        assert len(t.rows) == tl.height - TABLE_TOP and len(t.columns) == tl.width
        for cid, (r, c) in tl.cells.items():
            cell = t.cell(r - TABLE_TOP, c)
            assert float(cell.text) == pytest.approx(exported["numbers"][cid]), cid
            assert cell.paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT
        for m in tl.merges:
            if m.first_row < TABLE_TOP:
                continue
            anchor = t.cell(m.first_row - TABLE_TOP, m.first_col)
            assert anchor.text == m.text
            corner = t.cell(m.last_row - TABLE_TOP, m.last_col)
            assert corner._tc is anchor._tc, f"{m.text!r} is not one merged cell"
    paras = [p.text for p in doc.paragraphs if p.text.strip()]
    assert paras[0].endswith("政府信息公开工作年度报告")
    if exported["forced"]:
        assert "4 处未解决的错误" in paras[1] and "R4.3" in paras[1]
    else:
        assert "未解决" not in " ".join(paras)
    heads = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert heads == ["一、总体情况", *(t.title for t in ed.tables), "五、存在的主要问题及改进情况", "六、其他需要报告的事项"]


def test_documents_refuse_a_workbook_with_errors_unless_forced(tmp_path: Path) -> None:
    for export in (export_html, export_docx):
        with pytest.raises(ExportRefused, match="--force"):
            export(SEED, tmp_path / "x.out")
    assert list(tmp_path.iterdir()) == []


def test_hostile_text_is_escaped_not_run(tmp_path: Path) -> None:
    """Whatever a clerk types (markup, scripts, ampersands) comes out as text."""
    report = read_report(UNIT)
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)> & “引号”'
    report = dataclasses.replace(report, cover={**report.cover, "unit_name": "青禾县<b>交通</b>局&"},
                                 texts={**report.texts, "problems": evil + "\n第二段，问题较多，需要认真改进和加强。"})
    path = write_report(report, tmp_path / "恶意.xlsx")
    _, fragment = export_html(path, tmp_path / "恶意.html")
    doc = export_docx(path, tmp_path / "恶意.docx")
    text = fragment.read_text(encoding="utf-8")
    root = lxml_html.fragment_fromstring(text)
    assert {el.tag for el in root.iter()} <= ALLOWED_TAGS
    assert evil in root.text_content() and "青禾县<b>交通</b>局&" in root.find(".//h1").text_content()
    assert "<script" not in text and "<img" not in text
    assert any(evil == p.text for p in Document(str(doc)).paragraphs)


@pytest.mark.office
def test_docx_opens_in_a_word_processor(soffice: str, exported: dict[str, Any], tmp_path: Path) -> None:
    """LibreOffice Writer (standing in for Word and WPS here) opens the DOCX and lays out its
    tables as text, not images: the title, every table title and the numbers are in its PDF."""
    import subprocess

    from workbook.office import convert

    try:
        pdf = convert(exported["docx"], "pdf", tmp_path).path
    except RuntimeError as exc:
        if "could not be loaded" in str(exc):
            pytest.skip("LibreOffice Writer is not installed, so nothing here can open a DOCX: "
                        "apt-get install -y --no-install-recommends libreoffice-writer-nogui")
        raise
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    flat = re.sub(r"\s+", "", text)
    ed = load_edition(exported["edition"])
    assert "政府信息公开工作年度报告" in flat
    for t in ed.tables:
        assert t.title in flat
    part3 = text[text.index(ed.table("part3").title):]  # the table itself, not a finding that quotes the label
    new_row = next(line for line in part3.splitlines() if "一、本年新收政府信息公开申请数量" in line)
    numbers = [float(x) for x in new_row.split() if re.fullmatch(r"\d+(\.\d+)?", x)]
    block = ed.table("part3").blocks[0]
    assert numbers == [exported["numbers"][f"part3.main.new.{c.key}"] for c in block.columns]


def test_control_characters_in_cells_do_not_stop_the_word_export(tmp_path: Path) -> None:
    """A unit name or text pasted with control characters (from a web system or a script) still
    exports: the invisible characters are left out, every visible one is kept."""
    report = read_report(UNIT)
    report = dataclasses.replace(report, cover={**report.cover, "unit_name": "青禾县\x07交通\x1b运输局"},
                                 texts={**report.texts, "problems": "问题\x00一：公开\x0b不及时。\n第二段，问题较多，需要认真改进。"})
    path = write_report(report, tmp_path / "控制字符.xlsx")
    doc = Document(str(export_docx(path, tmp_path / "控制字符.docx")))
    paragraphs = [p.text for p in doc.paragraphs]
    assert "问题一：公开不及时。" in paragraphs
    assert doc.core_properties.author == "青禾县交通运输局"
    assert not any(ch in "".join(paragraphs) for ch in "\x00\x07\x0b\x1b")
