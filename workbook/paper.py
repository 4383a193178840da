"""How every sheet the project writes looks on paper: page setup, column widths, row heights.

Why one module: a county office prints what it is handed — the template, the summary, the audit
and the comparison — and each used to set its own widths by guess and most no page setup at all
(portrait slices of a wide table, labels cut by narrow columns). Every writer now asks here.

Widths are in the spreadsheet's unit (the width of one digit of the default font). A Chinese
character is about two of them, so text is measured with East Asian widths: full-width and wide
characters count 2, the rest 1 (``text_width``). The writers use xlsxwriter; the functions take its
``Worksheet`` (and ``Chartsheet`` where it applies).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from itertools import islice
from typing import Any, Iterable, Sequence

#: A4 (xlsxwriter's paper index 9).
A4 = 9
FOOTER = "&C第 &P 页，共 &N 页"
#: Width units landscape (portrait) A4 holds within the margins below at 100 %, as LibreOffice
#: prints (measured: it lays out widths with a wider fallback of the default font; Excel fits about
#: half as much again) — the smaller figure, so that planned page breaks hold in both.
LANDSCAPE_UNITS = 95.0
PORTRAIT_UNITS = 65.0
#: Points per printed line of 10–11 pt text (Chinese glyphs are taller than Latin ones).
LINE_POINTS = 14.0
MARGINS = {"left": 0.4, "right": 0.4, "top": 0.6, "bottom": 0.6}


#: Characters a Chinese font prints two units wide: the wide and full-width ranges of Unicode's
#: East Asian Width (Chinese, Japanese, Korean, “（”, “，”), and the quotes, dashes and ellipsis
#: that Chinese fonts draw full width (“三安全一稳定”). One pattern: a county's thousands of rows
#: are measured in C, not character by character in Python.
_WIDE = re.compile("[\u1100-\u115f\u2014\u2018-\u201f\u2026\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf"
                   "\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60"
                   "\uffe0-\uffe6\U00020000-\U0003fffd]")


def char_width(ch: str) -> int:
    """2 for a character a Chinese font prints wide (Chinese, “（”), else 1."""
    return 2 if _WIDE.match(ch) or unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _line_width(line: str) -> int:
    return len(line) if line.isascii() else len(line) + len(_WIDE.findall(line))


def text_width(value: Any) -> int:
    """The width of a value as printed: its widest line, wide characters counted twice. Numbers
    are measured as a spreadsheet shows them (3 not 3.0)."""
    if value is None:
        return 0
    if isinstance(value, float):
        value = f"{value:.4f}".rstrip("0").rstrip(".") if value == value else ""
    text = str(value)
    if "\n" not in text:
        return _line_width(text)
    return max(_line_width(line) for line in text.split("\n"))


def line_count(value: Any, width: float) -> int:
    """Lines a wrapped value needs in a column ``width`` units wide (at least 1)."""
    if value is None or value == "":
        return 1
    usable = max(width - 1.0, 1.0)
    return max(1, sum(max(1, math.ceil(_line_width(line) / usable)) for line in str(value).split("\n")))


def row_height(lines: int, line: float = LINE_POINTS) -> float:
    """The height in points of a row showing ``lines`` lines of text."""
    return round(lines * line + 3.0, 1)


@dataclass(frozen=True)
class Fit:
    """How a column is sized from what it holds: the widest value (plus ``pad``), kept between
    ``minimum`` and ``maximum``; a column at its maximum wraps its longer values instead."""

    minimum: float = 4.0
    maximum: float = 40.0
    pad: float = 2.0


def column_widths(rows: Iterable[Sequence[Any]], columns: int, fit: Fit | Sequence[Fit] = Fit(),
                  sample: int = 2000) -> list[float]:
    """Widths that fit the values of ``rows`` (the first ``sample`` rows: a county's thousands of
    units need not all be measured — the longest names come up early and the width is capped)."""
    fits = [fit] * columns if isinstance(fit, Fit) else list(fit)
    widest = [0] * columns
    for row in islice(rows, sample):
        for j, v in enumerate(row[:columns]):
            w = text_width(v)
            if w > widest[j]:
                widest[j] = w
    return [min(max(w * 1.05 + f.pad, f.minimum), f.maximum) for w, f in zip(widest, fits)]


def set_widths(ws: Any, widths: Sequence[float], first: int = 0, formats: dict[int, Any] | None = None) -> None:
    """Apply ``widths`` from column ``first`` on (a format per column where given)."""
    for j, w in enumerate(widths):
        ws.set_column(first + j, first + j, w, (formats or {}).get(first + j))


def setup_page(ws: Any, *, landscape: bool = True, fit_width: bool = True, fit_height: int = 0,
               repeat_rows: tuple[int, int] | None = None, repeat_columns: tuple[int, int] | None = None,
               area: tuple[int, int, int, int] | None = None, center: bool = True, footer: str = FOOTER,
               header: str | None = None) -> None:
    """A4, the orientation, fitted to the page width (and to ``fit_height`` pages tall when > 0),
    title rows (and columns) repeated on every page, and “第 N 页，共 M 页” in the footer.

    A print area is set only when given: a sheet that grows after it is written (the 校验结果 the
    add-in fills) must print all it holds, and a spreadsheet prints the cells in use by default."""
    ws.set_paper(A4)
    if landscape:
        ws.set_landscape()
    else:
        ws.set_portrait()
    if fit_width or fit_height:
        ws.fit_to_pages(1 if fit_width else 0, fit_height)
    ws.set_margins(**MARGINS)
    if center:
        ws.center_horizontally()
    ws.set_footer(footer)
    if header is not None:
        ws.set_header(header)
    if repeat_rows is not None:
        ws.repeat_rows(*repeat_rows)
    if repeat_columns is not None:
        ws.repeat_columns(*repeat_columns)
    if area is not None:
        ws.print_area(*area)


def setup_chart_page(cs: Any) -> None:
    """A chart sheet: landscape A4 with the page number."""
    cs.set_paper(A4)
    cs.set_landscape()
    cs.set_margins(**MARGINS)
    cs.set_footer(FOOTER)


def column_pages(widths: Sequence[float], groups: Sequence[tuple[int, int]], budget: float) -> list[int]:
    """Where to break a very wide sheet into pages: ``groups`` are (first, last) column ranges
    that belong together (a row of Part 三 under its label); whole groups are packed into pages
    of at most ``budget`` units. Returns the columns that start a new page (for vertical page
    breaks)."""
    breaks: list[int] = []
    used = 0.0
    for first, last in groups:
        w = sum(widths[first:last + 1])
        if used and used + w > budget:
            breaks.append(first)
            used = 0.0
        used += w
    return breaks


class Measured:
    """A worksheet that remembers how wide each value written to it is, so that a writer sizes its
    columns (and the rows whose text wraps) from what it wrote — without keeping the rows. Every
    other attribute is the worksheet's own."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.widest: dict[int, int] = {}
        self.cells: dict[int, dict[int, tuple[int, ...]]] = {}  # row → column → width of each line

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ws, name)

    def _note(self, row: int, col: int, value: Any) -> None:
        if value is None or isinstance(value, bool):
            return
        w = text_width(value)
        if w > self.widest.get(col, 0):
            self.widest[col] = w
        if isinstance(value, str):
            self.cells.setdefault(row, {})[col] = (w,) if "\n" not in value else tuple(map(_line_width, value.split("\n")))

    def write(self, row: int, col: int, *args: Any) -> Any:
        self._note(row, col, args[0] if args else None)
        return self.ws.write(row, col, *args)

    def write_string(self, row: int, col: int, value: str, *args: Any) -> Any:
        self._note(row, col, value)
        return self.ws.write_string(row, col, value, *args)

    def write_number(self, row: int, col: int, value: float, *args: Any) -> Any:
        self._note(row, col, value)
        return self.ws.write_number(row, col, value, *args)

    def write_row(self, row: int, col: int, data: Sequence[Any], *args: Any) -> Any:
        for j, v in enumerate(data):
            self._note(row, col + j, v)
        return self.ws.write_row(row, col, data, *args)


