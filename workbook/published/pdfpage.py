"""One PDF page as positioned text: lines of glyphs outside tables, and ruled tables by cell.

PDFs of annual reports are printed by WPS, Word or LibreOffice: text is a stream of positioned
glyphs and a table is a set of ruling lines, nothing more. pdfium (``pypdfium2``, C++) reads the
glyphs and the path objects about twenty times faster than a pure-Python content-stream parser —
an audit reads hundreds of reports — and pdfplumber's ``TableFinder`` turns the ruling lines into
cells (merged cells included). Each glyph is then put into the cell whose box holds its centre,
so a cell's text is exactly what was printed inside its borders, line breaks included.

Everything is bounded before it is built: pages, glyphs and line segments per page, and the
edges handed to the table finder (whose intersection step is quadratic).
"""

from __future__ import annotations

import ctypes
import math
from bisect import bisect_right
from dataclasses import dataclass, field
from statistics import median
from typing import Any, Iterable

MAX_GLYPHS = 60_000  # per page; a report page holds about 1,500
MAX_SEGMENTS = 40_000  # path segments read per page (a chart or a vector logo can hold many)
MAX_EDGES = 800  # ruling lines handed to the table finder, per direction (a report page has ~60)
MIN_EDGE = 3.0  # points; shorter strokes are glyph parts or dots, not rules


class PageLimit(ValueError):
    """A page holds far more than any report page; the message is for the office."""


@dataclass(frozen=True)
class Glyph:
    ch: str
    x0: float
    x1: float
    top: float
    bottom: float

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def height(self) -> float:
        return self.bottom - self.top


@dataclass
class Segment:
    """A run of glyphs on a line with no wide gap inside (a column of a borderless table)."""

    text: str
    x0: float
    x1: float


