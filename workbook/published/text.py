"""Plain-text dumps of published reports.

Three shapes occur when a report is copied off a web page or out of Word:

- the *tab dump* (the seed): every table cell starts a line with a tab, a cell's text may run on
  over the next lines (“本年新\\n制作数量”), a blank line ends a table row, and cells hidden under
  a merge are empty or missing — so positions mean nothing and cells are placed by label;
- *rows on lines*: cells separated by tabs or by “|” (also Markdown tables);
- *one cell per line*: no separators at all; every cell is a paragraph of its own, and the table
  is rebuilt from its labels in ``place``.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from .model import Document, Image, Para, Table, TCell, TRow
from .normalise import fold, is_value

_HEADING_START = re.compile(r"^\s*[一二三四五六七八九十]+\s*[、.．]")
_PAGE_NUMBER = re.compile(r"^\s*(?:[-—–－]\s*\d{1,4}\s*[-—–－]|第\s*\d{1,4}\s*页(?:\s*[,，/／]?\s*共\s*\d{1,4}\s*页)?)\s*$")
_GAP = re.compile(r"[ \u3000\xa0]{2,}")
_NUMBER_TOKEN = re.compile(r"[-+－＋−]?[0-9０-９][0-9０-９.,，．]*")
_SENTENCE = re.compile(r"[。；;！？!?]")
#: A label fragment inside a space-aligned table is short (a wrapped label's second line, one
#: character of a vertical label); longer lines or sentences are prose and end the table.
FRAGMENT = 30
_PIPE_RULE = re.compile(r"^[\s|:：\-—=+]+$")
_OMITTED = re.compile(r"^\(?(?:(?:表格?|图表|附表|统计表)(?:略|详?见附件|详?见附图|见下图|见图片?|附后|以图片形式)"
                      r"|详?见(?:附图|附件|图片|下图)|图片|图|image|img|图片略|此处为图片)\)?$", re.I)


class DecodeError(ValueError):
    """The bytes are not text in any encoding a Chinese government site uses."""


def decode(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Text and the encoding used: a BOM, then a declared charset, then UTF-8, then GB18030.

    GB18030 is a superset of GBK and GB2312, which many government sites still serve.
    """
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(enc, errors="replace"), enc
    tried = []
    if declared:
        name = declared.lower().strip()
        name = "gb18030" if name in {"gb2312", "gbk", "x-gbk", "gb_2312-80"} else name
        tried.append(name)
    for enc in (*tried, "utf-8", "gb18030"):
        try:
            return data.decode(enc), enc
        except (UnicodeDecodeError, LookupError):
            continue
    raise DecodeError("无法识别文件的文字编码（不是 UTF-8，也不是 GBK/GB18030）")


def is_omitted_note(line: str) -> bool:
    """“（表格略）”, “[图片]”, “（详见附图）”: a table that was left out or published as a picture."""
    folded = fold(line)
    return bool(folded) and len(folded) <= 20 and bool(_OMITTED.match(folded))


