"""The data paragraph of 一、总体情况: its numbers are the tables' (computed here from the cells read
with openpyxl), it passes the project's own R3.7 check, a second run replaces rather than adds,
the clerk's narrative is kept, and writing it changes that one cell and nothing else — never the
input without confirmation.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from addin.publish.draft import contradictions, draft_text, merge_overview, write_overview
from checks import validate_report
from workbook.build import BuildOptions, write_report
from workbook.layout import layout_for
from workbook.read import read_report
from workbook.report import Report

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "samples" / "宁海县交通运输局2020年政府信息公开工作年度报告.xlsx"
UNIT = ROOT / "samples" / "青禾县-2026" / "收文" / "青禾县教育局.xlsx"
OLD_PARAGRAPH = "2026年，本机关共收到政府信息公开申请999件，上年结转0件；办结999件。"


def as_number(value: Any) -> float:
    """Blank is 0; text such as “1．2678万元” is read as a person reads it."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    text = unicodedata.normalize("NFKC", str(value)).replace("万元", "").strip()
    return float(text) if text else 0.0


def cells(path: Path, edition: str) -> dict[str, float]:
    lay = layout_for(edition)
    wb = openpyxl.load_workbook(path, data_only=True)
    return {c.id: as_number(wb[lay.sheet_of(c.id)].cell(lay.pos(c.id)[0] + 1, lay.pos(c.id)[1] + 1).value)
            for c in lay.edition.cells}


def expected_figures(path: Path, edition: str) -> dict[str, int]:
    """The figures a person would quote, summed here from the item cells (not the stored totals)."""
    v = cells(path, edition)
    ed = layout_for(edition).edition
    block = ed.table("part3").blocks[0]
    cols = [c.key for c in block.columns if c.key != "total"]
    row_sum = lambda row: sum(v[f"part3.main.{row}.{c}"] for c in cols)  # noqa: E731
    results = [r for r in block.rows if r.path[0].startswith("三、") and r.key != "total"]
    groups: dict[str, float] = {}
    for r in results:
        groups[r.path[1]] = groups.get(r.path[1], 0) + row_sum(r.key)
    p4 = lambda prefix: sum(v[f"part4.main.cases.{prefix}_{k}"] for k in ("upheld", "corrected", "other", "pending"))  # noqa: E731
    return {"new": int(row_sum("new")), "carried": int(row_sum("carried")), "done": int(sum(row_sum(r.key) for r in results)),
            "carry": int(row_sum("carry_next")), "review": int(p4("review")), "lawsuits": int(p4("direct") + p4("after")),
            **{k: int(x) for k, x in groups.items()}}


@pytest.mark.parametrize("path,edition", [(UNIT, "2021"), (SEED, "2019")])
def test_draft_quotes_the_tables(path: Path, edition: str) -> None:
    report = read_report(path)
    text = draft_text(report)
    f = expected_figures(path, edition)
    assert text.startswith(f"{report.year}年，本机关共收到政府信息公开申请{f['new']}件，上年结转{f['carried']}件；")
    assert f"办结{f['done']}件，其中予以公开{f['（一）予以公开']}件、" in text
    assert f"不予公开{f['（三）不予公开']}件、无法提供{f['（四）无法提供']}件、不予处理{f['（五）不予处理']}件、" in text
    assert f"其他处理{f['（六）其他处理']}件；结转下年度继续办理{f['carry']}件。" in text
    assert text.endswith(f"行政复议{f['review']}件、行政诉讼{f['lawsuits']}件。")
    assert "\n" not in text


def test_draft_satisfies_r37_where_the_old_text_did_not() -> None:
    report = read_report(UNIT)
    overview = "全年工作情况良好。\n" + OLD_PARAGRAPH + "\n下一步继续努力。"
    stale = dataclasses.replace(report, texts={**report.texts, "overview": overview})
    assert any(f.rule == "R3.7" for f in validate_report(stale)), "the check must see the contradiction"
    merged = merge_overview(stale.texts["overview"], draft_text(stale))
    assert merged.replaced == OLD_PARAGRAPH
    lines = merged.text.split("\n")
    assert lines[0] == "全年工作情况良好。" and lines[2] == "下一步继续努力。" and len(lines) == 3
    fixed = dataclasses.replace(stale, texts={**stale.texts, "overview": merged.text})
    assert not [f for f in validate_report(fixed) if f.rule in {"R3.7", "T0.1"}]
    again = merge_overview(merged.text, draft_text(fixed))
    assert again.text == merged.text and not again.changed


def test_draft_appends_after_the_clerks_text_when_there_is_no_data_paragraph() -> None:
    report = read_report(UNIT)
    merged = merge_overview(report.texts["overview"], draft_text(report))
    assert merged.replaced is None
    assert merged.text == report.texts["overview"] + "\n" + draft_text(report)
    assert merge_overview("", "段落").text == "段落"


