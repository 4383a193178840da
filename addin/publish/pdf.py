"""PDF of the three table sheets, for the leader's signature and for the record.

The PDF is printed from a temporary print copy of the workbook, never from the workbook itself:
the report sheets are written anew by the project's own builder (same layout, print setup and
styles as the template: A4 landscape, fitted to the page width, title and header rows repeated,
“第 N 页，共 M 页” in the footer) with the exported numbers as plain values, and every other sheet
hidden. Printing from such a copy means

* the PDF shows exactly the numbers of the HTML, DOCX, CSV and JSON exports (blanks as 0, text
  numbers such as “１２” as 12), whatever cached values the original carries;
* a county summary's large detail sheets and charts are not loaded, let alone printed;
* the live-check colours (conditional formats) are removed: a signed copy is no error list.

The copy's page header names the unit and the year; a forced export with hard findings says so
in the header of every page and lists the errors at the top of the first page.

Printing is done by LibreOffice headless, with a profile of its own per run (so two exports can
run at the same time) and recalculation forced (``workbook.office``). Where Excel is running on
Windows or macOS, Excel's own PDF export (xlwings ``Book.to_pdf``) is used instead; that branch
cannot run on the Linux machines the tests run on and is untested here. Set ``NIANBAO_PDF_ENGINE``
to ``libreoffice`` or ``excel`` to choose explicitly.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

from workbook.atomic import atomic_path, write_bytes_atomic
from workbook.build import BuildOptions, write_report
from workbook.layout import layout_for
from workbook.office import convert, soffice
from workbook.report import Report
from workbook.values import clean_text

from addin.publish.data import ExportData, output_path, prepare
from addin.publish.doc import table_grid

ENGINE_ENV = "NIANBAO_PDF_ENGINE"
NOTICE_FINDINGS = 5
_CF = re.compile(rb"<conditionalFormatting\b.*?</conditionalFormatting>", re.S)
_PRINT_AREA = re.compile(rb'<definedName name="_xlnm.Print_Area" localSheetId="(\d+)">[^<]*</definedName>')
PRINT_WIDTH = 130  # total column width (characters) a little over the landscape page: fit-to-width then fills it exactly


def _header_text(text: str) -> str:
    """Text for an Excel page header: ``&`` starts a control code and must be doubled."""
    return text.replace("&", "&&")


def _print_only_tables(data: ExportData) -> Callable[[Any, Any], None]:
    """The builder hook that turns a rebuilt workbook into a print copy of the three tables."""
    ed = data.edition
    table_sheets = [t.sheet for t in ed.tables]
    notice = data.notice_lines(limit=NOTICE_FINDINGS)

    def extra(wb: Any, fmt: Any) -> None:
        sheets = {ws.get_name(): ws for ws in wb.worksheets()}
        first = sheets[table_sheets[0]]
        first.activate()
        first.set_first_sheet()
        for name, ws in sheets.items():
            if name not in table_sheets:
                ws.hide()
        header = "&L" + _header_text(data.title + data.subtitle)
        if notice:
            header += "&R" + _header_text(f"有 {len(data.hard)} 处未解决的错误")
        for table in ed.tables:
            ws = sheets[table.sheet]
            ws.set_header(header, {"margin": 0.25})
            weights = table_grid(data, table.key).weights
            for j, w in enumerate(weights):
                ws.set_column(j, j, PRINT_WIDTH * w / sum(weights))
        if notice:
            tl = layout_for(ed.key).tables[ed.tables[0].key]
            style = wb.add_format({"font_size": 10, "bold": True, "font_color": "#C00000", "text_wrap": True,
                                   "valign": "top", "border": 2, "border_color": "#C00000"})
            first.merge_range(1, 0, 1, tl.width - 1, "\n".join(notice), style)
            lines = sum(1 + len(line) // 45 for line in notice)
            first.set_row(1, min(409, 14 * lines + 6))

    return extra


def print_copy(data: ExportData, target: Path) -> Path:
    """Write the print copy of ``data`` at ``target`` (see the module docstring)."""
    rep = data.report
    raw: dict[str, Any] = {}
    for cell in data.edition.cells:
        value = data.values[cell.id]
        raw[cell.id] = clean_text(rep.raw.get(cell.id)) if math.isnan(value) else value
    copy = Report(rep.edition_key, cover=dict(rep.cover), texts=dict(rep.texts), raw=raw,
                  source=rep.source, scope=rep.scope)
    write_report(copy, target, BuildOptions(derived="value", protect=False), extra=_print_only_tables(data))
    write_bytes_atomic(target, _finish_print_copy(target.read_bytes()))
    return target


def _finish_print_copy(data: bytes) -> bytes:
    """Remove the live-check colours from every sheet, and the print areas of the hidden sheets
    (LibreOffice prints a hidden sheet that has a print area). Works on our own builder's output."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                body = _CF.sub(b"", body)
            elif item.filename == "xl/workbook.xml":
                sheets = re.findall(rb"<sheet\b[^>]*>", body)
                hidden = {str(i).encode() for i, tag in enumerate(sheets) if b'state="hidden"' in tag}
                body = _PRINT_AREA.sub(lambda m, hidden=hidden: b"" if m.group(1) in hidden else m.group(0), body)
            dst.writestr(item, body)
    return out.getvalue()


