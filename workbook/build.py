"""Write a report workbook — the empty template or a filled one — from the spec.

One builder serves the template (`nianbao template`), the samples, imported reports and any
write-back, so the layout, protection, validation and live checks are always the same. It uses
xlsxwriter because it stores the results of formulas with them: every file we hand to a person
shows its totals in any reader, even one that does not recalculate.
"""

from __future__ import annotations

import datetime
import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from .atomic import atomic_path
from .layout import (CHECK_SHEET, META_SHEET, NOTES_HEADER, NOTES_ROWS, NOTES_SHEET, RESULTS_SHEET,
                     TEMPLATE_VERSION, Layout, TableLayout, a1, col_letter, layout_for, quote_sheet, stretch)
from .livecheck import LiveCheck, live_checks, refs
from .paper import line_count, row_height, set_widths, setup_page
from .report import SOURCES, Report, derive_totals, spreadsheet_number
from .spec import EDITIONS, KIND_LABELS, Edition, load_edition
from .values import Status

DEFAULT_PASSWORD = "nianbao"
GENERATOR = "xxgk-nianbao"
RESULTS_HEADER = ("严重程度", "规则", "位置", "行", "列", "填写值", "应为", "问题说明", "说明（保留提示的理由）")
def instructions(ed: Edition) -> tuple[str, ...]:
    """The cover's how-to lines, naming the sheets as this edition's spec names them."""
    tables = "“" + "”“".join(t.sheet for t in ed.tables) + "”"
    return (
        "填写说明",
        f"1. 先填写本页的单位信息，再依次填写{tables}三张表和本页的文字部分。",
        "2. 只有白色单元格可以填写；灰色单元格是合计，由公式自动计算。",
        "3. 没有发生的事项请填 0，不要留空，也不要填“-”“/”“无”。",
        f"4. 单元格变红：数字不平或格式不对，必须改正；变黄：请核实，如确需保留，请在“{NOTES_SHEET}”页写明理由。",
        f"5. 装有“政务公开年报”加载项时，点击“校验”可列出全部问题（写在“{RESULTS_SHEET}”页）并定位到单元格。",
        "6. 填写中有疑问，请联系本级政府信息公开工作机构。",
    )


#: The note on a cell that an import could not place (it is listed in ``_meta`` as ``unknown``).
UNKNOWN_NOTE = "未能录入：公开发布的报告中找不到或无法读取这一格，数字不详（不是 0）"
SOURCE_NOTE = "本工作簿据公开发布的报告录入，合计栏为报告所载数字，未作改动。"


@dataclass(frozen=True)
class BuildOptions:
    """How to write: ``derived="formula"`` writes SUM formulas (with their results);
    ``"value"`` writes the derived cells as found in ``report.raw`` (a published report's totals,
    mistakes included, or a summary's recomputed totals)."""

    derived: str = "formula"
    password: str = DEFAULT_PASSWORD
    protect: bool = True
    #: What users may still do on the protected sheets (xlsxwriter's ``protect()`` options); the
    #: choice is recorded in _meta (``protection``), where the add-in looks before adding notes.
    protection: Mapping[str, bool] = field(default_factory=lambda: dict(PROTECTION_OPTIONS))


def spreadsheet_numbers(report: Report) -> dict[str, float]:
    """Each cell as a spreadsheet sees it: numbers as they are, anything else (text, blank) 0."""
    return {cid: spreadsheet_number(v) for cid, v in report.raw.items()}


def legacy_password_hash(password: str) -> str:
    """The 16-bit password verifier Excel stores for sheet and workbook protection (ECMA-376)."""
    h = 0
    for ch in reversed(password):
        h = ((h >> 14) & 0x01) | ((h << 1) & 0x7FFF)
        h ^= ord(ch)
    h = ((h >> 14) & 0x01) | ((h << 1) & 0x7FFF)
    h ^= len(password) ^ 0xCE4B
    return f"{h:X}"