def _split_pipes(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|"):
        s = s[:-1]
    return s.split("|")


def _is_pipe_row(line: str) -> bool:
    s = line.strip()
    return s.count("|") >= 2 or (s.startswith("|") and s.count("|") >= 1 and len(s) > 1)


def _part_heading(line: str) -> bool:
    """A heading of one of the six parts (“四、政府信息公开行政复议…”), which ends a table — unlike
    a row label that starts the same way (“一、本年新收…”)."""
    from workbook.spec import CURRENT_EDITION, load_edition

    from .sections import heading_matches, sections_of

    return bool(_HEADING_START.match(line)) and bool(heading_matches(line, sections_of(load_edition(CURRENT_EDITION))))


def aligned_cells(line: str) -> list[str] | None:
    """The cells of a line whose columns are aligned with runs of spaces (what ``pdftotext
    -layout`` or copying from a PDF viewer gives), or None for an ordinary line.

    Cells are split on runs of two or more spaces; numbers standing one space apart (“95 0 0 0”)
    are cells too, and so are numbers one space after a label (“行政许可 9487”) when at least
    two follow or the label is not prose."""
    bare = line.strip(" \u3000\xa0")
    if not bare or "\t" in bare:
        return None
    cells: list[str] = []
    for part in _GAP.split(bare):
        cells += _split_numbers(part)
    return cells if len(cells) >= 2 and any(_is_number(c) for c in cells[1:]) or len(cells) >= 3 else None


def _is_number(token: str) -> bool:
    return bool(_NUMBER_TOKEN.fullmatch(token))


def _split_numbers(part: str) -> list[str]:
    """“一、本年新收… 95 0 0” → the label and each number; a part without trailing numbers, or
    a sentence that happens to end in one, stays whole."""
    tokens = part.split(" ")
    k = len(tokens)
    while k > 0 and _is_number(tokens[k - 1]):
        k -= 1
    numbers = tokens[k:]
    label = " ".join(tokens[:k])
    if not numbers or (label and (len(numbers) < 2 and len(label) > FRAGMENT or _SENTENCE.search(label))):
        return [part]
    return ([label] if label else []) + numbers


class _TextBuilder:
    """Accumulates paragraphs, rows and tables while reading lines in order."""

    def __init__(self) -> None:
        self.items: list = []
        self.rows: list[TRow] = []
        self.cells: list[tuple[list[str], str]] = []
        self.last = "blank"
        self.aligned: list[tuple[TRow, str]] = []  # a space-aligned table being read: (row, line as written)

    def end_aligned(self) -> None:
        """Close a run of space-aligned lines: a table when a row of it holds numbers (short
        lines around its rows are its wrapped labels), else the lines were prose after all."""
        run, self.aligned = self.aligned, []
        multi = [i for i, (row, _) in enumerate(run) if len(row.cells) >= 2]
        numbered = [i for i in multi if any(is_value(c.text) for c in run[i][0].cells[1:])]
        if not numbered:
            self.items += [Para(text, row.where) for row, text in run]
            return
        first, last = multi[0], multi[-1]
        self.items += [Para(text, row.where) for row, text in run[:first]]
        self.items.append(Table([row for row, _ in run[first:last + 1]], False, run[first][0].where))
        self.items += [Para(text, row.where) for row, text in run[last + 1:]]

    def end_row(self) -> None:
        if self.cells:
            self.rows.append(TRow(tuple(TCell("\n".join(parts), where) for parts, where in self.cells), self.cells[0][1]))
            self.cells = []

    def end_table(self) -> None:
        self.end_row()
        if self.rows:
            self.items.append(Table(self.rows, False, self.rows[0].where))
            self.rows = []

    def line(self, text: str, n: int) -> None:
        where = f"第 {n} 行"
        bare = text.strip()
        if _PAGE_NUMBER.match(text):
            return  # page furniture of a PDF's text (“- 3 -”, “第 3 页 共 8 页”)
        cells = aligned_cells(text) if not text.startswith("\t") and "|" not in text else None
        if cells is not None or (self.aligned and bare and len("".join(bare.split())) <= FRAGMENT
                                 and not _SENTENCE.search(bare) and not _part_heading(bare)):
            if not self.aligned:
                self.end_table()
            cells = cells or [c for c in _GAP.split(bare) if c]
            self.aligned.append((TRow(tuple(TCell(c, where) for c in cells), where), text.strip()))
            self.last = "aligned"
            return
        if self.aligned and not bare:
            return  # blank lines stand between the rows of a laid-out table
        if self.aligned:
            self.end_aligned()
        if bare and is_omitted_note(bare):
            self.end_table()
            self.items.append(Image(bare, where))
            self.last = "para"
        elif text.startswith("\t") and text.count("\t") == 1:
            self.cells.append(([text[1:]], where))
            self.last = "cell"
        elif _is_pipe_row(text):
            self.end_row()
            if not _PIPE_RULE.match(text):
                self.rows.append(TRow(tuple(TCell(c, where) for c in _split_pipes(text)), where))
            self.last = "row"
        elif "\t" in text.strip("\t") or text.count("\t") > 1:
            self.end_row()
            self.rows.append(TRow(tuple(TCell(c, where) for c in text.split("\t")), where))
            self.last = "row"
        elif not bare:
            if self.cells:
                self.end_row()
            elif not self.rows:
                self.items.append(Para("", where))
            self.last = "blank"
        elif self.last == "cell" and not _HEADING_START.match(text):
            self.cells[-1][0].append(text)
        else:
            self.end_table()
            self.items.append(Para(text, where))
            self.last = "para"


def parse_text(path: Path, data: bytes) -> Document:
    """Read a text dump into a ``Document`` (see the module docstring for the shapes)."""
    text, encoding = decode(data)
    builder = _TextBuilder()
    for n, line in enumerate(text.splitlines(), start=1):
        builder.line(line.rstrip("\r").replace("\f", ""), n)
    builder.end_aligned()
    builder.end_table()
    return Document(Path(path), "text", builder.items, [], encoding)


__all__ = ["DecodeError", "decode", "is_omitted_note", "parse_text"]
