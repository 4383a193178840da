"""Published reports as PDF files (printed by WPS, Word or LibreOffice), with a text layer.

``pdfpage`` gives each page's lines of text and its ruled tables by cell. Here the pages become
one ``Document``, in reading order, the way a person reads the printout:

- page furniture (page numbers “-3-”, “第 3 页 共 8 页”, a running header repeated on every
  page) is dropped;
- a ruled table that runs off the bottom of a page and goes on at the top of the next (same left
  and right borders) is one table; at the seam, a row label broken over the page end (“（四）无”
  above, “法提供” below) or a row whose label is on one page and numbers on the next is joined —
  only when the joined label is one the spec prints and the halves are not;
- a table row holding one cell as wide as the table (WPS lays whole pages out in frames) is a
  line of text, not a table row;
- lines of text become paragraphs where a person sees them: an indented first line, a short last
  line, a gap, a heading; lines whose words stand in columns (a table drawn without rules) become
  table rows, as in a space-aligned text dump.

A PDF without a text layer (a scan) is refused with the reason; there is no OCR.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Union

from .grid import Placed, layout
from .labels import known_label, label_roles
from .model import Document, Image, Para, Table, TCell, TRow
from .normalise import is_blank, is_value
from .pdfpage import Line, Page, PageLimit, Piece, read_page

MAX_PAGES = 100
_PAGE_NO = re.compile(r"^[-—–－_\s]*(?:第\s*)?\d{1,4}\s*(?:页)?\s*(?:[/,，／]?\s*(?:共\s*)?\d{1,4}\s*页?)?[-—–－_\s]*$")
_HEADING = re.compile(r"^\s*(?:[一二三四五六七八九十]+\s*[、.．]|[（(][一二三四五六七八九十]+[)）])")
_SENTENCE = re.compile(r"[。；;！？]")
EDGE_ZONE = 0.09  # of the page height: where running headers, footers and page numbers stand
SAME_BORDER = 8.0  # points: a table continued on the next page keeps its left and right borders
WIDE = 0.85  # of the table's width: a one-cell row this wide is a line of text


class PdfError(ValueError):
    """A PDF that cannot be read; ``code`` as ``PublishedError`` codes, message for the office."""

    def __init__(self, message: str, code: str = "damaged") -> None:
        super().__init__(message)
        self.code = code


@dataclass
class _Logical:
    """A ruled table as read: its pieces, one per page it stands on."""

    pieces: list[tuple[Page, Piece]] = field(default_factory=list)


@dataclass(frozen=True)
class _Text:
    page: int
    line: Line


_Entry = Union[_Text, _Logical, Image]


def parse_pdf(path: Path, data: bytes) -> Document:
    """Read a PDF with a text layer into a ``Document`` (raises ``PdfError``)."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise PdfError("PDF 设置了打开密码（已加密），无法读取；请使用未加密的版本", "encrypted") from None
        raise PdfError("PDF 文件已损坏或不完整，无法打开", "damaged") from None
    try:
        count = len(pdf)
        if count == 0:
            raise PdfError("PDF 中没有页面", "damaged")
        if count > MAX_PAGES:
            raise PdfError(f"PDF 有 {count} 页，远超正常年报（最多读取 {MAX_PAGES} 页），未读取", "too_large")
        try:
            pages = [read_page(pdf, i) for i in range(count)]
        except PageLimit as exc:
            raise PdfError(f"PDF 内容异常（{exc}），不是正常的年报", "too_large") from None
    finally:
        pdf.close()
    glyphs = sum(p.glyphs for p in pages)
    unmapped = sum(p.unmapped for p in pages)
    if glyphs == 0 and not unmapped:
        what = "扫描件或图片" if any(p.images for p in pages) else "没有文字的文件"
        raise PdfError(f"这是{what}（PDF 中没有文字层），无法读取其中的文字和表格；请改用网站上的网页或 Word 版本"
                       "（暂不支持从图片识别文字）", "scanned")
    if unmapped > 0.3 * (glyphs + unmapped):
        raise PdfError("PDF 中的文字无法提取（字体没有文字编码，复制出来是乱码）；请改用网站上的网页或 Word 版本", "scanned")
    return Document(Path(path), "pdf", _items(pages), [], "pdf")