FILL_HARD = "#FFC7CE"
FILL_SOFT = "#FFEB9C"
FILL_DERIVED = "#EDEDED"
FONT_HARD = "#9C0006"
FONT_SOFT = "#9C5700"
# Formatting and notes (objects) stay allowed on protected sheets, so that marks and notes can be
# applied by the add-in without unprotecting anything.
PROTECTION_OPTIONS = {"format_cells": True, "format_columns": True, "format_rows": True, "objects": True,
                      "select_locked_cells": True, "select_unlocked_cells": True}


class _Formats:
    """The handful of cell styles the report uses, created once per workbook."""

    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter", "border": 1}
        self.title = wb.add_format({"font_name": "黑体", "font_size": 14, "bold": True, "align": "center", "valign": "vcenter"})
        self.header = wb.add_format({**base, "bold": True, "align": "center", "text_wrap": True, "bg_color": "#D9E1F2"})
        self.label = wb.add_format({**base, "text_wrap": True})
        self.block = wb.add_format({**base, "bold": True})
        self.inputs = {
            kind: wb.add_format({**base, "locked": False, "align": "right", "num_format": "0" if kind != "money" else "0.0000"})
            for kind in KIND_LABELS
        }
        self.derived = wb.add_format({**base, "align": "right", "num_format": "0", "bg_color": FILL_DERIVED})
        self.derived_money = wb.add_format({**base, "align": "right", "num_format": "0.0000", "bg_color": FILL_DERIVED})
        self.text_in = wb.add_format({**base, "locked": False, "text_wrap": True, "valign": "top"})
        self.field_in = wb.add_format({**base, "locked": False})
        self.note = wb.add_format({"font_size": 10, "text_wrap": True, "valign": "top"})
        self.bold = wb.add_format({"bold": True})
        self.red = wb.add_format({"bg_color": FILL_HARD, "font_color": FONT_HARD})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.yellow = wb.add_format({"bg_color": FILL_SOFT, "font_color": FONT_SOFT})


def _protect(ws: Worksheet, opts: BuildOptions) -> None:
    if opts.protect:
        ws.protect(opts.password, dict(opts.protection))


#: Column widths of the table sheets: the label columns, then every number column. Part 三's
#: third label column holds the sub-items (“2.申请人逾期未按收费通知要求缴纳费用、…”: two lines),
#: and its second and third together the outcome rows (“（二）部分公开（区分处理的，…）”: one line).
TABLE_WIDTHS: Mapping[str, tuple[tuple[float, ...], float]] = {
    "part2": ((24,), 18), "part3": ((7, 15, 44), 9), "part4": ((), 8.5)}
#: Rows the results sheet's columns fit (the add-in and a summary fill it; Excel gives new cells
#: their column's wrapping).
RESULTS_WIDTHS = (10, 8, 20, 20, 18, 10, 10, 50, 30)


def _table_widths(tl: TableLayout) -> list[float]:
    labels, number = TABLE_WIDTHS[tl.table.key]
    return [*labels, *[number] * (tl.width - len(labels))]


def _fit_rows(ws: Worksheet, tl: TableLayout, widths: list[float], minimum: Mapping[int, float]) -> None:
    """Give each row the height its wrapped labels need in their (merged) columns; ``minimum``
    keeps header rows tall enough for the headers that span several rows."""
    heights: dict[int, float] = dict(minimum)
    for m in tl.merges:
        if m.first_row == m.last_row and m.first_row > 0:
            lines = line_count(m.text, sum(widths[m.first_col:m.last_col + 1]))
            if lines > 1:
                heights[m.first_row] = max(heights.get(m.first_row, 0.0), row_height(lines))
    for r, h in heights.items():
        ws.set_row(r, h)