def _sheet_xml(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_writing_changes_that_one_cell_and_keeps_protection_formulas_and_extra_sheets(tmp_path: Path) -> None:
    """A summary-like workbook with a custom password and a sheet the builder does not make."""
    src = read_report(UNIT)

    def detail(wb: Any, fmt: Any) -> None:
        wb.add_worksheet("各单位明细").write_row(0, 0, ["单位", "新收申请"])

    report = Report("2021", cover=dict(src.cover), texts=dict(src.texts), raw=dict(src.raw))
    path = write_report(report, tmp_path / "带明细.xlsx", BuildOptions(password="s3cret!"), extra=detail)
    out = tmp_path / "结果.xlsx"
    text = src.texts["overview"] + "\n" + draft_text(src)
    write_overview(path, out, text)
    before, after = _sheet_xml(path), _sheet_xml(out)
    changed = [n for n in before if before[n] != after[n]]
    assert changed == ["xl/worksheets/sheet1.xml"], "only the cover sheet's XML changes"
    wb_in, wb_out = openpyxl.load_workbook(path), openpyxl.load_workbook(out)
    assert wb_out.sheetnames == wb_in.sheetnames and "各单位明细" in wb_out.sheetnames
    r, c = layout_for("2021").cover.texts["overview"]
    for ws_in, ws_out in zip(wb_in, wb_out, strict=True):
        assert ws_out.protection.sheet == ws_in.protection.sheet
        assert ws_out.protection.password == ws_in.protection.password
        for row_in, row_out in zip(ws_in.iter_rows(), ws_out.iter_rows(), strict=True):
            for a, b in zip(row_in, row_out, strict=True):
                if ws_in.title == "封面" and (a.row, a.column) == (r + 1, c + 1):
                    assert b.value == text
                else:
                    assert a.value == b.value, f"{ws_in.title}!{a.coordinate} changed"
    totals = wb_out["三、依申请公开"]
    assert any(str(cell.value).startswith("=SUM(") for row in totals.iter_rows() for cell in row)
    cached = openpyxl.load_workbook(out, data_only=True)["三、依申请公开"]
    assert any(isinstance(cell.value, (int, float)) and cell.value > 0 for row in cached.iter_rows(min_row=6) for cell in row)


def test_cli_draft_never_overwrites_without_confirmation(cli: Any, sha256: Any, tmp_path: Path) -> None:
    book = tmp_path / "教育局.xlsx"
    shutil.copyfile(UNIT, book)
    before = sha256(book)
    proc = cli(["draft", str(book)], tmp_path)  # default: a new file beside it
    assert proc.returncode == 0, proc.stderr
    new = tmp_path / "教育局-总体情况.xlsx"
    assert sha256(book) == before and new.exists()
    assert openpyxl.load_workbook(new)["封面"]["A14"].value.endswith(draft_text(read_report(book)))
    proc = cli(["draft", str(book), "-o", str(book)], tmp_path)  # in place, no terminal, no --yes
    assert proc.returncode == 1 and "--yes" in proc.stderr
    assert sha256(book) == before
    proc = cli(["draft", str(book)], tmp_path)  # the new file already holds this draft: one message, no question
    assert proc.returncode == 0 and "无需修改" in proc.stdout and "将" not in proc.stdout
    made = sha256(new)
    write_overview(book, new, "别的文字。")  # the new file exists and differs: asks
    changed = sha256(new)
    proc = cli(["draft", str(book)], tmp_path)
    assert proc.returncode == 1 and "--yes" in proc.stderr and sha256(new) == changed != made
    proc = cli(["draft", str(book), "-o", str(book), "--yes"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sha256(book) != before
    text = read_report(book).texts["overview"]
    assert text.startswith(read_report(UNIT).texts["overview"]) and len(re.findall("共收到政府信息公开申请", text)) == 2
    proc = cli(["draft", str(book), "-o", str(book)], tmp_path)  # already up to date: nothing to confirm
    assert proc.returncode == 0 and "无需修改" in proc.stdout
    assert "将替换" not in proc.stdout and "数据段落：" not in proc.stdout, "one message, not “will replace” then “nothing to do”"


def test_cli_draft_refuses_tables_with_errors(cli: Any, tmp_path: Path) -> None:
    proc = cli(["draft", str(SEED), "-o", str(tmp_path / "x.xlsx")], tmp_path)
    assert proc.returncode == 1 and "R3.1" in proc.stderr
    assert not (tmp_path / "x.xlsx").exists()


@pytest.mark.office
def test_libreoffice_opens_the_written_workbook(soffice: str, tmp_path: Path) -> None:
    """An independent spreadsheet application reads the inline text we wrote, and the totals."""
    from workbook.office import recalculate

    out = write_overview(UNIT, tmp_path / "写入.xlsx", "第一段。\n" + draft_text(read_report(UNIT)))
    saved = recalculate(out, tmp_path / "lo")
    ws = openpyxl.load_workbook(saved, data_only=True)["封面"]
    assert ws["A14"].value == "第一段。\n" + draft_text(read_report(UNIT))
    assert cells(saved, "2021") == cells(UNIT, "2021")
    # and the other way round: a workbook saved by LibreOffice (its own XML) takes the paragraph too
    again = write_overview(saved, tmp_path / "再写入.xlsx", "第二段。")
    assert openpyxl.load_workbook(again, data_only=True)["封面"]["A14"].value == "第二段。"
    assert cells(again, "2021") == cells(UNIT, "2021")


def test_contradictions_name_what_the_clerks_own_sentences_still_quote() -> None:
    """Both doors (``nianbao draft`` and the 生成数据段落 button) warn about the clerk's sentences that
    the data paragraph cannot fix: a wrong number quoted elsewhere, or another year."""
    report = read_report(UNIT)
    f = expected_figures(UNIT, "2021")
    wrong = f"全年共收到政府信息公开申请{f['new'] + 7}件。"
    merged = merge_overview(wrong + "\n" + OLD_PARAGRAPH, draft_text(report))
    left = contradictions(report, merged.text)
    assert [x.rule for x in left] == ["R3.7"] and f"{f['new'] + 7}件" in left[0].message
    assert contradictions(report, merge_overview("全年工作情况良好。", draft_text(report)).text) == []
    assert [x.rule for x in contradictions(report, "2019年，工作情况良好。\n" + draft_text(report))] == ["T0.1"]
