"""Where everything sits in the workbook, computed from the spec.

The template builder, the reader, the checks (for cell addresses in findings) and the add-in all
ask this module for positions, so an address is never written by hand. Coordinates are 0-based
(row, column) internally; ``a1`` renders them the way Excel shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Iterator, Mapping

from .spec import Edition, Line, Table, cell_id, load_edition

META_SHEET = "_meta"
CHECK_SHEET = "_checks"
NOTES_SHEET = "说明"
RESULTS_SHEET = "校验结果"
TEMPLATE_VERSION = "2"
NOTES_ROWS = 40
NOTES_HEADER = ("规则编号", "单元格", "说明（保留提示时填写理由）")
TABLE_TOP = 2  # rows above the header: the title row and a blank row


def col_letter(col: int) -> str:
    """0-based column index → Excel letters (0 → A, 26 → AA)."""
    s = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        s = chr(65 + rem) + s
    return s


def a1(row: int, col: int, absolute: bool = False) -> str:
    d = "$" if absolute else ""
    return f"{d}{col_letter(col)}{d}{row + 1}"


def quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


@dataclass(frozen=True)
class Merge:
    """A header or label rectangle (inclusive coordinates) and its text."""

    first_row: int
    first_col: int
    last_row: int
    last_col: int
    text: str


@dataclass(frozen=True)
class TableLayout:
    """A table's sheet: title, header and label rectangles, and every number cell's position."""

    table: Table
    width: int
    height: int
    header_rows: tuple[int, ...]
    merges: tuple[Merge, ...]
    cells: Mapping[str, tuple[int, int]]


@dataclass(frozen=True)
class CoverLayout:
    """Cover sheet positions: the value cell of each field and of each text part."""

    fields: Mapping[str, tuple[int, int]]
    texts: Mapping[str, tuple[int, int]]
    label_col: int = 0
    value_col: int = 1


@dataclass(frozen=True)
class Layout:
    edition: Edition
    cover: CoverLayout
    tables: Mapping[str, TableLayout]

    def sheet_of(self, cid: str) -> str:
        return self.edition.table(cid.split(".", 1)[0]).sheet

    def pos(self, cid: str) -> tuple[int, int]:
        return self.tables[cid.split(".", 1)[0]].cells[cid]

    def address(self, cid: str, with_sheet: bool = True) -> str:
        """The A1 address of a cell, e.g. ``三、依申请公开!E29``."""
        r, c = self.pos(cid)
        return f"{self.sheet_of(cid)}!{a1(r, c)}" if with_sheet else a1(r, c)


def _header_merges(paths: list[tuple[str, ...]], depth: int, offset_line: int, offset_level: int,
                   transpose: bool) -> Iterator[Merge]:
    """Merged header rectangles for a tree of labels given as paths (one per leaf line).

    A group of adjacent lines sharing a label at one level becomes one rectangle along the lines;
    a line whose path ends early spans the remaining levels. ``transpose`` lays the levels out as
    columns (row labels) instead of rows (column headers).
    """
    for level in range(depth):
        i = 0
        while i < len(paths):
            if len(paths[i]) <= level:
                i += 1
                continue
            j = i
            while j + 1 < len(paths) and len(paths[j + 1]) > level and paths[j + 1][: level + 1] == paths[i][: level + 1]:
                j += 1
            leaf = len(paths[i]) == level + 1 and i == j
            last_level = depth - 1 if leaf else level
            a, b = offset_line + i, offset_line + j
            lo, hi = offset_level + level, offset_level + last_level
            if transpose:
                yield Merge(a, lo, b, hi, paths[i][level])
            else:
                yield Merge(lo, a, hi, b, paths[i][level])
            i = j + 1


def _grid_layout(table: Table) -> TableLayout:
    """Parts 三 and 四: one block, label columns on the left, a header tree on top."""
    block = table.blocks[0]
    label_cols = max(len(r.path) for r in block.rows)
    header_depth = max(len(c.path) for c in block.columns)
    top = TABLE_TOP
    first_data = top + header_depth
    merges: list[Merge] = [Merge(0, 0, 0, label_cols + len(block.columns) - 1, table.title)]
    merges += _header_merges([c.path for c in block.columns], header_depth, label_cols, top, False)
    merges += _header_merges([r.path for r in block.rows], label_cols, first_data, 0, True)
    if label_cols:
        merges.append(Merge(top, 0, first_data - 1, label_cols - 1, table.corner))
    cells = {
        cell_id(table.key, block.key, row.key, col.key): (first_data + i, label_cols + j)
        for i, row in enumerate(block.rows)
        for j, col in enumerate(block.columns)
    }
    return TableLayout(table, label_cols + len(block.columns), first_data + len(block.rows),
                       tuple(range(top, first_data)), tuple(merges), cells)


def _blocks_layout(table: Table) -> TableLayout:
    """Part 二: blocks one under another, each with its title row and its own column headers.

    A block narrower than the widest one has its last column stretched to the full width, as the
    published tables do.
    """
    width = 1 + max(len(b.columns) for b in table.blocks)
    merges: list[Merge] = [Merge(0, 0, 0, width - 1, table.title)]
    cells: dict[str, tuple[int, int]] = {}
    header_rows: list[int] = []
    r = TABLE_TOP
    for block in table.blocks:
        merges.append(Merge(r, 0, r, width - 1, block.title or ""))
        merges.append(Merge(r + 1, 0, r + 1, 0, table.corner))
        header_rows.append(r + 1)
        for j, col in enumerate(block.columns):
            last = width - 1 if j == len(block.columns) - 1 else 1 + j
            merges.append(Merge(r + 1, 1 + j, r + 1, last, col.header))
        for i, row in enumerate(block.rows):
            merges.append(Merge(r + 2 + i, 0, r + 2 + i, 0, row.label))
            for j, col in enumerate(block.columns):
                cells[cell_id(table.key, block.key, row.key, col.key)] = (r + 2 + i, 1 + j)
        r += 2 + len(block.rows)
    return TableLayout(table, width, r, tuple(header_rows), tuple(merges), cells)


def stretch(tl: TableLayout, cid: str) -> int:
    """The last column a number cell spans (Part 二's narrow blocks stretch to the full width)."""
    r, c = tl.cells[cid]
    right = [k for k, (rr, cc) in tl.cells.items() if rr == r and cc > c]
    return c if right or tl.table.key != "part2" else tl.width - 1


@cache
def layout_for(edition_key: str) -> Layout:
    """The layout of an edition's workbook (cached)."""
    ed = load_edition(edition_key)
    fields = {f.key: (2 + i, 1) for i, f in enumerate(ed.cover)}
    first_text = 3 + len(ed.cover)
    texts = {t.key: (first_text + 2 * i + 1, 0) for i, t in enumerate(ed.texts)}
    tables = {t.key: (_blocks_layout(t) if len(t.blocks) > 1 or t.blocks[0].title else _grid_layout(t)) for t in ed.tables}
    return Layout(ed, CoverLayout(fields, texts), tables)


def lines_of(table: Table) -> Iterator[tuple[str, Line, Line]]:
    """(block key, row, column) for every number cell of a table, in spec order."""
    for block in table.blocks:
        for row in block.rows:
            for col in block.columns:
                yield block.key, row, col