def _write_cover(wb: xlsxwriter.Workbook, ws: Worksheet, lay: Layout, report: Report, fmt: _Formats, opts: BuildOptions) -> None:
    ed = lay.edition
    year = report.cover.get("year", "")
    ws.merge_range(0, 0, 0, 3, ed.heading.format(year=year or "    "), fmt.title)
    ws.set_row(0, 30)
    ws.set_column(0, 0, 24)
    ws.set_column(1, 3, 22)
    ws.set_column(5, 5, 70)
    ws.merge_range(1, 0, 1, 3, f"表格版本：{ed.name}", fmt.note)
    for f in ed.cover:
        r, c = lay.cover.fields[f.key]
        ws.write_string(r, 0, f.label + ("（必填）" if f.required else ""), fmt.label)
        ws.merge_range(r, c, r, 3, "", fmt.field_in)
        value = report.cover.get(f.key, "")
        if f.format == "year" and value.isdigit():
            ws.write_number(r, c, int(value), fmt.field_in)
        else:
            ws.write_string(r, c, value, fmt.field_in)
        if f.choices:
            ws.data_validation(r, c, r, c, {"validate": "list", "source": list(f.choices), "error_title": f.label,
                                            "error_message": f"请从下拉列表中选择{f.label}。"})
        elif f.format == "year":
            first = min(load_edition(k).first_year for k in EDITIONS)
            ws.data_validation(r, c, r, c, {"validate": "integer", "criteria": "between", "minimum": first, "maximum": 2100,
                                            "error_title": f.label, "error_message": f"{f.label}请填写四位年份（{first} 年及以后），如 2026。"})
        name = f"NB_COVER_{f.key.upper()}"
        wb.define_name(name, f"={quote_sheet(ed.cover_sheet)}!{a1(r, c, True)}")
    for t in ed.texts:
        r, c = lay.cover.texts[t.key]
        ws.merge_range(r - 1, 0, r - 1, 3, t.label, fmt.block)
        ws.merge_range(r, 0, r, 3, "", fmt.text_in)
        ws.write_string(r, 0, report.texts.get(t.key, ""), fmt.text_in)
        ws.set_row(r, 150)
        wb.define_name(f"NB_TEXT_{t.key.upper()}", f"={quote_sheet(ed.cover_sheet)}!{a1(r, 0, True)}")
    lines = instructions(ed)
    for i, line in enumerate(lines):
        ws.write_string(2 + i, 5, line, fmt.bold if i == 0 else fmt.note)
    if report.source != "template":
        ws.write_string(3 + len(lines), 5, f"来源：{SOURCES.get(report.source, report.source)}。"
                        + (SOURCE_NOTE if report.source == "published" else ""), fmt.note)
    last = max(r for r, _ in lay.cover.texts.values())
    setup_page(ws, landscape=False, area=(0, 0, last, 3))
    ws.activate()


def _cell_value(value: Any) -> tuple[str, Any]:
    """How to store a raw cell value: a number as a number, anything else as text."""
    if value is None or value == "":
        return "blank", None
    if isinstance(value, bool):
        return "string", str(value)
    if isinstance(value, (int, float)):
        return "number", value
    return "string", str(value)


def _write_table(wb: xlsxwriter.Workbook, ws: Worksheet, lay: Layout, tl: TableLayout, report: Report,
                 totals: dict[str, float], fmt: _Formats, opts: BuildOptions) -> None:
    ed = lay.edition
    for m in tl.merges:
        style = fmt.title if m.first_row == 0 else (fmt.header if m.first_row in tl.header_rows or m.last_row in tl.header_rows else fmt.label)
        if m.first_row != 0 and tl.table.key == "part2" and m.first_col == 0 and m.last_col == tl.width - 1:
            style = fmt.block
        if (m.first_row, m.first_col) == (m.last_row, m.last_col):
            ws.write_string(m.first_row, m.first_col, m.text, style)
        else:
            ws.merge_range(m.first_row, m.first_col, m.last_row, m.last_col, m.text, style)
    ws.set_row(0, 28)
    for cid, (r, c) in tl.cells.items():
        cell = ed.cell(cid)
        last = stretch(tl, cid)
        if cell.role == "derived":
            style = fmt.derived_money if cell.kind == "money" else fmt.derived
            if opts.derived == "formula":
                formula = f"=SUM({refs(lay, cell.items, False)})"
                _merge_if(ws, r, c, last, style)
                ws.write_formula(r, c, formula, style, totals[cid])
                continue
            value = report.raw.get(cid)
        else:
            style = fmt.inputs[cell.kind]
            value = report.raw.get(cid)
        _merge_if(ws, r, c, last, style)
        how, v = _cell_value(value)
        if how == "number":
            ws.write_number(r, c, v, style)
        elif how == "string":
            ws.write_string(r, c, v, style)
        else:
            ws.write_blank(r, c, None, style)
        if cid in report.published:
            ws.write_comment(r, c, f"公开发布的写法：{report.published[cid]}")
        elif cid in report.unknown:
            ws.write_comment(r, c, UNKNOWN_NOTE)
        if cell.role == "input":
            ws.data_validation(r, c, r, c, _validation(cell.kind, ed.labels(cid)[1]))
    _names(wb, lay, tl)
    widths = _table_widths(tl)
    set_widths(ws, widths)
    _fit_rows(ws, tl, widths, {0: 28, **{r: row_height(2) for r in tl.header_rows}})
    # one table, one page (as the published tables and the exported PDF print it): fitted to the
    # width and, should a label wrap more than planned, to the height too
    last_header = max(tl.header_rows) if tl.table.key != "part2" else 0
    setup_page(ws, fit_height=1, repeat_rows=(0, last_header), area=(0, 0, tl.height - 1, tl.width - 1))