@dataclass
class Line:
    """One printed line: its text (a space where the glyphs stand apart), box and segments."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float
    segments: list[Segment] = field(default_factory=list)


@dataclass
class Box:
    """A table cell: its box on the page and the text printed inside it."""

    x0: float
    top: float
    x1: float
    bottom: float
    text: str = ""
    lines: list[Line] = field(default_factory=list)


@dataclass
class Piece:
    """The part of a ruled table that stands on one page."""

    x0: float
    top: float
    x1: float
    bottom: float
    cells: list[Box]


@dataclass
class Page:
    number: int
    width: float
    height: float
    lines: list[Line]
    pieces: list[Piece]
    images: list[tuple[float, float, float, float]]
    glyphs: int
    unmapped: int


# --- glyphs and lines ------------------------------------------------------------------------------

def lines_of(glyphs: list[Glyph], split_gap: float | None = 1.6) -> list[Line]:
    """Group glyphs into lines (by vertical overlap), left to right; a gap wider than a third of
    the glyph height becomes a space, one wider than ``split_gap`` heights starts a segment."""
    if not glyphs:
        return []
    glyphs = sorted(glyphs, key=lambda g: (g.cy, g.x0))
    groups: list[list[Glyph]] = []
    top = bottom = -math.inf
    for g in glyphs:
        # joins the line when it shares at least half the height of the lower of the two: a
        # quote mark printed high, or a thin “一”, stays on its line; stacked characters do not
        overlap = min(bottom, g.bottom) - max(top, g.top)
        if groups and overlap >= 0.5 * min(bottom - top, g.height):
            groups[-1].append(g)
            top, bottom = min(top, g.top), max(bottom, g.bottom)
        else:
            groups.append([g])
            top, bottom = g.top, g.bottom
    out = [_line(sorted(group, key=lambda g: g.x0), split_gap) for group in groups]
    return sorted(out, key=lambda ln: (ln.top, ln.x0))


def _line(glyphs: list[Glyph], split_gap: float | None) -> Line:
    size = median(g.height for g in glyphs) or 1.0
    segments: list[Segment] = []
    parts: list[str] = []
    start = glyphs[0].x0
    prev: Glyph | None = None
    for g in glyphs:
        if prev is not None:
            gap = g.x0 - prev.x1
            if split_gap is not None and gap > split_gap * size:
                segments.append(Segment("".join(parts), start, prev.x1))
                parts, start = [], g.x0
            elif gap > size or (gap > size / 4 and (_latin(prev.ch) or _latin(g.ch))):
                parts.append(" ")
        parts.append(g.ch)
        prev = g
    segments.append(Segment("".join(parts), start, glyphs[-1].x1))
    text = "  ".join(s.text for s in segments)
    return Line(text, glyphs[0].x0, max(g.x1 for g in glyphs), min(g.top for g in glyphs),
                max(g.bottom for g in glyphs), size, segments)


def _latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


# --- ruling lines and tables -----------------------------------------------------------------------

def _edge(x0: float, top: float, x1: float, bottom: float, orientation: str) -> dict[str, Any]:
    return {"x0": x0, "x1": x1, "top": top, "bottom": bottom, "width": x1 - x0, "height": bottom - top,
            "orientation": orientation, "object_type": "line"}


def edges_from(segments: Iterable[tuple[float, float, float, float]]) -> list[dict[str, Any]]:
    """Axis-parallel strokes (in top-down page coordinates) as pdfplumber edges."""
    h: list[dict[str, Any]] = []
    v: list[dict[str, Any]] = []
    for x0, y0, x1, y1 in segments:
        if abs(y1 - y0) < 1.0 and abs(x1 - x0) >= MIN_EDGE:
            y = (y0 + y1) / 2
            h.append(_edge(min(x0, x1), y, max(x0, x1), y, "h"))
        elif abs(x1 - x0) < 1.0 and abs(y1 - y0) >= MIN_EDGE:
            x = (x0 + x1) / 2
            v.append(_edge(x, min(y0, y1), x, max(y0, y1), "v"))
    # keep the longest when a page has more than any table needs (hatching, charts)
    h = sorted(h, key=lambda e: -e["width"])[:MAX_EDGES]
    v = sorted(v, key=lambda e: -e["height"])[:MAX_EDGES]
    return h + v


class _EdgePage:
    """What pdfplumber's table finder reads of a page with the "lines" strategy."""

    def __init__(self, edges: list[dict[str, Any]], width: float, height: float) -> None:
        self.edges = edges
        self.bbox = (0.0, 0.0, width, height)


