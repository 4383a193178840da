"""Old office formats through LibreOffice: .doc and .wps to .docx, .xls and .et to a web page.

Many units still publish the Word 97 format (.doc) or WPS's own (.wps, Kingsoft's binary Word
format, not Microsoft Works'), and some publish the tables as a spreadsheet (.xls, or WPS's
.et). LibreOffice reads all of them; each file is converted in a headless run with a profile of
its own (``workbook.office``), and the result goes through the reader of its kind — a document
to the .docx reader, a spreadsheet to the web-page reader (LibreOffice writes every sheet as an
HTML table, merged cells as rowspan/colspan). The input file is never touched: a copy is
converted in a private temporary folder.

Files are recognised by their bytes, not only their name: a “.doc” that is really a web page
(Word's “save as web page”, common on government sites) or a .docx is read as what it is.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
DOCUMENTS = frozenset({".doc", ".wps", ".rtf", ".odt", ".wpt", ".dot"})
SHEETS = frozenset({".xls", ".et", ".ods", ".ett", ".xlt"})
TIMEOUT = 90.0


class ConvertError(ValueError):
    """LibreOffice is missing or could not convert the file; the message is for the office."""

    def __init__(self, message: str, code: str = "damaged") -> None:
        super().__init__(message)
        self.code = code


def sniff(suffix: str, data: bytes) -> str | None:
    """What an old-format file really is: "ole"/"rtf"/"odf" (convert), "html", "docx", "xlsx",
    or None when the bytes fit none of them."""
    head = data[:2048].lstrip().lower()
    if data.startswith(OLE):
        return "ole"
    if data.startswith(b"{\\rtf"):
        return "rtf"
    if data.startswith(b"PK"):
        if b"word/" in data[:65536] or suffix in DOCUMENTS and b"mimetype" not in data[:100]:
            return "docx"
        if b"opendocument" in data[:200]:
            return "odf"
        return "xlsx"
    if head.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<html" in head or b"mime-version:" in head:
        return "html"
    return None


def convert_office(path: Path, data: bytes, suffix: str) -> tuple[bytes, str]:
    """Convert an old-format document or spreadsheet; returns (bytes, "docx" | "html")."""
    from workbook.office import OfficeMissing, convert

    target = "html" if suffix in SHEETS else "docx"
    with tempfile.TemporaryDirectory(prefix="nianbao-import-") as tmp:
        staged = Path(tmp) / f"source{suffix if suffix != '.wps' else '.doc'}"
        staged.write_bytes(data)
        out = Path(tmp) / "out"
        try:
            converted = convert(staged, "html:HTML (StarCalc)" if target == "html" else "docx:MS Word 2007 XML", out,
                                timeout=TIMEOUT)
        except OfficeMissing as exc:
            raise ConvertError(f"读取 {suffix} 文件需要 LibreOffice：{exc}", "unsupported") from None
        except (RuntimeError, OSError, TimeoutError) as exc:
            what = "转换超时" if "timed out" in str(exc).lower() or isinstance(exc, TimeoutError) else "转换失败"
            raise ConvertError(f"{suffix} 文件无法打开（LibreOffice {what}），文件可能已损坏；"
                               "请在 Word 或 WPS 中“另存为”.docx 后再导入", "damaged") from None
        except Exception as exc:  # subprocess.TimeoutExpired and the like
            raise ConvertError(f"{suffix} 文件无法打开（LibreOffice 转换失败：{type(exc).__name__}）", "damaged") from None
        return converted.path.read_bytes(), target


__all__ = ["ConvertError", "DOCUMENTS", "SHEETS", "convert_office", "sniff"]
