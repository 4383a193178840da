"""Which existing files a command may replace: its own earlier outputs, nothing else.

``nianbao consolidate -o 其他.xlsx`` used to replace whatever workbook had that name, and
``nianbao export`` whatever PDF or Word file sat beside the workbook — a scanned signed report, a
unit's data, the office's own Word document. Now a command replaces an existing file only when
it recognises the file as an output of the same kind this tool writes; anything else is refused
with a Chinese message (exit code 2) unless ``--yes`` is given.

How an output is recognised, per kind (each check reads at most a few kilobytes, or the workbook's
``_meta`` sheet through the bounded reader):

* report workbooks: the ``_meta`` sheet's ``source`` — a summary (``summary``) for
  ``consolidate``, an empty template for ``template`` (a filled one is a unit's data);
* our other workbooks (audit, compare): their sheet names;
* PDF: the document title “…政府信息公开工作年度报告” and a producer that is LibreOffice or Excel;
* Word: that title and python-docx as the generator (a hand-written report has neither);
* HTML, CSV, JSON, Markdown: the marker or header line our writers put first.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from addin.cli.app import fail
from addin.cli.terminal import plain

HEAD_BYTES = 8192
REPORT_TITLE = "政府信息公开工作年度报告"
AUDIT_SHEETS = frozenset({"单位×规则"})
COMPARE_SHEETS = frozenset({"变化", "跨年度核对", "考核比率"})
_SHEET_NAME = re.compile(rb'<(?:\w+:)?sheet\b[^>]*\bname="([^"]*)"')
_DOCX_TITLE = re.compile(r"<dc:title>([^<]*)</dc:title>")


def _head(path: Path, size: int = HEAD_BYTES) -> str:
    with open(path, "rb") as fh:
        return fh.read(size).decode("utf-8", "replace").lstrip("\ufeff")


def _zip_member(path: Path, name: str, limit: int = 1 << 20) -> bytes | None:
    """One small member of a zip file (None when absent, too large or not a zip)."""
    try:
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(name)
            if info.file_size > limit:
                return None
            return z.read(name)
    except (KeyError, OSError, zipfile.BadZipFile, RuntimeError, ValueError):
        return None


def _report_source(path: Path) -> tuple[str, bool] | None:
    """(``_meta`` source, whether any input cell holds data) of one of our report workbooks."""
    from workbook.read import ReadError, read_report

    try:
        report = read_report(path)
    except (ReadError, OSError, ValueError):
        return None
    inputs = [c.id for c in report.edition.input_cells]
    filled = (bool(report.unit) or any(report.raw.get(cid) not in (None, "") for cid in inputs)
              or any(str(t).strip() for t in report.texts.values()))
    return report.source, filled


def summary_workbook(path: Path) -> bool:
    got = _report_source(path)
    return got is not None and got[0] == "summary"


def empty_template(path: Path) -> bool:
    got = _report_source(path)
    return got is not None and got[0] != "summary" and not got[1]


def _sheets(path: Path) -> set[str]:
    book = _zip_member(path, "xl/workbook.xml")
    return {m.decode("utf-8", "replace") for m in _SHEET_NAME.findall(book)} if book else set()


def audit_workbook(path: Path) -> bool:
    return AUDIT_SHEETS <= _sheets(path)


def compare_workbook(path: Path) -> bool:
    return COMPARE_SHEETS <= _sheets(path)


def export_pdf(path: Path) -> bool:
    try:
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument(str(path))
        try:
            meta = doc.get_metadata_dict()
        finally:
            doc.close()
    except Exception:  # noqa: BLE001 - any unreadable PDF is simply not recognised as ours
        return False
    producer = f"{meta.get('Producer', '')} {meta.get('Creator', '')}"
    return meta.get("Title", "").strip().endswith(REPORT_TITLE) and ("LibreOffice" in producer or "Excel" in producer)


def export_docx(path: Path) -> bool:
    core = _zip_member(path, "docProps/core.xml")
    if core is None:
        return False
    text = core.decode("utf-8", "replace")
    title = _DOCX_TITLE.search(text)
    return bool(title and title.group(1).strip().endswith(REPORT_TITLE)) and "python-docx" in text


def export_html(path: Path) -> bool:
    head = _head(path)
    return 'class="nianbao-report"' in head


def compare_html(path: Path) -> bool:
    return "<title>年度对比</title>" in _head(path)


def _first_line(path: Path) -> str:
    return _head(path, 2048).splitlines()[0] if _head(path, 2048) else ""


def long_csv(path: Path) -> bool:
    """The long format of ``export --to csv`` or of ``consolidate --csv``."""
    from addin.county.summary import LONG_FIELDS
    from addin.publish.data import CSV_HEADER

    line = _first_line(path).strip()
    return line in (",".join(CSV_HEADER), ",".join(zh for _, zh in LONG_FIELDS))


def long_json(path: Path) -> bool:
    head = _head(path, 4096)
    return bool(re.match(r'\s*\{\s*"title":\s*"[^"]*' + REPORT_TITLE, head)) and '"source"' in head


def rules_markdown(path: Path) -> bool:
    return _head(path, 512).startswith("# 校验规则")


@dataclass(frozen=True)
class Kind:
    """An output kind: what the user reads it as, and how an earlier one is recognised."""

    label: str
    ours: Callable[[Path], bool]


SUMMARY = Kind("汇总表", summary_workbook)
TEMPLATE = Kind("空白模板", empty_template)
AUDIT = Kind("核查结果工作簿", audit_workbook)
COMPARE = Kind("对比工作簿", compare_workbook)
COMPARE_HTML = Kind("对比网页", compare_html)
RULES = Kind("校验规则文档", rules_markdown)
LONG_CSV = Kind("长表 CSV", long_csv)
LONG_JSON = Kind("长表 JSON", long_json)
EXPORTS = {"pdf": Kind("导出的 PDF", export_pdf), "html": Kind("导出的网页", export_html),
           "docx": Kind("导出的 Word 文档", export_docx), "csv": LONG_CSV, "json": LONG_JSON}


def may_replace(path: Path, kind: Kind) -> bool:
    """True when nothing is at ``path`` or it is an earlier output of ``kind``."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return True
    if path.is_dir() or path.is_symlink():
        return False
    try:
        return kind.ours(path)
    except (OSError, ValueError):
        return False


def guard(path: Path, kind: Kind, yes: bool) -> None:
    """Stop (exit code 2) before replacing a file that is not an earlier output of ``kind``."""
    if yes or may_replace(path, kind):
        return
    if Path(path).is_dir():
        fail(f"输出位置 {plain(path)} 是一个文件夹，请给出文件名。")
    fail(f"文件 {plain(path)} 已存在，且不是本工具生成的{kind.label}，未覆盖（没有做任何修改）。"
         "请用 -o 另选文件名；确认要替换它请加 --yes。")


__all__ = ["AUDIT", "COMPARE", "COMPARE_HTML", "EXPORTS", "Kind", "LONG_CSV", "LONG_JSON", "RULES", "SUMMARY", "TEMPLATE",
           "guard", "may_replace"]
