"""Cells with boxes (a PDF's ruled table) laid out on a grid of rows and columns.

A PDF states no rows or columns, only where each cell's borders are. The distinct left/right
borders of all cells are the column lines and the distinct top/bottom borders the row lines
(borders a hair apart are one line); a cell then covers the grid columns and rows between its
borders — exactly how ``model.expand`` lays out an HTML or Word table, so the same placing code
reads all three. A cell that covers several rows appears in each with ``origin_row`` False below
its first, as there.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from .model import TCell, TRow

SNAP = 2.5  # points: borders closer than this are the same grid line
MAX_LINES = 400  # grid lines per direction; a report table has a few dozen


@dataclass(frozen=True)
class Placed:
    """A cell's box in table coordinates (y grows down the pages) and its text."""

    x0: float
    top: float
    x1: float
    bottom: float
    text: str
    where: str


def snap_lines(values: list[float], tolerance: float = SNAP) -> list[float]:
    """Distinct positions, merging those within ``tolerance`` of the previous kept one."""
    out: list[float] = []
    for v in sorted(values):
        if not out or v - out[-1] > tolerance:
            out.append(v)
    return out[:MAX_LINES]


def _index(lines: list[float], v: float) -> int:
    """The grid line nearest ``v``."""
    i = bisect_left(lines, v)
    if i >= len(lines):
        return len(lines) - 1
    if i > 0 and v - lines[i - 1] < lines[i] - v:
        return i - 1
    return i


@dataclass
class Grid:
    """The rows of a laid-out table, and for each row the index of the grid line above it."""

    rows: list[TRow]
    tops: list[float]
    xs: list[float]
    sources: list[list[Placed]]


def layout(cells: list[Placed]) -> Grid:
    """Rows of ``TCell`` with grid columns and spans, from cells with boxes."""
    xs = snap_lines([c.x0 for c in cells] + [c.x1 for c in cells])
    ys = snap_lines([c.top for c in cells] + [c.bottom for c in cells])
    spans: list[tuple[int, int, int, int, Placed]] = []
    for c in cells:
        c0, c1 = _index(xs, c.x0), _index(xs, c.x1)
        r0, r1 = _index(ys, c.top), _index(ys, c.bottom)
        if c1 <= c0 or r1 <= r0:
            continue
        spans.append((r0, r1, c0, c1, c))
    n_rows = max(0, len(ys) - 1)
    by_row: list[list[tuple[int, int, int, Placed]]] = [[] for _ in range(n_rows)]
    for r0, r1, c0, c1, c in spans:
        for r in range(r0, r1):
            by_row[r].append((c0, c1, r0, c))
    rows: list[TRow] = []
    tops: list[float] = []
    sources: list[list[Placed]] = []
    for r, found in enumerate(by_row):
        if not found:
            continue
        found.sort(key=lambda x: x[0])
        cells_ = tuple(TCell(c.text, c.where, c0, c1 - c0, r0 == r) for c0, c1, r0, c in found)
        where = next((c.where for c0, c1, r0, c in found if r0 == r), found[0][3].where)
        rows.append(TRow(cells_, where))
        tops.append(ys[r])
        sources.append([c for _, _, _, c in found])
    return Grid(rows, tops, xs, sources)


__all__ = ["Grid", "Placed", "layout", "snap_lines"]
