"""xlwings Server scripts: ``POST /xlwings/custom-scripts-call/{name}`` runs the one named here.

Each is a one-line door onto ``addin.xlcore``, which holds all the logic, so the desktop door
(``addin.desktop``) and this server door behave the same. The names are the URLs: the Office.js
ribbon and task pane call them through xlwings' ``runPython``, and the VBA macros of the
deployment guide call ``RunServerPython "https://…/xlwings/custom-scripts-call/validate"``.
"""

from __future__ import annotations

import xlwings as xw
from xlwings.server import (
    script,  # the server decorator (xlwings.script is the desktop one)
)

from addin import xlcore


@script
def validate(book: xw.Book) -> None:
    """校验：标出错误（红）和提示（黄），写“校验结果”页。"""
    xlcore.validate(book)


@script
def fill_totals(book: xw.Book) -> None:
    """计算合计：核对合计；有空白单元格时询问（Office.js）或提示是否填 0。"""
    xlcore.fill_totals(book)


@script
def fill_zeros(book: xw.Book) -> None:
    """空白填0：把空白的填报单元格填为 0（合计为公式，随之更新）。"""
    xlcore.fill_zeros(book)


@script
def clear_marks(book: xw.Book) -> None:
    """清除标记：恢复模板原来的底色，清空“校验结果”页。"""
    xlcore.clear_marks(book)
