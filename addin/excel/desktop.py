"""The desktop door: the add-in's buttons for an office that runs Python next to Excel.

With Python, this toolkit and the xlwings Excel add-in (``xlwings addin install``) on the PC, a
VBA button runs, for example::

    Sub 校验()
        RunPython "import addin.excel.desktop as nb; nb.validate()"
    End Sub

Each function takes the workbook that called it (``xw.Book.caller()``) and hands it to the same
core as the server (``addin.excel.core``), so both doors mark, list and answer alike. This module is
deliberately thin: it needs a running Excel on Windows or macOS and cannot be tested here (the
core it calls is tested through the server and in process). See docs/加载项部署说明.md.
"""

from __future__ import annotations

import xlwings as xw

import addin.excel.core as xlcore


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


def draft() -> xlcore.Outcome:
    """生成数据段落：按表格数字生成“一、总体情况”的数据段落；已有其他文字时只提示，不覆盖。"""
    import addin.excel.buttons as buttons

    return buttons.draft_overview(xw.Book.caller())


def draft_apply() -> xlcore.Outcome:
    """写入数据段落：把数据段落写入“一、总体情况”（原有文字保留）。"""
    import addin.excel.buttons as buttons

    return buttons.draft_apply(xw.Book.caller())


def export_pdf() -> str:
    """导出PDF：把已保存的工作簿的三张表导出为同一文件夹下的 PDF；返回所显示的提示。

    On the desktop the workbook is a file next to the user, so the export works on that file
    (as last saved — the message says so) and uses Excel's own PDF export where Excel runs.
    Every way the export can fail ends in a Chinese alert, never a Python traceback in Excel.
    """
    from pathlib import Path

    from workbook.errors import os_error_text
    from workbook.office import OfficeMissing
    from workbook.read import ReadError

    from addin.publish.data import ExportRefused
    from addin.publish.pdf import export_pdf as export

    book = xw.Book.caller()
    source = Path(book.fullname)
    try:
        message = f"已按最近一次保存的内容导出：{export(source, source.with_suffix('.pdf'))}"
    except (ExportRefused, OfficeMissing) as exc:
        message = str(exc)
    except ReadError as exc:
        message = f"无法读取已保存的工作簿（{exc.reason}）。请先保存工作簿再导出。"
    except OSError as exc:
        message = f"无法写出 PDF：{os_error_text(exc)}。如果这个 PDF 正在阅读器中打开，请先关闭后重试。"
    except (RuntimeError, ValueError) as exc:  # the conversion failed, or the output is the input
        message = f"导出 PDF 没有成功：{exc}"
    book.app.alert(message, title="导出PDF")
    return message


__all__ = ["clear_marks", "draft", "draft_apply", "export_pdf", "fill_totals", "fill_zeros", "validate"]