def _merge_if(ws: Worksheet, r: int, c: int, last: int, style: Any) -> None:
    if last > c:
        ws.merge_range(r, c, r, last, "", style)


def _validation(kind: str, column: str) -> dict[str, Any]:
    """Data validation per cell kind: refuses text and wrong numbers while typing; the message box
    is titled with the column's printed label."""
    msg = {"count": "请填写 0 或正整数（没有发生请填 0）。",
           "signed": "请填写整数，减少用负数表示，如 -8。",
           "money": "请填写金额（单位：万元），不能为负数，不要带单位。"}[kind]
    if kind == "money":
        return {"validate": "decimal", "criteria": ">=", "value": 0, "error_title": column[:32], "error_message": msg}
    if kind == "signed":
        return {"validate": "integer", "criteria": "between", "minimum": -999999999, "maximum": 999999999,
                "error_title": column[:32], "error_message": msg}
    return {"validate": "integer", "criteria": ">=", "value": 0, "error_title": column[:32], "error_message": msg}


def block_rectangles(lay: Layout, tl: TableLayout) -> list[tuple[str, int, int, int, int]]:
    """Group a table's number cells into rectangles of one role: (role, r0, c0, r1, c1).

    Rows with the same pattern of roles are stacked; the defined names are made from these, so
    that the add-in and the reader find every input and every total by name.
    """
    ed = lay.edition
    rows: dict[int, list[tuple[int, str]]] = {}
    for cid, (r, c) in tl.cells.items():
        rows.setdefault(r, []).append((c, ed.cell(cid).role))
    rects: list[tuple[str, int, int, int, int]] = []
    open_: dict[tuple[str, int, int], int] = {}
    last_r = None
    for r in sorted(rows):
        runs: list[tuple[str, int, int]] = []
        for c, role in sorted(rows[r]):
            if runs and runs[-1][0] == role and runs[-1][2] == c - 1:
                runs[-1] = (role, runs[-1][1], c)
            else:
                runs.append((role, c, c))
        cur = set(runs)
        contiguous = last_r is not None and r == last_r + 1
        for run in list(open_):
            if not (contiguous and run in cur):
                rects.append((run[0], open_.pop(run), run[1], last_r, run[2]))  # type: ignore[arg-type]
        for run in runs:
            if run not in open_:
                open_[run] = r
        last_r = r
    for run, start in open_.items():
        rects.append((run[0], start, run[1], last_r, run[2]))  # type: ignore[arg-type]
    return sorted(rects, key=lambda x: (x[1], x[2]))


def _names(wb: xlsxwriter.Workbook, lay: Layout, tl: TableLayout) -> None:
    counters = {"input": 0, "derived": 0}
    for role, r0, c0, r1, c1 in block_rectangles(lay, tl):
        counters[role] += 1
        tag = "INPUT" if role == "input" else "TOTAL"
        ref = a1(r0, c0, True) + ("" if (r0, c0) == (r1, c1) else ":" + a1(r1, c1, True))
        wb.define_name(f"NB_{tl.table.key.upper()}_{tag}_{counters[role]}", f"={quote_sheet(tl.table.sheet)}!{ref}")


