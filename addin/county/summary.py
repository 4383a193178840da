"""The summary workbook: the template's own report sheets with the summed numbers (written by
``write_report``, so it reads back like any report — a county summary is a city's input), plus
报送情况 (status board), 明细 (one row per unit), 图表 (a native chart) and every finding in 校验结果.

Why the long sheets' rows are *spliced*: 2,000 units × 172 columns cost xlsxwriter ~1.2 s and tens
of MB (``write_report`` builds in memory, so constant_memory mode is off). So ``write_report``
writes only the headers, merges, filters, widths and conditional formats of these sheets, and the
data rows are then streamed into those sheets' XML while the package is copied to its final,
atomically replaced location: ~0.1 s per 2,000 units, in constant memory. Text goes in as inline
strings and numbers as numbers, so nothing from an input can ever become a formula. The same row
generators feed ``summary_sheets`` (the add-in's 汇总 button) and the long format.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, Iterator
from xml.sax.saxutils import quoteattr

import numpy as np

from checks.findings import SEVERITY_LABEL, Finding
from workbook.atomic import atomic_path
from workbook.build import RESULTS_HEADER, BuildOptions, write_report
from workbook.layout import RESULTS_SHEET, a1, col_letter, layout_for, quote_sheet
from workbook.paper import (LANDSCAPE_UNITS, Fit, column_pages, column_widths, line_count, row_height, set_widths,
                            setup_chart_page, setup_page)
from workbook.report import Report
from workbook.spec import Edition, cell_id, select
from workbook.values import format_number

from addin.county.model import (BOARD_SHEET, CHART_SHEET, DETAIL_FIXED, DETAIL_HEAD, DETAIL_HEAD_ROWS, DETAIL_SHEET,
                                STATUS, USED, ConsolidationResult, Source, derivation, input_ids, row_blocks)
from addin.publish.safety import neutralise, xml_text
from addin.county.unitfile import sheet_parts


BOARD_HEADER = ("序号", "单位名称", "统一社会信用代码", "单位类型", "状态", "说明", "文件", "填报日期",
                "文件修改时间", "错误", "提示（已说明）", "文件 sha256")
RESULT_EXTRA = ("单位名称", "统一社会信用代码", "文件", "转到")
#: 报送情况 on paper: its first rows (title and four lines of text across the page), the row of the
#: 情况/数量 header, and how each column is sized from what it holds (long ones wrap).
BOARD_NOTES, BOARD_HEAD_ROW = 5, 6
BOARD_FITS = (Fit(6, 22), Fit(8, 28), Fit(8, 21), Fit(8, 14), Fit(8, 22), Fit(10, 32), Fit(10, 28), Fit(10, 12),
              Fit(10, 17), Fit(6, 8), Fit(8, 16), Fit(10, 66))
BOARD_WRAPPED = ("说明", "文件")
#: 明细: the fixed columns sized from what they hold (one line each: a wrapped file name would
#: make every unit's row, on every page, several lines tall), every number column alike, and the
#: print scale at which two rows of Part 三 (six columns each) and the unit's name share a page.
DETAIL_FITS = (Fit(5, 8), Fit(8, 30), Fit(8, 22), Fit(8, 16), Fit(10, 70), Fit(10, 66))
DETAIL_NUMBER_WIDTH = 8.0
DETAIL_SCALE = 60
#: 校验结果 of a summary: the template's nine columns and the four about the unit.
RESULTS_FITS = (Fit(8, 10), Fit(6, 8), Fit(10, 24), Fit(8, 20), Fit(8, 20), Fit(6, 12), Fit(6, 12), Fit(20, 50),
                Fit(10, 30), Fit(10, 24), Fit(10, 22), Fit(10, 30), Fit(10, 24))
RESULTS_WRAPPED = (3, 4, 7, 8, 11)


@dataclass(frozen=True)
class Formula:
    """One of *our* formulas (a 合计 SUM), with its result so every reader sees the number."""

    formula: str
    value: float


@dataclass(frozen=True)
class Link:
    """Text that jumps to a cell of this workbook."""

    text: str
    location: str


def _plain(v: Any) -> Any:
    """A cell as a plain value (the add-in's grids): results of formulas, texts of links, no NaN."""
    return None if isinstance(v, float) and v != v else v.value if isinstance(v, Formula) else v.text if isinstance(v, Link) else v


# --------------------------------------------------------------------------------------------
# What the sheets hold (rows as lists), derived from the spec and the result
# --------------------------------------------------------------------------------------------

def detail_columns(ed: Edition) -> list[tuple[str, str, str, str, str]]:
    """(cell id, table, row label, column label, address in the summary) per input cell."""
    labels = {lab[4]: lab for lab in _labels(ed)}
    return [(cid, part, f"{block} · {row or part}" if block else row or part, column, address)
            for cid in input_ids(ed.key) for part, block, row, column, _, address, _ in [labels[cid]]]


def detail_head(ed: Edition) -> tuple[list[list[str | None]], list[tuple[int, int, int, int]]]:
    """The 明细 header rows (表 / 行 / 列 / 汇总表位置) and their merged ranges: a label that
    spans several columns is written once, in the first cell of its range, as Excel keeps it."""
    cols = detail_columns(ed)
    fixed = len(DETAIL_FIXED)
    rows: list[list[str | None]] = [[None] * (fixed + len(cols)) for _ in DETAIL_HEAD]
    merges = [(0, j, DETAIL_HEAD_ROWS - 1, j) for j in range(fixed)]
    for j, name in enumerate(DETAIL_FIXED):
        rows[0][j] = name
    for k in range(DETAIL_HEAD_ROWS):
        j = 0
        while j < len(cols):
            end = j
            while k < 2 and end + 1 < len(cols) and cols[end + 1][1 + k] == cols[j][1 + k] and cols[end + 1][1] == cols[j][1]:
                end += 1
            rows[k][fixed + j] = cols[j][1 + k]
            if end > j:
                merges.append((k, fixed + j, k, fixed + end))
            j = end + 1
    return rows, merges


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else ""


def detail_rows(result: ConsolidationResult) -> Iterator[list[Any]]:
    """One row per summed unit (inputs exactly as summed), then the 合计 row (SUM formulas)."""
    n = len(result.included)
    for i, (s, values) in enumerate(zip(result.included, result.detail), start=1):  # row by row: constant memory
        yield [i, s.name, s.cover.get("credit_code", ""), s.unit_type, str(s.path), s.sha256, *values.tolist()]
    first, last = DETAIL_HEAD_ROWS + 1, DETAIL_HEAD_ROWS + n
    sums = [result.summary.raw[cid] for cid in result.input_ids]
    yield ["合计", f"{n} 个单位", None, None, None, None,
           *[Formula(f"SUM({col_letter(len(DETAIL_FIXED) + j)}{first}:{col_letter(len(DETAIL_FIXED) + j)}{last})", v)
             for j, v in enumerate(sums)]]




Series = list[tuple[str, tuple[str, ...]]]


def chart_series(ed: Edition) -> tuple[Series, Series]:
    """The chart's series as (label, Part 三 cells added up): applications received, and what became
    of them — read from the spec's rules of Part 三, so the chart follows either edition. The balance
    rule's left rows are received (one series each); of its right rows, the one the column-wise sum
    totals is split into the outcome groups it adds up (（一）…（六）: the rows' second label level,
    long bracketed notes dropped), the others follow. All in the column the row-wise sum totals."""
    table = ed.table("part3")
    block = table.blocks[0]
    rules = [r for r in ed.rules if r.get("table") == table.key]
    balance = next(r for r in rules if r.kind == "balance")
    by_column = next(r for r in rules if r.kind == "sum" and r.get("axis") == "column")
    by_row = next(r for r in rules if r.kind == "sum" and r.get("axis") == "row")
    at = lambda row: cell_id(table.key, block.key, row, by_row.get("target"))  # noqa: E731
    received: Series = [(block.row(r).label, (at(r),)) for r in balance.get("left")]
    series: Series = []
    for row in balance.get("right"):
        if row != by_column.get("target"):
            series.append((block.row(row).label, (at(row),)))
            continue
        groups: dict[str, list[str]] = {}
        for key in select(block.rows, by_column.get("items")):
            path = block.row(key).path
            label = re.sub(r"（[^）]{3,}）$", "", path[1] if len(path) > 1 else path[-1])
            groups.setdefault(label, []).append(at(key))
        series += [(label, tuple(cells)) for label, cells in groups.items()]
    return received, series


def type_table(result: ConsolidationResult) -> tuple[list[str], list[list[Any]]]:
    """Applications received and how they were handled, per unit type (the chart's data)."""
    ed = result.edition
    derived, D = derivation(ed.key)
    column = {c: k for k, c in enumerate((*result.input_ids, *derived))}
    received, disposed = chart_series(ed)
    W = np.zeros((len(column), len(received) + len(disposed)))  # every cell → the series it adds to
    for j, (_, cells) in enumerate(received + disposed):
        W[[column[c] for c in cells], j] = 1.0
    values = np.zeros((len(result.detail), W.shape[1]))
    for k, rows in enumerate(row_blocks(result.detail, 2048)):
        values[k * 2048:k * 2048 + len(rows)] = np.concatenate([rows, rows @ D], axis=1) @ W
    series = [(label, values[:, j]) for j, (label, _) in enumerate(received + disposed)]
    kinds = [s.name if s.origin == "summary" else s.unit_type for s in result.included]
    order = list(dict.fromkeys(kinds))
    header = ["单位类型", "单位数", *[label for label, _ in series]]
    rows = []
    kinds_arr = np.array(kinds, dtype=object)
    for kind in order + ["合计"]:
        mask = np.ones(len(kinds), bool) if kind == "合计" else kinds_arr == kind
        rows.append([kind, int(mask.sum()), *[float(values[mask].sum()) for _, values in series]])
    return header, rows


def board_head(result: ConsolidationResult) -> tuple[list[list[Any]], int]:
    """The top of 报送情况: what was summed, counts by status, the per-type table; and the row
    where the type table's header is (the chart refers to it)."""
    opts = result.options
    reg = result.register
    rows: list[list[Any]] = [
        [f"{result.name}{result.year}年度政府信息公开工作年度报告汇总 · 报送情况"],
        [f"汇总范围：{result.scope_label}；表格版本：{result.edition.name}；"
         f"汇总单位：{len(result.included)} 个" + ("（有错误的单位按要求未汇总）" if opts.strict else "")],
        [f"单位名单：{reg.path.name}，共 {len(reg.entries)} 个单位" if reg else "未提供单位名单，无法列出未报送的单位"],
        ["同一单位报送多份时，采用填报日期最新的一份；填报日期相同或未填时，采用文件修改时间最新的一份（理由写在“说明”栏）。"],
        [f"生成时间：{dt.datetime.now():%Y-%m-%d %H:%M}；共收到文件 {len(result.sources)} 个"],
        [],
        ["情况", "数量"],
    ]
    counts = {k: 0 for k in STATUS}
    for s in result.sources:
        counts[s.status] += 1
    counts["missing"], counts["covered"] = len(result.missing), len(result.covered)
    rows += [[label, counts[k]] for k, label in STATUS.items() if counts[k] or k in ("summed", "missing", "duplicate", "unreadable")]
    rows.append(["已汇总单位中有错误的", sum(1 for s in result.included if s.hard)])
    rows.append(["提示（其中已说明）", f"{sum(s.soft for s in result.included)}（{sum(s.explained for s in result.included)}）"])
    rows += [[], ["按单位类型统计（已汇总的单位，件）"]]
    header, table = type_table(result)
    chart_row = len(rows)
    rows += [header, *table, [], list(BOARD_HEADER)]
    return rows, chart_row


def _board_line(i: int, s: Source | None, status: str, reason: str, entry: Any = None) -> list[Any]:
    if s is None:
        return [i, entry.name, entry.code, entry.unit_type, status, reason, None, None, None, None, None, None]
    soft = f"{s.soft}（{s.explained}）" if s.soft else (0 if not s.error else None)
    if s.status == "strict":  # the document says what was done, not which option asked for it
        reason = f"有 {s.hard} 处错误，按要求（有错误的单位不汇总）未汇总；请退回该单位改正后重新报送"
    reason = reason + ("；含宏（已按数值读取，宏未运行）" if s.macro else "") + (f"；{s.invalid} 个单元格无法识别为数字，按 0 计" if s.invalid and s.status == "summed" else "")
    if s.formulas:
        reason += f"；输入单元格中有公式：{s.formula_note()}"
    return [i, s.name or (entry.name if entry else ""), s.cover.get("credit_code", "") or (entry.code if entry else ""),
            s.unit_type if not s.error else (entry.unit_type if entry else ""), status, reason.lstrip("；"), str(s.path),
            s.cover.get("date", ""), _when(s.mtime), s.hard if not s.error else None, soft, s.sha256]


def board_rows(result: ConsolidationResult) -> Iterator[list[Any]]:
    """Every file and every register entry, in register order first (the office's own list)."""
    i = 0
    placed: set[int] = set()
    missing = {id(e): why for e, why in result.missing}
    covered = {id(e): holder for e, holder in result.covered}
    by_entry: dict[int, list[Source]] = {}
    for s in result.sources:
        if s.entry is not None:
            by_entry.setdefault(id(s.entry), []).append(s)
    rank = {"summed": 0, "strict": 0, "out_of_scope": 0, "unlisted": 0}
    for e in (result.register.entries if result.register else []):
        for s in sorted(by_entry.get(id(e), []), key=lambda s: (rank.get(s.status, 1), s.order)):
            i += 1
            placed.add(id(s))
            yield _board_line(i, s, STATUS[s.status], s.reason, e)
        if id(e) in missing:
            i += 1
            yield _board_line(i, None, STATUS["missing"], missing[id(e)], e)
        elif id(e) in covered:
            i += 1
            yield _board_line(i, None, STATUS["covered"], f"见下级汇总 {covered[id(e)].label()}", e)
    for s in result.sources:
        if id(s) not in placed:
            i += 1
            yield _board_line(i, s, STATUS[s.status], s.reason)


def _finding_cells(ed: Edition) -> dict[tuple[str, str], str]:
    lay = layout_for(ed.key)
    return {(cid.split(".", 1)[0], lay.address(cid, with_sheet=False)): cid for c in ed.cells for cid in [c.id]}


def result_rows(result: ConsolidationResult) -> Iterator[list[Any]]:
    """All findings: the summary's own (linked to its cells), then each unit's (linked to the
    unit's row in 明细 when it was summed; otherwise unit, file and cell are named)."""
    ed = result.edition
    cells = _finding_cells(ed)
    col_of = {cid: len(DETAIL_FIXED) + j for j, cid in enumerate(result.input_ids)}
    detail_row = {id(s): DETAIL_HEAD_ROWS + k for k, s in enumerate(result.included)}

    def line(f: Finding, unit: str, code: str, file: str, link: Link | None) -> list[Any]:
        return [SEVERITY_LABEL.get(f.severity, f.severity), f.rule, f.location, f.row, f.column, f.found, f.expected,
                f.message, f.explanation, unit, code, file, link]

    summary_sheets = {t.sheet for t in ed.tables} | {ed.cover_sheet}
    for f in result.summary_findings:
        first = f.cell.split(":")[0]
        link = Link(f"转到汇总表 {f.sheet}!{first}", f"{quote_sheet(f.sheet)}!{first}") if f.sheet in summary_sheets and first else None
        yield line(f, result.name, result.summary.cover.get("credit_code", ""), "（本汇总表）", link)
    for s in result.sources:
        if s.error or s.status not in USED | {"strict", "unlisted"}:
            continue
        tables = s.sheet_of()
        for f in s.findings:
            link = None
            if id(s) in detail_row:
                cid = cells.get((tables.get(f.sheet, ""), f.cell.split(":")[0]))
                col = col_of.get(cid, 1) if cid else 1
                ref = a1(detail_row[id(s)], col)
                link = Link(f"转到明细 {ref}", f"{quote_sheet(DETAIL_SHEET)}!{ref}")
            yield line(f, s.name, s.cover.get("credit_code", ""), str(s.path), link)


def table_grid(report: Report, table_key: str) -> list[list[Any]]:
    """A report sheet as values: labels where the template prints them, numbers in their cells."""
    lay = layout_for(report.edition_key)
    tl = lay.tables[table_key]
    grid: list[list[Any]] = [[None] * tl.width for _ in range(tl.height)]
    for m in tl.merges:
        grid[m.first_row][m.first_col] = m.text
    for cid, (r, c) in tl.cells.items():
        grid[r][c] = report.raw.get(cid)
    return grid


def summary_sheets(result: ConsolidationResult) -> dict[str, list[list[Any]]]:
    """The summary's sheets as plain values, for the add-in to write into an open workbook:
    the three report tables (template layout), 明细, 报送情况 and 校验结果."""
    ed = result.edition
    out = {t.sheet: table_grid(result.summary, t.key) for t in ed.tables}
    head: list[list[Any]] = [list(r) for r in detail_head(ed)[0]]
    out[DETAIL_SHEET] = head + [[_plain(v) for v in row] for row in detail_rows(result)]
    top, _ = board_head(result)
    out[BOARD_SHEET] = top + [list(r) for r in board_rows(result)]
    out[RESULTS_SHEET] = [list(RESULTS_HEADER) + list(RESULT_EXTRA)] + [[_plain(v) for v in r] for r in result_rows(result)]
    return out


# --------------------------------------------------------------------------------------------
# The workbook: headers by xlsxwriter (inside write_report), rows streamed into the XML
# --------------------------------------------------------------------------------------------

@dataclass
class _Stream:
    """Rows to stream into one sheet, starting at 0-based row ``start``."""

    rows: Iterator[list[Any]]
    start: int
    width: int
    styles: dict[int, Any] = field(default_factory=dict)
    links: list[tuple[str, str, str]] = field(default_factory=list)
    link_style: Any = None
    #: Columns whose text wraps, with their widths: each row gets the height its longest needs
    #: (a spreadsheet does not size rows it did not lay out itself).
    wrapped: dict[int, float] = field(default_factory=dict)


def _extra(result: ConsolidationResult, streams: dict[str, _Stream], counts: dict[str, int]) -> Any:
    """The ``extra`` callback of ``write_report``: headers, widths, filters, colours, the chart."""
    ed = result.edition
    password = result.options.password

    def callback(wb: Any, fmt: Any) -> None:
        base = {"font_name": "宋体", "font_size": 10, "valign": "vcenter"}
        title = wb.add_format({**base, "bold": True, "font_size": 14})
        head = wb.add_format({**base, "bold": True, "border": 1, "text_wrap": True, "align": "center", "bg_color": "#D9E1F2"})
        money = wb.add_format({"num_format": "0.0000"})
        link = wb.add_format({"font_color": "blue", "underline": 1})
        red = wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
        yellow = wb.add_format({"bg_color": "#FFEB9C", "font_color": "#9C5700"})
        green = wb.add_format({"bg_color": "#C6EFCE", "font_color": "#006100"})
        protect = {"autofilter": True, "sort": True, "format_columns": True, "format_rows": True,
                   "select_locked_cells": True, "select_unlocked_cells": True}
        wrap = wb.add_format({**base, "text_wrap": True, "valign": "top"})
        # 报送情况
        ws = wb.add_worksheet(BOARD_SHEET)
        top, chart_row = board_head(result)
        heads = (BOARD_HEAD_ROW, chart_row, len(top) - 1)
        width = len(BOARD_HEADER)
        # widths from what the columns hold (the free-text lines and the wrapped headers aside)
        measured = [row for r, row in enumerate(top) if r >= BOARD_NOTES and (r not in heads or r == len(top) - 1)]
        widths = column_widths(chain(measured, board_rows(result)), width, BOARD_FITS)
        wrapped = {BOARD_HEADER.index(name): wrap for name in BOARD_WRAPPED}
        set_widths(ws, widths, formats=wrapped)
        for r, row in enumerate(top):
            if 0 < r < BOARD_NOTES and len(row) == 1:  # a line of text across the page
                ws.merge_range(r, 0, r, width - 1, row[0], wrap)
                ws.set_row(r, row_height(line_count(row[0], sum(widths))))
                continue
            for c, v in enumerate(row):
                style = title if r == 0 else head if r in heads else None
                ws.write(r, c, v, style) if not isinstance(v, str) else ws.write_string(r, c, v, style)
            if r in heads:
                ws.set_row(r, row_height(max(line_count(v, widths[c]) for c, v in enumerate(row))))
        first, last = len(top), len(top) + max(counts[BOARD_SHEET], 1) - 1
        ws.autofilter(len(top) - 1, 0, last, width - 1)
        ws.freeze_panes(len(top), 2)
        status_col = BOARD_HEADER.index("状态")
        for crit, style in (("已汇总", green), ("未", red), ("无法", red), ("不符", red), ("有错误", red), ("重复", yellow), ("范围外", yellow), ("已含", yellow)):
            ws.conditional_format(first, status_col, last, status_col, {"type": "text", "criteria": "containing", "value": crit, "format": style})
        # on paper without the last column (a file's 64-character digest is for checking a copy,
        # not for reading): the rest prints one page wide at a readable size
        setup_page(ws, repeat_rows=(len(top) - 1, len(top) - 1), area=(0, 0, last, width - 2))
        ws.protect(password, protect)
        streams[BOARD_SHEET] = _Stream(board_rows(result), len(top), width, wrapped,
                                       wrapped={c: widths[c] for c in wrapped})
        # 明细
        ws = wb.add_worksheet(DETAIL_SHEET)
        cols = detail_columns(ed)
        fixed = len(DETAIL_FIXED)
        rows, merges = detail_head(ed)
        # a table's name spans all its columns, over several pages: printed at its start
        head_left = wb.add_format({**base, "bold": True, "border": 1, "align": "left", "bg_color": "#D9E1F2"})
        widths = column_widths(detail_rows(result), fixed, DETAIL_FITS) + [DETAIL_NUMBER_WIDTH] * len(cols)
        for r0, c0, r1, c1 in merges:
            ws.merge_range(r0, c0, r1, c1, rows[r0][c0], head_left if r0 == 0 and c0 >= fixed else head)
        merged = {(r0, c0): c1 for r0, c0, r1, c1 in merges if r0 == r1}
        spanned = {(r0, c0) for r0, c0, _, _ in merges}
        for r, row in enumerate(rows):
            lines = 1
            for c, v in enumerate(row):
                if v is None:
                    continue
                if (r, c) not in spanned:
                    ws.write_string(r, c, v, head)
                if c >= fixed:
                    lines = max(lines, line_count(v, sum(widths[c:merged.get((r, c), c) + 1])))
            ws.set_row(r, row_height(lines))
        styles: dict[int, Any] = {}
        set_widths(ws, widths[:fixed])
        for j, (cid, *_rest) in enumerate(cols):
            is_money = ed.cell(cid).kind == "money"
            ws.set_column(fixed + j, fixed + j, DETAIL_NUMBER_WIDTH, money if is_money else None)
            if is_money:
                styles[fixed + j] = money
        n = len(result.included)
        ws.autofilter(DETAIL_HEAD_ROWS - 1, 0, DETAIL_HEAD_ROWS + n - 1, fixed + len(cols) - 1)
        ws.freeze_panes(DETAIL_HEAD_ROWS, 2)
        _detail_pages(ws, widths, cols)
        ws.protect(password, protect)
        streams[DETAIL_SHEET] = _Stream(detail_rows(result), DETAIL_HEAD_ROWS, fixed + len(cols), styles)
        # the chart, on its own sheet
        header, table = type_table(result)
        chart = wb.add_chart({"type": "column", "subtype": "stacked"})
        r1, r2 = chart_row + 1, chart_row + len(table) - 1  # the unit types, without the 合计 row
        first = 2 + len(chart_series(result.edition)[0])  # after 单位类型, 单位数 and the rows received
        for c in range(first, len(header)):  # what became of the applications, stacked
            chart.add_series({"name": [BOARD_SHEET, chart_row, c], "categories": [BOARD_SHEET, r1, 0, r2, 0],
                              "values": [BOARD_SHEET, r1, c, r2, c]})
        new = wb.add_chart({"type": "line"})
        new.add_series({"name": [BOARD_SHEET, chart_row, 2], "categories": [BOARD_SHEET, r1, 0, r2, 0],
                        "values": [BOARD_SHEET, r1, 2, r2, 2], "marker": {"type": "diamond", "size": 8}, "line": {"none": True}})
        chart.combine(new)
        chart.set_title({"name": f"{result.name}{result.year}年度：各类单位收到和处理政府信息公开申请情况",
                         "name_font": {"name": "宋体", "size": 14}})
        chart.set_y_axis({"name": "件"})
        chart.set_legend({"position": "bottom"})
        sheet = wb.add_chartsheet(CHART_SHEET)
        sheet.set_chart(chart)
        setup_chart_page(sheet)
        # 校验结果 (created by write_report, left unprotected for the add-in)
        ws = wb.get_worksheet_by_name(RESULTS_SHEET)
        for j, name in enumerate(RESULT_EXTRA):
            ws.write_string(0, len(RESULTS_HEADER) + j, name, fmt.header)
        n_found = counts[RESULTS_SHEET]
        width = len(RESULTS_HEADER) + len(RESULT_EXTRA)
        # the template's page setup (landscape, one page wide, header repeated) stays; widths
        # follow what the findings hold
        results_wrapped = {j: wrap for j in RESULTS_WRAPPED}
        header = [*RESULTS_HEADER, *RESULT_EXTRA]
        widths = column_widths(chain([header], ([_plain(v) for v in row] for row in result_rows(result))), width,
                               RESULTS_FITS)
        set_widths(ws, widths, formats={**results_wrapped, width - 1: link})
        ws.set_row(0, row_height(max(line_count(h, w) for h, w in zip(header, widths))))
        ws.autofilter(0, 0, max(n_found, 1), width - 1)
        ws.freeze_panes(1, 0)
        ws.conditional_format(1, 0, max(n_found, 1), 0, {"type": "cell", "criteria": "==", "value": '"错误"', "format": red})
        ws.conditional_format(1, 0, max(n_found, 1), 0, {"type": "cell", "criteria": "==", "value": '"提示"', "format": yellow})
        streams[RESULTS_SHEET] = _Stream(result_rows(result), 1, width, results_wrapped, link_style=link,
                                         wrapped={c: widths[c] for c in results_wrapped})

    return callback


def _detail_pages(ws: Any, widths: list[float], cols: list[tuple[str, str, str, str, str]]) -> None:
    """明细 on paper: landscape pages at ``DETAIL_SCALE``, the header rows and the unit's number and
    name on every page, and the number columns cut into pages only between the rows of a table
    (a row's columns — 自然人 … 其他 — stay on one page under their label). The first page holds
    who handed in which file; units follow one another across the pages (over, then down)."""
    fixed = len(DETAIL_FIXED)
    groups: list[tuple[int, int]] = [(c, c) for c in range(2, fixed)]
    for j, (_, part, row, *_rest) in enumerate(cols):
        if groups[-1][1] == fixed + j - 1 and j and (cols[j - 1][1], cols[j - 1][2]) == (part, row):
            groups[-1] = (groups[-1][0], fixed + j)
        else:
            groups.append((fixed + j, fixed + j))
    budget = LANDSCAPE_UNITS * 100 / DETAIL_SCALE - widths[0] - widths[1]
    ws.set_v_pagebreaks(column_pages(widths, groups, budget))
    ws.set_print_scale(DETAIL_SCALE)
    ws.print_across()
    setup_page(ws, fit_width=False, center=False, repeat_rows=(0, DETAIL_HEAD_ROWS - 1), repeat_columns=(0, 1))


def _text_xml(ref: str, text: str, style: str) -> str:
    text = xml_text(text, "\ufffd")[:32767].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<c r="{ref}"{style} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _rows_xml(stream: _Stream) -> Iterator[str]:
    """The rows as sheet XML (numbers as numbers, text as inline strings, our SUMs with their
    results); links are collected for the <hyperlinks> element. Hot loop: kept flat."""
    letters = [col_letter(c) for c in range(stream.width)]
    xf = [f' s="{stream.styles[c].xf_index}"' if c in stream.styles and stream.styles[c].xf_index else ""
          for c in range(stream.width)]
    link_xf = f' s="{stream.link_style.xf_index}"' if stream.link_style is not None and stream.link_style.xf_index else ""
    links = stream.links
    wrapped = [(c, w) for c, w in stream.wrapped.items() if c < stream.width]
    for r, row in enumerate(stream.rows, start=stream.start + 1):
        rs = str(r)
        lines = max((line_count(row[c], w) for c, w in wrapped if c < len(row) and isinstance(row[c], str)), default=1)
        parts = [f'<row r="{rs}" ht="{row_height(lines)}" customHeight="1">' if lines > 1 else f'<row r="{rs}">']
        for c, v in enumerate(row):
            t = type(v)
            if t is float:
                if v == v:
                    parts.append(f'<c r="{letters[c]}{rs}"{xf[c]}><v>{v!r}</v></c>')
            elif v is None:
                continue
            elif t is int:
                parts.append(f'<c r="{letters[c]}{rs}"{xf[c]}><v>{v}</v></c>')
            elif t is Formula:
                parts.append(f'<c r="{letters[c]}{rs}"{xf[c]}><f>{v.formula}</f><v>{v.value!r}</v></c>')
            elif t is Link:
                links.append((letters[c] + rs, v.location, v.text))
                parts.append(_text_xml(letters[c] + rs, v.text, link_xf))
            else:
                parts.append(_text_xml(letters[c] + rs, str(v), xf[c]))
        parts.append("</row>")
        yield "".join(parts)


_TAIL_AFTER_LINKS = re.compile(r"<printOptions|<pageMargins|<pageSetup|<headerFooter|<rowBreaks|<colBreaks|<drawing|"
                               r"<legacyDrawing|<picture|<tableParts|<extLst|</worksheet>")


def _write_sheet(w: Any, xml: str, stream: _Stream, count: int) -> None:
    """Copy a sheet's XML, inserting the streamed rows, the exact dimension and the hyperlinks."""
    last = max(stream.start + count, 1)
    xml = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{col_letter(stream.width - 1)}{last}"/>', xml, count=1)
    if "</sheetData>" in xml:
        head, tail = xml.split("</sheetData>", 1)
    else:
        head, tail = xml.split("<sheetData/>", 1)
        head += "<sheetData>"
    w.write(head.encode("utf-8"))
    batch: list[str] = []
    for row in _rows_xml(stream):
        batch.append(row)
        if len(batch) >= 256:
            w.write("".join(batch).encode("utf-8"))
            batch.clear()
    w.write(("".join(batch) + "</sheetData>").encode("utf-8"))
    if stream.links:
        at = _TAIL_AFTER_LINKS.search(tail)
        pos = at.start() if at else len(tail)
        links = "".join(f"<hyperlink ref={quoteattr(ref)} location={quoteattr(loc)} display={quoteattr(text)}/>"
                        for ref, loc, text in stream.links)
        tail = f"{tail[:pos]}<hyperlinks>{links}</hyperlinks>{tail[pos:]}"
    w.write(tail.encode("utf-8"))


def splice(stage: Path, target: Path, streams: dict[str, _Stream], counts: dict[str, int]) -> None:
    """Copy the package at ``stage`` to ``target``, streaming the rows into the named sheets."""
    with zipfile.ZipFile(stage) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        parts = {part: name for name, part in sheet_parts(zin).items() if name in streams}
        for item in zin.infolist():
            data = zin.read(item.filename)
            name = parts.get(item.filename)
            if name is None:
                zout.writestr(item, data)
                continue
            info = zipfile.ZipInfo(item.filename, date_time=item.date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            for attr in ("compress_level", "_compresslevel"):  # 3.13 renamed it; level 1: 3× faster, ~15 % larger
                if attr in dir(info):
                    setattr(info, attr, 1)
                    break
            with zout.open(info, "w") as w:
                _write_sheet(w, data.decode("utf-8"), streams[name], counts[name])


def write_summary(result: ConsolidationResult, path: Path) -> Path:
    """Write the summary workbook atomically: a crash at any point leaves the previous file (if
    any) untouched and no partial file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    streams: dict[str, _Stream] = {}
    counts = {DETAIL_SHEET: len(result.included) + 1, BOARD_SHEET: sum(1 for _ in board_rows(result)),
              RESULTS_SHEET: sum(1 for _ in result_rows(result))}
    opts = BuildOptions(derived="value", password=result.options.password)
    with tempfile.TemporaryDirectory(prefix=".~nianbao-", dir=path.parent) as tmp:
        stage = write_report(result.summary, Path(tmp) / "summary.xlsx", opts, extra=_extra(result, streams, counts))
        with atomic_path(path) as out:
            splice(stage, out, streams, counts)
    return path


# --------------------------------------------------------------------------------------------
# Long format (CSV / JSON) and reading a summary's 明细 back (for --previous)
# --------------------------------------------------------------------------------------------

LONG_FIELDS = (("unit", "单位"), ("code", "统一社会信用代码"), ("unit_type", "单位类型"), ("file", "文件"),
               ("sha256", "文件 sha256"), ("year", "年度"), ("part", "部分"), ("block", "分组"), ("row", "行"),
               ("column", "列"), ("cell", "编号"), ("address", "位置"), ("role", "类别"), ("value", "值"))


def _labels(ed: Edition) -> list[tuple[str, str, str, str, str, str, str]]:
    """Per cell, in the spec's order: the export's long-format labels (part, block, row, column,
    cell id, address in the summary) and whether the number was entered or is a recomputed total."""
    lay = layout_for(ed.key)
    out = []
    for c in ed.cells:
        table = ed.table(c.table)
        block = table.block(c.block)
        col = block.column(c.col)
        out.append((table.title, block.title or "", "·".join(block.row(c.row).path), "·".join((*col.path[:-1], col.header)),
                    c.id, lay.address(c.id), "填报" if c.role == "input" else "合计（重新计算）"))
    return out


def long_rows(result: ConsolidationResult) -> Iterator[list[Any]]:
    """One row per summed unit × cell (inputs as summed, totals recomputed), then the summary's."""
    ed = result.edition
    derived, D = derivation(ed.key)
    position = {cid: k for k, cid in enumerate(list(result.input_ids) + list(derived))}
    order = [position[c.id] for c in ed.cells]
    labels = _labels(ed)
    year = str(result.year)
    for s, values in zip(result.included, result.detail):
        full = np.concatenate([values, np.nan_to_num(values) @ D]).tolist()
        head = [s.name, s.cover.get("credit_code", ""), s.unit_type, str(s.path), s.sha256, year]
        for k, lab in zip(order, labels):
            yield [*head, *lab, None if full[k] != full[k] else full[k]]
    out = result.output
    head = [result.name, result.summary.cover.get("credit_code", ""), f"汇总（{result.scope_label}）",
            str(out) if out else "", _sha(out) if out else "", year]
    for c, lab in zip(ed.cells, labels):
        yield [*head, *lab, result.summary.raw[c.id]]


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_long(result: ConsolidationResult, path: Path, fmt: str) -> Path:
    """The long format beside the summary, shaped like the single-report export (``nianbao export
    --to csv/json``) plus the unit columns: CSV (UTF-8 with BOM, for Excel) or JSON."""
    with atomic_path(Path(path)) as tmp, open(tmp, "w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") as fh:
        if fmt == "csv":
            writer = csv.writer(fh, lineterminator="\r\n")
            writer.writerow([zh for _, zh in LONG_FIELDS])
            for row in long_rows(result):
                *text, value = row
                writer.writerow([neutralise(v) for v in text] + ["" if value is None else format_number(float(value))])
        else:
            meta = {"title": f"{result.name}{result.year}年度政府信息公开工作年度报告汇总", "unit": result.name,
                    "year": result.year, "edition": result.edition.key, "edition_name": result.edition.name,
                    "source": "summary", "scope": result.options.scope, "units": len(result.included),
                    "file": str(result.output or "")}
            fh.write(json.dumps(meta, ensure_ascii=False)[:-1] + ', "records": [\n')
            keys = [k for k, _ in LONG_FIELDS]
            for i, row in enumerate(long_rows(result)):
                fh.write((",\n" if i else "") + json.dumps(dict(zip(keys, row)), ensure_ascii=False))
            fh.write("\n]}\n")
    return Path(path)


__all__ = ["BOARD_SHEET", "CHART_SHEET", "DETAIL_SHEET", "board_rows", "chart_series", "detail_rows", "long_rows", "neutralise",
           "result_rows", "summary_sheets", "table_grid", "write_long", "write_summary"]
