"""Published reports as Word files (.docx): paragraphs, tables with merged cells, pictures.

Word states merges its own way: ``gridSpan`` for a cell spanning columns, ``vMerge`` restart /
continue for a cell spanning rows, ``gridBefore`` for a row that starts to the right. They are
turned into the same rowspan/colspan cells as HTML and laid out by ``model.expand``, so both
formats are placed by the same code. python-docx opens the package; the body is read from its
XML in order, because paragraphs and tables interleave.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from .model import MAX_COLSPAN, Document, Image, Para, SpanCell, Table, TooLarge, expand
from .text import is_omitted_note

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MAX_ROWS = 400  # rows of one Word table (a report table has ~35)
#: The package before python-docx inflates it: parts, each part's and the total uncompressed
#: size, and how much a large part may inflate (text compresses ~5–20:1, a bomb ~1000:1).
MAX_PARTS = 2000
MAX_PART = 40 * 1024 * 1024
MAX_TOTAL = 120 * 1024 * 1024
RATIO_FLOOR = 1024 * 1024
MAX_RATIO = 150
_PICTURES = ("}drawing", "}pict", "}object")


class DocxError(ValueError):
    """Not a Word document python-docx can open; the message is for the office."""

    def __init__(self, message: str, code: str = "damaged") -> None:
        super().__init__(message)
        self.code = code


def _val(el: Any, name: str) -> str | None:
    child = el.find(W + name) if el is not None else None
    if child is None:
        return None
    return child.get(W + "val", "")


def _int(value: str | None, default: int = 1) -> int:
    """A count attribute as Word writes it; anything else (or absurd) is the default/bounded."""
    if value is None or not value.strip().isdigit() or len(value.strip()) > 6:
        return default
    return min(int(value), MAX_COLSPAN)


def _para_text(p: Any) -> str:
    parts: list[str] = []
    for el in p.iter():
        tag = el.tag
        if tag == W + "t":
            parts.append(el.text or "")
        elif tag == W + "tab":
            parts.append("\t")
        elif tag in (W + "br", W + "cr"):
            parts.append("\n")
    return "".join(parts)


def _has_picture(p: Any) -> bool:
    return any(isinstance(el.tag, str) and el.tag.endswith(_PICTURES) for el in p.iter())


def _cells(tr: Any) -> list[Any]:
    """The row's cells, also those wrapped in content controls (``w:sdt``) or custom XML."""
    out: list[Any] = []
    for el in tr:
        if el.tag == W + "tc":
            out.append(el)
        elif el.tag in (W + "sdt", W + "customXml"):
            content = el.find(W + "sdtContent") if el.tag == W + "sdt" else el
            if content is not None:
                out += _cells(content)
    return out


def _table(tbl: Any, number: int) -> Table:
    rows: list[list[list[Any]]] = []
    wheres: list[str] = []
    origins: dict[int, list[Any]] = {}
    for r, tr in enumerate(tbl.findall(W + "tr")):
        if r >= MAX_ROWS:
            raise TooLarge(f"表格有 {r} 行以上，远超年报表格")
        where = f"第 {number} 个表格第 {r + 1} 行"
        row: list[list[Any]] = []
        trpr = tr.find(W + "trPr")
        col = min(_int(_val(trpr, "gridBefore"), 0), MAX_COLSPAN)
        for _ in range(col):
            row.append(["", where, 1, 1])
        for tc in _cells(tr):
            tcpr = tc.find(W + "tcPr")
            span = max(1, _int(_val(tcpr, "gridSpan")))
            vmerge = _val(tcpr, "vMerge")
            text = "\n".join(_para_text(p) for p in tc.findall(W + "p"))
            if vmerge is not None and vmerge != "restart" and col in origins:
                origins[col][2] += 1
            else:
                cell = [text, f"{where}第 {len(row) + 1} 格", 1, span]
                row.append(cell)
                if vmerge == "restart":
                    origins[col] = cell
                else:
                    origins.pop(col, None)
            col += span
        rows.append(row)
        wheres.append(where)
    span_rows = [[SpanCell(t, w, rs, cs) for t, w, rs, cs in row] for row in rows]
    return expand(span_rows, wheres, f"第 {number} 个表格")


def _check_package(data: bytes) -> None:
    """Refuse a zip bomb by its directory, before anything is inflated. ``zipfile`` (which
    python-docx reads through) never inflates a part beyond its declared size, so the declared
    sizes bound what opening the file costs."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError):
        raise DocxError("Word 文件已损坏或不是 .docx 文件") from None
    if len(infos) > MAX_PARTS:
        raise DocxError(f"文件内容异常（包含 {len(infos)} 个部件），不是正常的年报", "too_large")
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > MAX_PART or total > MAX_TOTAL or (info.file_size > RATIO_FLOOR and ratio > MAX_RATIO):
            raise DocxError("文件内容异常（解压后过大），不是正常的年报", "too_large")


def _body(element: Any) -> list[Any]:
    out: list[Any] = []
    for el in element:
        if el.tag == W + "sdt":
            content = el.find(W + "sdtContent")
            if content is not None:
                out += _body(content)
        else:
            out.append(el)
    return out


def parse_docx(path: Path, data: bytes) -> Document:
    """Read a .docx into a ``Document``. Raises ``DocxError`` for a file Word would not open."""
    from docx import Document as open_docx

    _check_package(data)
    try:
        doc = open_docx(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise DocxError(f"Word 文件已损坏或不是 .docx 文件（{type(exc).__name__}）") from None
    except Exception as exc:  # python-docx raises several kinds for malformed parts
        raise DocxError(f"Word 文件无法打开（{type(exc).__name__}）") from None
    items: list[Any] = []
    tables = paragraphs = 0
    for el in _body(doc.element.body):
        if el.tag == W + "p":
            paragraphs += 1
            where = f"第 {paragraphs} 段"
            text = _para_text(el)
            if text.strip():
                items.append(Image(text.strip(), where) if is_omitted_note(text) else Para(text, where))
            if _has_picture(el):
                items.append(Image("图片", where))
        elif el.tag == W + "tbl":
            tables += 1
            try:
                items.append(_table(el, tables))
            except TooLarge as exc:
                items.append(Image(f"表格过大，未读取（{exc}）", f"第 {tables} 个表格"))
    titles = [doc.core_properties.title] if doc.core_properties.title else []
    return Document(Path(path), "docx", items, titles, "docx")


__all__ = ["DocxError", "parse_docx"]