def _cells(intersections: dict[tuple[float, float], dict[str, list[dict[str, Any]]]]) -> list[tuple[float, ...]]:
    """pdfplumber's ``intersections_to_cells`` — for each crossing, the smallest rectangle whose
    four sides are ruled — with the points below and to the right of each crossing looked up
    by column and row instead of scanning every point (the same cells, a fraction of the time)."""
    def bbox(e: dict[str, Any]) -> tuple[float, float, float, float]:
        return (e["x0"], e["top"], e["x1"], e["bottom"])

    v = {p: {bbox(e) for e in d["v"]} for p, d in intersections.items()}
    h = {p: {bbox(e) for e in d["h"]} for p, d in intersections.items()}
    by_x: dict[float, list[tuple[float, float]]] = {}
    by_y: dict[float, list[tuple[float, float]]] = {}
    for p in sorted(intersections):
        by_x.setdefault(p[0], []).append(p)
        by_y.setdefault(p[1], []).append(p)

    def down(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return bool(v[a] & v[b])

    def across(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return bool(h[a] & h[b])

    out: list[tuple[float, ...]] = []
    for pt in sorted(intersections):
        below = [q for q in by_x[pt[0]] if q[1] > pt[1]]
        right = [q for q in by_y[pt[1]] if q[0] > pt[0]]
        found = None
        for b in below:
            if not down(pt, b):
                continue
            for r in right:
                if not across(pt, r):
                    continue
                corner = (r[0], b[1])
                if corner in intersections and down(r, corner) and across(b, corner):
                    found = (pt[0], pt[1], corner[0], corner[1])
                    break
            if found:
                break
        if found:
            out.append(found)
    return out


def find_pieces(edges: list[dict[str, Any]], width: float, height: float) -> list[Piece]:
    """Ruled tables as cell boxes: pdfplumber's edge merging, crossings and grouping of cells
    into tables (its "lines" strategy), with ``_cells`` for the cells."""
    if not edges:
        return []
    from pdfplumber.table import TableFinder, TableSettings, cells_to_tables, edges_to_intersections

    settings = TableSettings.resolve({"vertical_strategy": "lines", "horizontal_strategy": "lines"})
    finder = TableFinder.__new__(TableFinder)
    finder.page, finder.settings = _EdgePage(edges, width, height), settings  # type: ignore[assignment]
    merged = finder.get_edges()
    crossings = edges_to_intersections(merged, settings.intersection_x_tolerance, settings.intersection_y_tolerance)
    out = []
    for group in cells_to_tables(_cells(crossings)):
        cells = [Box(*c) for c in group]
        if cells:
            out.append(Piece(min(c.x0 for c in cells), min(c.top for c in cells), max(c.x1 for c in cells),
                             max(c.bottom for c in cells), cells))
    return out


class _CellIndex:
    """Finds the cell holding a point by bisecting the table's column and row edges."""

    def __init__(self, pieces: list[Piece]) -> None:
        self.pieces = pieces
        self.grids = []
        for p in pieces:
            xs = sorted({round(c.x0, 1) for c in p.cells} | {round(c.x1, 1) for c in p.cells})
            ys = sorted({round(c.top, 1) for c in p.cells} | {round(c.bottom, 1) for c in p.cells})
            slots: dict[tuple[int, int], int] = {}
            for k, c in enumerate(p.cells):
                c0, c1 = bisect_right(xs, round(c.x0, 1)) - 1, bisect_right(xs, round(c.x1, 1)) - 1
                r0, r1 = bisect_right(ys, round(c.top, 1)) - 1, bisect_right(ys, round(c.bottom, 1)) - 1
                if (c1 - c0) * (r1 - r0) > 10_000:
                    continue
                for r in range(r0, r1):
                    for c_ in range(c0, c1):
                        slots[(r, c_)] = k
            self.grids.append((xs, ys, slots))

    def find(self, g: Glyph) -> tuple[int, int] | None:
        """(piece, cell) whose box holds the glyph's centre; (piece, -1) inside a table but in
        no cell; None outside every table."""
        for i, p in enumerate(self.pieces):
            if p.x0 - 1 <= g.cx <= p.x1 + 1 and p.top - 1 <= g.cy <= p.bottom + 1:
                xs, ys, slots = self.grids[i]
                c = bisect_right(xs, g.cx) - 1
                r = bisect_right(ys, g.cy) - 1
                return i, slots.get((r, c), -1)
        return None


# --- pdfium ----------------------------------------------------------------------------------------

def _matrix(obj: Any) -> tuple[float, ...]:
    import pypdfium2.raw as raw

    m = raw.FS_MATRIX()
    if not raw.FPDFPageObj_GetMatrix(obj, ctypes.byref(m)):
        return (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    return (m.a, m.b, m.c, m.d, m.e, m.f)


def _compose(inner: tuple[float, ...], outer: tuple[float, ...]) -> tuple[float, ...]:
    a, b, c, d, e, f = inner
    A, B, C, D, E, F = outer
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


class _Paths:
    """Collects the straight strokes of a page's path objects (forms entered, curves skipped)."""

    def __init__(self, height: float) -> None:
        self.height = height
        self.segments: list[tuple[float, float, float, float]] = []
        self.count = 0
        self.images: list[tuple[float, float, float, float]] = []

    def walk(self, objects: Iterable[Any], outer: tuple[float, ...] | None, depth: int = 0) -> None:
        import pypdfium2.raw as raw

        for obj in objects:
            if self.count > MAX_SEGMENTS:
                return
            kind = raw.FPDFPageObj_GetType(obj)
            if kind == raw.FPDF_PAGEOBJ_IMAGE and len(self.images) < 200:
                box = [ctypes.c_float() for _ in range(4)]
                if raw.FPDFPageObj_GetBounds(obj, *(ctypes.byref(b) for b in box)):
                    left, bottom, right, top = (b.value for b in box)
                    if outer is None and right - left >= 40 and top - bottom >= 40:  # not a bullet or a rule
                        self.images.append((left, self.height - top, right, self.height - bottom))
            elif kind == raw.FPDF_PAGEOBJ_PATH:
                m = _matrix(obj)
                self._path(obj, _compose(m, outer) if outer else m)
            elif kind == raw.FPDF_PAGEOBJ_FORM and depth < 8:
                m = _matrix(obj)
                n = raw.FPDFFormObj_CountObjects(obj)
                self.walk((raw.FPDFFormObj_GetObject(obj, i) for i in range(max(0, n))),
                          _compose(m, outer) if outer else m, depth + 1)

    def _path(self, obj: Any, m: tuple[float, ...]) -> None:
        import pypdfium2.raw as raw

        n = raw.FPDFPath_CountSegments(obj)
        a, b, c, d, e, f = m
        x = ctypes.c_float()
        y = ctypes.c_float()
        start: tuple[float, float] | None = None
        prev: tuple[float, float] | None = None
        for i in range(max(0, n)):
            self.count += 1
            if self.count > MAX_SEGMENTS:
                return
            seg = raw.FPDFPath_GetPathSegment(obj, i)
            raw.FPDFPathSegment_GetPoint(seg, ctypes.byref(x), ctypes.byref(y))
            point = (a * x.value + c * y.value + e, self.height - (b * x.value + d * y.value + f))
            kind = raw.FPDFPathSegment_GetType(seg)
            if kind == raw.FPDF_SEGMENT_MOVETO or prev is None:
                start = point
            elif kind == raw.FPDF_SEGMENT_LINETO:
                self.segments.append((prev[0], prev[1], point[0], point[1]))
            prev = point
            if raw.FPDFPathSegment_GetClose(seg) and start is not None and start != point:
                self.segments.append((point[0], point[1], start[0], start[1]))
                prev = start


def _glyphs(textpage: Any, height: float) -> tuple[list[Glyph], int]:
    """The page's printed characters with their boxes; whitespace and the characters pdfium
    generates are left out (gaps speak for themselves), unmapped glyphs are counted."""
    import pypdfium2.raw as raw

    n = textpage.count_chars()
    if n > MAX_GLYPHS:
        raise PageLimit(f"一页中有 {n} 个字符，远超正常年报")
    handle = textpage.raw
    text = textpage.get_text_range(0, n) if n else ""
    exact = len(text) == n  # one UTF-16 unit per character (no character beyond the BMP)
    out: list[Glyph] = []
    unmapped = 0
    rect = raw.FS_RECTF()
    left, right, bottom, top = ctypes.c_double(), ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    loose_box, char_box = raw.FPDFText_GetLooseCharBox, raw.FPDFText_GetCharBox
    for i in range(n):
        code = ord(text[i]) if exact else raw.FPDFText_GetUnicode(handle, i)
        if code <= 32 or code in (0xFFFD, 0xFFFE, 0x3000, 0xA0) or 0xE000 <= code <= 0xF8FF:
            if code in (0, 0xFFFD, 0xFFFE) or 0xE000 <= code <= 0xF8FF:
                unmapped += 1
            continue
        ch = chr(code) if code < 0x110000 else ""
        if not ch or ch.isspace():
            continue
        if not char_box(handle, i, ctypes.byref(left), ctypes.byref(right), ctypes.byref(bottom), ctypes.byref(top)):
            continue
        x0, x1, y_top, y_bottom = left.value, right.value, height - top.value, height - bottom.value
        # the loose box (the font's ascent and descent) puts every glyph of a line on one band;
        # some fonts report absurd ones (rotated glyphs): used only when near the ink box
        if loose_box(handle, i, ctypes.byref(rect)):
            lw = rect.right - rect.left
            if 0 < lw <= 2.5 * max(x1 - x0, 2.0) + 2 and 0 < rect.top - rect.bottom <= 2 * lw + 4:
                x0, x1, y_top, y_bottom = rect.left, rect.right, height - rect.top, height - rect.bottom
        if x1 - x0 <= 0 or y_bottom - y_top <= 0:
            continue
        out.append(Glyph(ch, x0, x1, y_top, y_bottom))
    return out, unmapped


def _turn(glyphs: list[Glyph], segments: list[tuple[float, float, float, float]],
          images: list[tuple[float, float, float, float]], width: float, height: float, rotation: int,
          ) -> tuple[list[Glyph], list[tuple[float, float, float, float]], list[tuple[float, float, float, float]],
                     tuple[float, float]]:
    """Glyphs, strokes and pictures of a page turned clockwise by ``rotation`` degrees, in the
    top-down coordinates of the page as it is shown."""
    def point(x: float, y: float) -> tuple[float, float]:
        if rotation == 90:
            return height - y, x
        if rotation == 180:
            return width - x, height - y
        return y, width - x

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        a, b = point(x0, y0), point(x1, y1)
        return min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])

    turned = []
    for g in glyphs:
        x0, top, x1, bottom = box(g.x0, g.top, g.x1, g.bottom)
        turned.append(Glyph(g.ch, x0, x1, top, bottom))
    strokes = [(*point(x0, y0), *point(x1, y1)) for x0, y0, x1, y1 in segments]
    pictures = [box(*b) for b in images]
    size = (height, width) if rotation in (90, 270) else (width, height)
    return turned, strokes, pictures, size


def read_page(pdf: Any, index: int) -> Page:
    """Lines outside tables and the tables' cells (with their text) of one page."""
    page = pdf[index]
    try:
        rotation = page.get_rotation() % 360
        left, bottom, right, top = page.get_mediabox()
        width, height = right - left, top - bottom  # unrotated: the space glyphs and paths are in
        textpage = page.get_textpage()
        try:
            glyphs, unmapped = _glyphs(textpage, height)
        finally:
            textpage.close()
        paths = _Paths(height)
        import pypdfium2.raw as raw

        count = raw.FPDFPage_CountObjects(page.raw)
        paths.walk((raw.FPDFPage_GetObject(page.raw, i) for i in range(max(0, count))), None)
    finally:
        page.close()
    if rotation in (90, 180, 270):  # a page shown turned (/Rotate): read it as it is shown
        glyphs, paths.segments, paths.images, (width, height) = _turn(glyphs, paths.segments, paths.images, width,
                                                                       height, rotation)
    pieces = find_pieces(edges_from(paths.segments), width, height) if paths.segments else []
    index_ = _CellIndex(pieces)
    inside: dict[tuple[int, int], list[Glyph]] = {}
    free: list[Glyph] = []
    for g in glyphs:
        hit = index_.find(g)
        if hit is None:
            free.append(g)
        elif hit[1] >= 0:
            inside.setdefault(hit, []).append(g)
    for (i, k), gs in inside.items():
        cell = pieces[i].cells[k]
        cell.lines = lines_of(gs, None)
        cell.text = "\n".join(ln.text for ln in cell.lines)
    return Page(index + 1, width, height, lines_of(free), pieces, paths.images, len(glyphs), unmapped)


__all__ = ["Box", "Glyph", "Line", "Page", "PageLimit", "Piece", "Segment", "edges_from", "find_pieces",
           "lines_of", "read_page"]
