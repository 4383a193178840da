"""Import published annual reports (text, web pages, Word files) into the template's cells.

Years of reports exist only as published pages. ``import_report(path)`` reads one — a text dump,
an HTML page or a .docx — and places every number by its label into a ``Report`` of the edition
its labels show, keeping the published writing of each cell and the published totals (so the
checks find what the published report got wrong), and returns the log of everything normalised
or left out (``Imported.notes``). ``write_imported`` writes the result as a template workbook.
"""

from __future__ import annotations

from pathlib import Path

from workbook.build import BuildOptions, write_report
from workbook.errors import os_error_reason
from workbook.read import ReadError

from .assemble import Imported, build_report
from .docx import DocxError, parse_docx
from .html import parse_html
from .model import Document, Note
from .convert import DOCUMENTS, SHEETS, ConvertError, convert_office, sniff
from .pdf import PdfError, parse_pdf
from .text import DecodeError, parse_text

KINDS = {".txt": "text", ".text": "text", ".md": "text", ".htm": "html", ".html": "html", ".shtml": "html",
         ".xhtml": "html", ".mht": "html", ".docx": "docx", ".pdf": "pdf",
         **{s: "office" for s in (*DOCUMENTS, *SHEETS)}}
UNSUPPORTED = {
    ".jpg": "这是图片，无法读取其中的表格", ".jpeg": "这是图片，无法读取其中的表格", ".png": "这是图片，无法读取其中的表格",
}
MAX_BYTES = 20 * 1024 * 1024
class PublishedError(ReadError):
    """A file that cannot be imported; ``reason`` is what the office is told (same shape as the
    reader's errors, so every command reports unreadable files alike)."""


def kind_of(path: Path, head: bytes = b"") -> str | None:
    """The reader for a file: by suffix, or an HTML page saved without one."""
    kind = KINDS.get(path.suffix.lower())
    if kind is None and head.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
        return "html"
    if kind is None and head.startswith(b"%PDF-"):
        return "pdf"
    return kind


def read_document(path: Path | str) -> Document:
    """Parse a published report file into a ``Document`` (raises ``PublishedError``)."""
    path = Path(path)
    if path.suffix.lower() in UNSUPPORTED:
        raise PublishedError(path, UNSUPPORTED[path.suffix.lower()], "unsupported")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise PublishedError(path, f"文件过大（{size // 1024 // 1024} MB），不是正常的年报", "too_large")
        data = path.read_bytes()
    except OSError as exc:
        raise PublishedError(path, f"无法打开文件（{os_error_reason(exc)}）", "unreadable") from None
    if not data.strip():
        raise PublishedError(path, "文件为空", "empty")
    kind = kind_of(path, data[:64])
    if kind is None:
        raise PublishedError(path, "不是可导入的格式（可导入：.pdf、.txt 文本、.html/.htm 网页、.docx/.doc/.wps Word 文件、.xls/.et 表格）",
                             "unsupported")
    try:
        if kind == "office":
            return _office(path, data)
        if kind == "docx":
            return parse_docx(path, data)
        if kind == "html":
            return parse_html(path, data)
        if kind == "pdf":
            return parse_pdf(path, data)
        return parse_text(path, data)
    except (PdfError, DocxError, ConvertError) as exc:
        raise PublishedError(path, str(exc), exc.code) from None
    except DecodeError as exc:
        raise PublishedError(path, str(exc), "damaged") from None


def _office(path: Path, data: bytes) -> Document:
    """An old-format document or spreadsheet (see ``convert``): read as what its bytes are."""
    suffix = path.suffix.lower()
    real = sniff(suffix, data)
    if real == "html":
        return parse_html(path, data)
    if real == "docx":
        return parse_docx(path, data)
    if real is None:
        raise ConvertError(f"文件内容不是 {suffix} 文件（可能已损坏或扩展名有误）", "damaged")
    converted, kind = convert_office(path, data, ".xlsx" if real == "xlsx" else suffix)
    doc = parse_docx(path, converted) if kind == "docx" else parse_html(path, converted)
    doc.kind = suffix.lstrip(".")
    return doc


def import_report(path: Path | str) -> Imported:
    """Read and place one published report (raises ``PublishedError`` for an unusable file)."""
    doc = read_document(path)
    imported = build_report(doc)
    rep = imported.report
    if not rep.raw and not rep.unit and not any(rep.texts.values()):
        raise PublishedError(Path(path), "不像是政府信息公开工作年度报告：找不到标题、各部分标题和统计表", "not_report")
    return imported


def write_imported(imported: Imported, target: Path) -> Path:
    """Write an imported report as a template workbook, its totals as published (atomically)."""
    return write_report(imported.report, Path(target), BuildOptions(derived="value"))


__all__ = ["Imported", "Note", "PublishedError", "KINDS", "UNSUPPORTED", "import_report", "kind_of", "read_document",
           "write_imported"]
