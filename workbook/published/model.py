"""What a published report looks like once its file format is gone: paragraphs, tables, images.

Every reader (plain text, HTML, Word) turns its file into a ``Document`` of these few items, so
that finding the title, the six parts and the table cells is written once, in ``place``. Each
item keeps where it came from (a line number, or a table/row in a Word file), because whatever
cannot be placed must be reported at the place a person can find it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Union


@dataclass(frozen=True)
class Para:
    """One paragraph (or one line of a text file); ``text`` as published, blank lines included."""

    text: str
    where: str


@dataclass(frozen=True)
class TCell:
    """One table cell as published. ``col`` is its first grid column and ``span`` how many it
    covers when the source has real geometry (HTML, Word); both are ``None``/1 for text dumps,
    whose cells carry no positions (merged cells simply vanish from a dump)."""

    text: str
    where: str
    col: int | None = None
    span: int = 1
    origin_row: bool = True

    @property
    def last_col(self) -> int | None:
        return None if self.col is None else self.col + self.span - 1


@dataclass(frozen=True)
class TRow:
    cells: tuple[TCell, ...]
    where: str


@dataclass
class Table:
    """A table: rows of cells. ``grid`` says whether cell positions are real (see ``TCell``)."""

    rows: list[TRow]
    grid: bool
    where: str


@dataclass(frozen=True)
class Image:
    """A picture (or a note such as “（表格略）”) standing where content should be."""

    what: str
    where: str


Item = Union[Para, Table, Image]


@dataclass
class Document:
    """A published report reduced to its items, in reading order."""

    path: Path
    kind: str
    items: list[Item] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    encoding: str = ""


@dataclass(frozen=True)
class SpanCell:
    """A cell as a source with merges states it: text and its row/column span (HTML, Word)."""

    text: str
    where: str
    rowspan: int = 1
    colspan: int = 1


#: What a table of the report can span, with a wide margin: Part 三 prints ~35 rows (with its
#: header) and 10 columns, Part 四 15 columns. Spans are cut to these, and a table whose grid
#: would hold more cells is not read as a report table (a layout or data dump around it).
MAX_ROWSPAN = 100
MAX_COLSPAN = 60
MAX_GRID = 20_000


class TooLarge(ValueError):
    """A table far larger than any report table; the message is for the import log."""


def expand(rows: list[list[SpanCell]], where: list[str], table_where: str) -> Table:
    """Lay cells with rowspan/colspan out on a grid, as a browser does.

    A cell covering several rows is repeated in each (with ``origin_row`` False below its first
    row): its label still gives context to the rows it spans, but its number is counted once.
    Raises ``TooLarge`` when the grid would exceed ``MAX_GRID`` cells (spans are cut first to
    ``MAX_ROWSPAN`` × ``MAX_COLSPAN``), so a hostile page costs a bounded amount of memory.
    """
    if len(rows) > MAX_GRID:
        raise TooLarge(f"表格有 {len(rows)} 行，远超年报表格")
    taken: dict[tuple[int, int], tuple[SpanCell, int, int]] = {}
    for r, row in enumerate(rows):
        c = 0
        for cell in row:
            while (r, c) in taken:
                c += 1
            rs = max(1, min(cell.rowspan, MAX_ROWSPAN, len(rows) - r))
            cs = max(1, min(cell.colspan, MAX_COLSPAN))
            if len(taken) + rs * cs > MAX_GRID or c + cs > MAX_GRID:
                raise TooLarge(f"表格的单元格超过 {MAX_GRID} 个，远超年报表格")
            for i in range(rs):
                for j in range(cs):
                    taken[(r + i, c + j)] = (cell, r, c)
            c += cs
    by_row: list[list[int]] = [[] for _ in rows]
    for (rr, c) in taken:
        by_row[rr].append(c)
    out: list[TRow] = []
    for r in range(len(rows)):
        cells: list[TCell] = []
        seen: set[int] = set()
        for c in sorted(by_row[r]):
            cell, r0, c0 = taken[(r, c)]
            if id(cell) in seen:
                continue
            seen.add(id(cell))
            cells.append(TCell(cell.text, cell.where, c0, min(cell.colspan, MAX_COLSPAN), r0 == r))
        out.append(TRow(tuple(cells), where[r] if r < len(where) else table_where))
    return Table(out, True, table_where)


@dataclass(frozen=True)
class Note:
    """One line of the import log: something normalised (``problem`` False) or left out (True).

    ``kind`` is a stable slug (title, edition, label, value, blank, header, unplaced, ambiguous,
    count, missing, image, conflict, ignored); ``found`` is the published text, ``detail`` says in
    Chinese what was done or why it was not placed; ``cell`` is the cell id when there is one.
    """

    kind: str
    where: str
    found: str
    detail: str
    cell: str = ""
    problem: bool = False

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "where": self.where, "found": self.found, "detail": self.detail,
                "cell": self.cell or None, "problem": self.problem}