# --- page furniture --------------------------------------------------------------------------------

def _furniture(pages: list[Page]) -> set[tuple[int, int]]:
    """(page, line index) of page numbers and of running headers/footers (the same words in the
    top or bottom margin of at least half the pages, digits aside)."""
    out: set[tuple[int, int]] = set()
    seen: Counter[str] = Counter()
    edge: dict[tuple[int, int], str] = {}
    for p in pages:
        for i, ln in enumerate(p.lines):
            if ln.bottom > p.height * (1 - EDGE_ZONE) or ln.top < p.height * EDGE_ZONE:
                key = re.sub(r"\d+", "#", "".join(ln.text.split()))
                if _PAGE_NO.match(ln.text):
                    out.add((p.number, i))
                    continue
                edge[(p.number, i)] = key
    for key in edge.values():
        seen[key] += 1
    if len(pages) >= 2:
        out |= {k for k, key in edge.items() if seen[key] >= max(2, (len(pages) + 1) // 2)}
    return out


# --- reading order and tables across pages -----------------------------------------------------------

def _entries(pages: list[Page]) -> list[_Entry]:
    drop = _furniture(pages)
    out: list[_Entry] = []
    for p in pages:
        here: list[tuple[float, int, Any]] = []
        here += [(ln.top, 0, _Text(p.number, ln)) for i, ln in enumerate(p.lines) if (p.number, i) not in drop]
        here += [(pc.top, 1, pc) for pc in p.pieces]
        covered = [(pc.x0, pc.top, pc.x1, pc.bottom) for pc in p.pieces]
        for box in p.images:
            if not any(b[0] <= box[0] + 2 and box[2] <= b[2] + 2 and b[1] <= box[1] + 2 and box[3] <= b[3] + 2 for b in covered):
                here.append((box[1], 2, Image(f"图片（第 {p.number} 页）", f"第 {p.number} 页")))
        here.sort(key=lambda x: (x[0], x[1]))
        for k, (_, kind, obj) in enumerate(here):
            if kind == 1:
                prev = out[-1] if out else None
                if (k == 0 and isinstance(prev, _Logical) and prev.pieces[-1][0].number == p.number - 1
                        and prev.pieces[-1][1] is _last_piece(pages[p.number - 2])
                        and abs(prev.pieces[-1][1].x0 - obj.x0) < SAME_BORDER and abs(prev.pieces[-1][1].x1 - obj.x1) < SAME_BORDER):
                    prev.pieces.append((p, obj))
                else:
                    out.append(_Logical([(p, obj)]))
            else:
                out.append(obj)
    return out


def _last_piece(page: Page) -> Piece | None:
    """The page's last table when nothing but furniture follows it."""
    if not page.pieces:
        return None
    last = max(page.pieces, key=lambda pc: pc.bottom)
    after = [ln for ln in page.lines if ln.top > last.bottom and not _PAGE_NO.match(ln.text)
             and ln.top < page.height * (1 - EDGE_ZONE)]
    return None if after else last


def _table_rows(table: _Logical) -> tuple[list[TRow], list[list[Any]], list[int]]:
    """The logical table's grid rows, each row's source cells, and the seam rows (first row of
    each continuation piece)."""
    placed: list[Placed] = []
    sources: dict[int, Any] = {}
    offsets: list[float] = []
    offset = 0.0
    prev: tuple[Page, Piece] | None = None
    for page, piece in table.pieces:
        if prev is not None and page.number != prev[0].number:
            offset += prev[1].bottom - piece.top + 10  # the next page's piece starts below this one
        prev = (page, piece)
        offsets.append(offset)
        for cell in piece.cells:
            pc = Placed(cell.x0, cell.top + offset, cell.x1, cell.bottom + offset, cell.text, f"第 {page.number} 页")
            placed.append(pc)
            sources[id(pc)] = cell
    grid = layout(placed)
    seams = []
    for (page, piece), off in zip(table.pieces[1:], offsets[1:]):
        top = piece.top + off
        seams += [i for i, t in enumerate(grid.tops) if abs(t - top) < 3][:1]
    rows = _number_rows(grid.rows)
    return rows, [[sources.get(id(p)) for p in src] for src in grid.sources], seams


def _number_rows(rows: list[TRow]) -> list[TRow]:
    """“第 3 页表格第 5 行”: rows counted per page, cells named by their row."""
    out: list[TRow] = []
    counts: Counter[str] = Counter()
    for row in rows:
        page = row.where
        counts[page] += 1
        where = f"{page}表格第 {counts[page]} 行"
        out.append(TRow(tuple(replace(c, where=where) if c.origin_row else c for c in row.cells), where))
    return out


# --- seams -----------------------------------------------------------------------------------------

def _labels(row: TRow) -> dict[int, str]:
    return {c.col: c.text for c in row.cells if c.col is not None and not is_blank(c.text) and not is_value(c.text)}


def _has_values(row: TRow) -> bool:
    return any(c.origin_row and not is_blank(c.text) and is_value(c.text) for c in row.cells)


def _join(a: str, b: str) -> str:
    return a.rstrip() + b.lstrip()


def mend_seam(rows: list[TRow], seam: int) -> list[TRow]:
    """Join what a page break cut apart at row ``seam`` (see the module docstring)."""
    if seam <= 0 or seam >= len(rows):
        return rows
    above, below = rows[seam - 1], rows[seam]
    la, lb = _labels(above), _labels(below)
    both = [c for c in la if c in lb]
    if not (_has_values(above) and _has_values(below)):
        # one row's halves: label parts joined per column, values from the half that has them
        if both and not all(known_label(_join(la[c], lb[c])) and not (known_label(la[c]) and known_label(lb[c])) for c in both):
            return rows
        if not both and _has_values(above) == _has_values(below):
            return rows
        if not both:  # the label on one page, the numbers on the next: only a row's label
            labelled = la if not _has_values(above) else lb
            roles = [label_roles(t) for t in labelled.values()]
            if not labelled or not all(r and r <= {"row", "group"} for r in roles):
                return rows
        merged = _merge_rows(above, below)
        return rows[: seam - 1] + [merged] + rows[seam + 1:]
    fixed = list(rows)
    for c in both:
        joined = _join(la[c], lb[c])
        if known_label(joined) and not known_label(lb[c]):
            fixed = [_retext(r, c, la[c] if i < seam else lb[c], joined) for i, r in enumerate(fixed)]
    return fixed


def _retext(row: TRow, col: int, old: str, new: str) -> TRow:
    return TRow(tuple(replace(c, text=new) if c.col == col and c.text == old else c for c in row.cells), row.where)


def _merge_rows(above: TRow, below: TRow) -> TRow:
    by_col: dict[int | None, TCell] = {}
    for c in above.cells:
        by_col[c.col] = c
    for c in below.cells:
        if c.col in by_col:
            a = by_col[c.col]
            text = _join(a.text, c.text) if not is_blank(a.text) and not is_blank(c.text) else (a.text if not is_blank(a.text) else c.text)
            by_col[c.col] = replace(a, text=text, origin_row=a.origin_row or c.origin_row)
        else:
            by_col[c.col] = c
    cells = tuple(sorted(by_col.values(), key=lambda c: c.col if c.col is not None else -1))
    return TRow(cells, above.where)


# --- rows, lines and paragraphs ----------------------------------------------------------------------

def _text_row(row: TRow, sources: list[Any], width: float, x0: float) -> list[Line] | None:
    """The lines of a row that is really a line of text: one non-empty cell, as wide as the table."""
    filled = [(c, s) for c, s in zip(row.cells, sources) if not is_blank(c.text)]
    if len(filled) != 1:
        return None
    cell, src = filled[0]
    if not cell.origin_row or src is None or (src.x1 - src.x0) < WIDE * width or is_value(cell.text):
        return None
    return src.lines or None


def _items(pages: list[Page]) -> list[Any]:
    out: list[Any] = []
    lines: list[tuple[int, Line]] = []

    def flush() -> None:
        out.extend(paragraphs(lines))
        lines.clear()

    for entry in _entries(pages):
        if isinstance(entry, _Text):
            lines.append((entry.page, entry.line))
            continue
        if isinstance(entry, Image):
            flush()
            out.append(entry)
            continue
        rows, sources, seams = _table_rows(entry)
        for seam in reversed(seams):
            rows = mend_seam(rows, seam)
            if len(sources) != len(rows):
                sources = sources[: seam - 1] + [sources[seam - 1] + sources[seam]] + sources[seam + 1:]
        xs = [c.x0 for _, p in entry.pieces for c in p.cells] + [c.x1 for _, p in entry.pieces for c in p.cells]
        width = max(xs) - min(xs)
        run: list[TRow] = []
        for row, src in zip(rows, sources):
            text = _text_row(row, src, width, min(xs))
            if text is None:
                if lines:
                    flush()
                run.append(row)
                continue
            if run:
                out.append(Table(run, True, run[0].where))
                run = []
            page = int(re.sub(r"\D", "", row.where.split("页")[0]) or 0)
            lines.extend((page, ln) for ln in text)
        if run:
            flush()
            out.append(Table(run, True, run[0].where))
    flush()
    return out


def _is_row_line(ln: Line) -> bool:
    return len(ln.segments) >= 2 and any(is_value(s.text) for s in ln.segments[1:])


def paragraphs(lines: list[tuple[int, Line]]) -> list[Any]:
    """Lines of text → paragraphs, and runs of column-aligned lines → table rows (no grid)."""
    out: list[Any] = []
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and (len(lines[j][1].segments) >= 2 or _short(lines[j][1])):
            j += 1
        block = lines[i:j]
        if any(_is_row_line(ln) for _, ln in block):
            first = next(k for k, (_, ln) in enumerate(block) if len(ln.segments) >= 2)
            last = max(k for k, (_, ln) in enumerate(block) if len(ln.segments) >= 2)
            out += _prose(block[:first])
            rows = [TRow(tuple(TCell(s.text, f"第 {pg} 页") for s in ln.segments), f"第 {pg} 页")
                    for pg, ln in block[first:last + 1]]
            out.append(Table(rows, False, rows[0].where))
            out += _prose(block[last + 1:])
            i = j
            continue
        k = max(j, i + 1)
        while k < len(lines) and not (len(lines[k][1].segments) >= 2 and _is_row_line(lines[k][1])):
            k += 1
        out += _prose(lines[i:k])
        i = k
    return out


def _short(ln: Line) -> bool:
    return len("".join(ln.text.split())) <= 24 and not _SENTENCE.search(ln.text)


def _prose(lines: list[tuple[int, Line]]) -> list[Para]:
    """Join printed lines into paragraphs (see the module docstring)."""
    if not lines:
        return []
    left = min(ln.x0 for _, ln in lines)
    right = max(ln.x1 for _, ln in lines)
    out: list[Para] = []
    text = ""
    where = ""
    prev: tuple[int, Line] | None = None
    for page, ln in lines:
        size = ln.size or 10.0
        new = prev is None
        if prev is not None:
            pp, pl = prev
            new = (ln.x0 > left + 0.9 * size or pl.x1 < right - 2.0 * size or bool(_HEADING.match(ln.text))
                   or (pp == page and ln.top - pl.bottom > 1.2 * size) or pl.x0 > left + 4 * size)
        if new:
            if text:
                out.append(Para(text, where))
            text, where = ln.text, f"第 {page} 页"
        else:
            sep = " " if text[-1:].isascii() and text[-1:].isalnum() and ln.text[:1].isascii() and ln.text[:1].isalnum() else ""
            text += sep + ln.text
        prev = (page, ln)
    if text:
        out.append(Para(text, where))
    return out


__all__ = ["MAX_PAGES", "PdfError", "mend_seam", "paragraphs", "parse_pdf"]