def _cells_of(chk: LiveCheck) -> set[str]:
    """The cells a live check's formula refers to (read off the formula it builds)."""
    seen: set[str] = set()

    def record(cells: tuple[str, ...]) -> str:
        seen.update(cells)
        return "0"

    chk.expr(record)
    return seen


def _write_live_checks(wb: xlsxwriter.Workbook, lay: Layout, values: dict[str, float], fmt: _Formats,
                       sheets: dict[str, Worksheet], opts: BuildOptions, report: Report) -> None:
    """The rules as formulas on a hidden sheet and as conditional formats on the cells they mark.

    An imported report may have cells the import could not place (``report.unknown``): they are
    empty in the workbook, and a spreadsheet would count them as 0 and paint their rules red. A
    place whose formula refers to an unknown cell — or to a total over one — is left out, as the
    Python checks leave it out (“未能核查”), so Excel and WPS never show a false error either."""
    checks = live_checks(lay.edition.key)
    if report.unknown:
        unknown = {cid for cid, v in report.known().items() if v != v}  # NaN: unknown or summed from one
        checks = tuple(chk for chk in checks if not (_cells_of(chk) & unknown))
    ws = wb.add_worksheet(CHECK_SHEET)
    ws.write_row(0, 0, ["规则", "单元格", "不通过"])
    for i, chk in enumerate(checks, start=1):
        ws.write_string(i, 0, chk.rule.id)
        ws.write_string(i, 1, lay.address(chk.anchor))
        ws.write_formula(i, 2, "=" + chk.formula(lay, qualify=True), None, bool(chk.fails(values)))
        style = fmt.red if chk.rule.severity == "hard" else fmt.yellow
        target = sheets[lay.sheet_of(chk.anchor)]
        for mark in chk.marks:
            r, c = lay.pos(mark)
            target.conditional_format(r, c, r, c, {"type": "formula", "criteria": "=" + chk.formula(lay, qualify=False), "format": style})
    ws.hide()
    _protect(ws, opts)


def _write_notes(ws: Worksheet, lay: Layout, report: Report, fmt: _Formats, opts: BuildOptions) -> None:
    soft = [r.id for r in lay.edition.rules if r.severity == "soft"]
    ws.merge_range(0, 0, 0, 2, "对保留的提示（黄色）的说明", fmt.title)
    for j, h in enumerate(NOTES_HEADER):
        ws.write_string(1, j, h, fmt.header)
    ws.set_column(0, 0, 12)
    ws.set_column(1, 1, 26)
    ws.set_column(2, 2, 80)
    for i in range(NOTES_ROWS):
        note = report.notes[i] if i < len(report.notes) else None
        for j, v in enumerate((note.rule, note.cell, note.text) if note else ("", "", "")):
            ws.write_string(2 + i, j, v, fmt.text_in if j == 2 else fmt.field_in)
    ws.data_validation(2, 0, 1 + NOTES_ROWS, 0, {"validate": "list", "source": soft, "error_title": "规则编号",
                                                 "error_message": "请填写“校验结果”中提示（黄色）的规则编号。"})
    # portrait: the three columns fit its width, and the rows for notes one page (not a second
    # page of empty rows, as landscape printed them)
    setup_page(ws, landscape=False, repeat_rows=(1, 1), area=(0, 0, 1 + NOTES_ROWS, 2))


def _write_meta(ws: Worksheet, lay: Layout, report: Report, opts: BuildOptions) -> None:
    rows: list[tuple[str, str]] = [
        ("generator", GENERATOR), ("edition", lay.edition.key), ("template_version", TEMPLATE_VERSION),
        ("source", report.source), ("scope", report.scope),
        ("protection", ",".join(k for k, v in opts.protection.items() if v) if opts.protect else "off"),
    ]
    rows += [("member", f"{m.code}\t{m.name}\t{m.sha256}") for m in report.members]
    index = lay.edition.cell_index
    rows += [("unknown", cid) for cid in sorted((c for c in report.unknown if c in index), key=index.__getitem__)]
    rows += [("published", f"{cid}\t{text}") for cid, text in report.published.items() if cid in index]
    for i, (k, v) in enumerate(rows):
        ws.write_string(i, 0, k)
        ws.write_string(i, 1, v)
    ws.hide()
    _protect(ws, opts)


