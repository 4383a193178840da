"""The desktop door: the add-in's buttons for an office that runs Python next to Excel.

With Python, this toolkit and the xlwings Excel add-in (``xlwings addin install``) on the PC, a
VBA button runs, for example::

    Sub 校验()
        RunPython "import addin.desktop as nb; nb.validate()"
    End Sub

Each function takes the workbook that called it (``xw.Book.caller()``) and hands it to the same
core as the server (``addin.xlcore``), so both doors mark, list and answer alike. This module is
deliberately thin: it needs a running Excel on Windows or macOS and cannot be tested here (the
core it calls is tested through the server and in process). See docs/加载项部署说明.md.
"""

from __future__ import annotations

import xlwings as xw

from . import xlcore


def validate() -> xlcore.Outcome:
    """校验：标出错误（红）和提示（黄），写“校验结果”页。"""
    return xlcore.validate(xw.Book.caller())


def fill_totals() -> xlcore.Outcome:
    """计算合计：核对合计，说明空白单元格。"""
    return xlcore.fill_totals(xw.Book.caller())


def fill_zeros() -> xlcore.Outcome:
    """空白填0：把空白的填报单元格填为 0。"""
    return xlcore.fill_zeros(xw.Book.caller())


def clear_marks() -> xlcore.Outcome:
    """清除标记：恢复模板原来的底色，清空“校验结果”页。"""
    return xlcore.clear_marks(xw.Book.caller())


def export_pdf() -> None:
    """导出PDF：把已保存的工作簿的三张表导出为同一文件夹下的 PDF。

    On the desktop the workbook is a file next to the user, so the export works on that file
    (as last saved — the message says so) and uses Excel's own PDF export where Excel runs.
    """
    from pathlib import Path

    from workbook.office import OfficeMissing

    from .export_data import ExportRefused
    from .export_pdf import export_pdf as export

    book = xw.Book.caller()
    source = Path(book.fullname)
    try:
        out = export(source, source.with_suffix(".pdf"))
        book.app.alert(f"已按最近一次保存的内容导出：{out}", title="导出PDF")
    except (ExportRefused, OfficeMissing) as exc:
        book.app.alert(str(exc), title="导出PDF")


__all__ = ["clear_marks", "export_pdf", "fill_totals", "fill_zeros", "validate"]
