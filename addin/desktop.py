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


__all__ = ["clear_marks", "fill_totals", "fill_zeros", "validate"]