ExtraSheets = Callable[[xlsxwriter.Workbook, "_Formats"], None]


def write_report(report: Report, path: Path, options: BuildOptions | None = None,
                 extra: ExtraSheets | None = None) -> Path:
    """Write ``report`` as a protected report workbook at ``path`` (atomically).

    ``extra`` may add sheets after the report's own (a county summary adds its detail, status
    board and chart this way), so that every workbook we write has the same report sheets and
    can be read back by ``read_report`` — a county summary is itself a valid input for a city.
    """
    opts = options or BuildOptions()
    lay = layout_for(report.edition_key)
    ed: Edition = lay.edition
    # Cached results must be what a spreadsheet computes when it recalculates: SUM skips text,
    # so a number typed as text counts 0 here (the checks report it as R0.4 separately).
    values = spreadsheet_numbers(report)
    totals = derive_totals(ed, values)
    if opts.derived == "formula":
        values.update(totals)
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
                                   "strings_to_urls": False})
    # A fixed creation date keeps regenerated files byte-identical (samples stay reproducible).
    wb.set_properties({"title": ed.heading.format(year=report.cover.get("year", "")), "author": report.unit,
                       "comments": f"{GENERATOR} {ed.key}", "created": datetime.datetime(2000, 1, 1)})
    fmt = _Formats(wb)
    cover = wb.add_worksheet(ed.cover_sheet)
    _write_cover(wb, cover, lay, report, fmt, opts)
    _protect(cover, opts)
    sheets: dict[str, Worksheet] = {}
    for table in ed.tables:
        ws = wb.add_worksheet(table.sheet)
        sheets[table.sheet] = ws
        _write_table(wb, ws, lay, lay.tables[table.key], report, totals, fmt, opts)
        _protect(ws, opts)
    notes = wb.add_worksheet(NOTES_SHEET)
    _write_notes(notes, lay, report, fmt, opts)
    _protect(notes, opts)
    results = wb.add_worksheet(RESULTS_SHEET)
    results.write_row(0, 0, RESULTS_HEADER, fmt.header)
    set_widths(results, RESULTS_WIDTHS, formats={j: fmt.wrap for j in (3, 4, 7, 8)})
    # no print area: the sheet is filled later (the add-in, a summary) and prints what it holds
    setup_page(results, repeat_rows=(0, 0))
    if extra is not None:
        extra(wb, fmt)
    _write_live_checks(wb, lay, values, fmt, sheets, opts, report)
    _write_meta(wb.add_worksheet(META_SHEET), lay, report, opts)
    wb.define_name("NB_EDITION", f"={META_SHEET}!$B$2")
    wb.close()
    data = buf.getvalue()
    if opts.protect:
        data = _lock_structure(data, opts.password)
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _lock_structure(data: bytes, password: str) -> bytes:
    """Add workbook structure protection, which xlsxwriter cannot write: no sheet can be added,
    deleted, renamed or unhidden, so the layout the reader relies on stays put."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "xl/workbook.xml":
                tag = f'<workbookProtection workbookPassword="{legacy_password_hash(password)}" lockStructure="1"/>'
                body = re.sub(rb"(<workbookPr[^>]*/>)", lambda m: m.group(1) + tag.encode(), body, count=1)
            dst.writestr(item, body)
    return out.getvalue()


def write_template(path: Path, edition_key: str, year: int | None = None, options: BuildOptions | None = None) -> Path:
    """The empty template for an edition (and optionally a report year printed on the cover)."""
    report = Report(edition_key, cover={"year": str(year)} if year else {})
    return write_report(report, path, options)


__all__ = ["BuildOptions", "DEFAULT_PASSWORD", "RESULTS_HEADER", "write_report", "write_template",
           "legacy_password_hash", "block_rectangles", "Status", "col_letter"]