def lay_out(ws: Measured, fits: Fit | dict[int, Fit] = Fit(), wrap: Any = None, header_rows: int = 1,
            landscape: bool = True) -> list[float]:
    """Size the columns of a written table from what it holds, wrap (with ``wrap``, a format) the
    columns that reach their maximum and give their rows the height they need, and set up the
    page: A4 in ``landscape`` (or portrait), one page wide, the first ``header_rows`` rows on every
    page, page numbers. Returns the widths."""
    columns = max(ws.widest, default=-1) + 1
    fit_of = (lambda j: fits) if isinstance(fits, Fit) else (lambda j: fits.get(j, Fit()))  # noqa: E731
    widths = [min(max(ws.widest.get(j, 0) * 1.05 + fit_of(j).pad, fit_of(j).minimum), fit_of(j).maximum)
              for j in range(columns)]
    wraps = {j for j in range(columns) if ws.widest.get(j, 0) * 1.05 + fit_of(j).pad > fit_of(j).maximum}
    for j, w in enumerate(widths):
        ws.ws.set_column(j, j, w, wrap if j in wraps else None)
    for r, cells in ws.cells.items():
        lines = 1
        for j, line_widths in cells.items():
            if j in wraps or r < header_rows:
                usable = max(widths[j] - 1.0, 1.0)
                lines = max(lines, sum(max(1, math.ceil(w / usable)) for w in line_widths))
        if lines > 1:
            ws.ws.set_row(r, row_height(lines))
    setup_page(ws.ws, landscape=landscape, repeat_rows=(0, header_rows - 1) if header_rows else None)
    return widths


__all__ = ["A4", "FOOTER", "Fit", "LANDSCAPE_UNITS", "LINE_POINTS", "Measured", "PORTRAIT_UNITS", "char_width",
           "column_pages", "column_widths", "lay_out", "line_count", "row_height", "set_widths", "setup_chart_page",
           "setup_page", "text_width"]