def _excel_running() -> bool:
    """True where Excel can print for us: Windows or macOS, xlwings importable, Excel running."""
    if sys.platform not in ("win32", "darwin"):
        return False
    try:
        import xlwings as xw

        return xw.apps.count > 0
    except Exception:  # no Excel, or xlwings cannot talk to it: LibreOffice prints instead
        return False


def pdf_engine() -> str:
    """“excel” or “libreoffice”: the environment variable wins, else Excel when it is running."""
    choice = os.environ.get(ENGINE_ENV, "").strip().lower()
    if choice in ("excel", "libreoffice"):
        return choice
    return "excel" if _excel_running() else "libreoffice"


def _excel_pdf(copy: Path, out: Path, sheets: list[str]) -> Path:  # pragma: no cover - needs Excel
    """Excel's own PDF export through xlwings, in a hidden Excel instance of its own so that the
    clerk's open workbooks are not touched. Untested here: there is no Excel on Linux."""
    import xlwings as xw

    app = xw.App(visible=False, add_book=False)
    try:
        book = app.books.open(str(copy), read_only=True)
        book.to_pdf(str(out), include=sheets, show=False)
        book.close()
    finally:
        app.quit()
    return out


def render_pdf(data: ExportData, out: Path) -> Path:
    """Print ``data`` to ``out`` (atomically). Raises ``OfficeMissing`` without LibreOffice."""
    sheets = [t.sheet for t in data.edition.tables]
    with tempfile.TemporaryDirectory(prefix="nianbao-pdf-") as tmp:
        work = Path(tmp)
        copy = print_copy(data, work / "print" / "report.xlsx")
        pdf: Path | None = None
        if pdf_engine() == "excel":  # pragma: no cover - needs Excel
            try:
                pdf = _excel_pdf(copy, work / "excel.pdf", sheets)
            except Exception:
                soffice()  # no LibreOffice either: OfficeMissing says how to install it
                pdf = None
        if pdf is None:
            pdf = convert(copy, "pdf", work / "out").path
        with atomic_path(Path(out)) as target:
            shutil.copyfile(pdf, target)
    return Path(out)


def export_pdf(path_in: Path | str, path_out: Path | str, force: bool = False) -> Path:
    """The PDF of a workbook's three tables (the add-in's “导出PDF” button calls this).

    Raises ``ReadError`` (unreadable workbook), ``ExportRefused`` (hard findings, not forced),
    ``OfficeMissing`` (no LibreOffice, message says how to install) or ``RuntimeError`` (the
    conversion failed).
    """
    data = prepare(path_in, force)
    return render_pdf(data, output_path(path_in, path_out))


__all__ = ["export_pdf", "render_pdf", "print_copy", "pdf_engine", "ENGINE_ENV"]
