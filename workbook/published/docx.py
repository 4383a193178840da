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

from .model import Document, Image, Para, SpanCell, Table, expand
from .text import is_omitted_note

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_PICTURES = ("}drawing", "}pict", "}object")


class DocxError(ValueError):
    """Not a Word document python-docx can open; the message is for the office."""


def _val(el: Any, name: str) -> str | None:
    child = el.find(W + name) if el is not None else None
    if child is None:
        return None
    return child.get(W + "val", "")


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
        where = f"第 {number} 个表格第 {r + 1} 行"
        row: list[list[Any]] = []
        trpr = tr.find(W + "trPr")
        col = int(_val(trpr, "gridBefore") or 0)
        for _ in range(col):
            row.append(["", where, 1, 1])
        for tc in _cells(tr):
            tcpr = tc.find(W + "tcPr")
            span = max(1, int(_val(tcpr, "gridSpan") or 1))
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
            items.append(_table(el, tables))
    titles = [doc.core_properties.title] if doc.core_properties.title else []
    return Document(Path(path), "docx", items, titles, "docx")


__all__ = ["DocxError", "parse_docx"]
