"""xlwings Server scripts: ``POST /xlwings/custom-scripts-call/{name}`` runs the one named here.

Each is a one-line door onto ``addin.excel.core`` or ``addin.excel.buttons``, which hold all the logic, so the desktop door
(``addin.excel.desktop``) and this server door behave the same. The names are the URLs: the Office.js
ribbon and task pane call them through xlwings' ``runPython``, and the VBA macros of the
deployment guide call ``RunServerPython "https://…/xlwings/custom-scripts-call/validate"``.

Every script is ``async`` and runs its work in a worker thread: xlwings Server calls a plain
``def`` script directly on the event loop, where one slow or hostile click (a large workbook)
would hold up every other clerk's click and even ``/manifest``.
"""

from __future__ import annotations

import asyncio

import xlwings as xw
from xlwings.server import (
    script,  # the server decorator (xlwings.script is the desktop one)
)

import addin.excel.buttons as buttons

import addin.excel.core as xlcore


@script
async def validate(book: xw.Book) -> None:
    """校验：标出错误（红）和提示（黄），写“校验结果”页。"""
    await asyncio.to_thread(xlcore.validate, book)


@script
async def fill_totals(book: xw.Book) -> None:
    """计算合计：核对合计；有空白单元格时询问（Office.js）或提示是否填 0。"""
    await asyncio.to_thread(xlcore.fill_totals, book)


@script
async def fill_zeros(book: xw.Book) -> None:
    """空白填0：把空白的填报单元格填为 0（合计为公式，随之更新）。"""
    await asyncio.to_thread(xlcore.fill_zeros, book)


@script
async def clear_marks(book: xw.Book) -> None:
    """清除标记：恢复模板原来的底色，清空“校验结果”页。"""
    await asyncio.to_thread(xlcore.clear_marks, book)


@script
async def draft(book: xw.Book) -> None:
    """生成数据段落：按表格数字生成“一、总体情况”的数据段落；已有文字时先询问（Office.js）或说明怎样写入。"""
    await asyncio.to_thread(buttons.draft_overview, book)


@script
async def draft_apply(book: xw.Book) -> None:
    """写入数据段落：把数据段落写入“一、总体情况”（替换原有的数据段落，或添加在原有文字之后）。"""
    await asyncio.to_thread(buttons.draft_apply, book)


@script
async def export_pdf(book: xw.Book) -> None:
    """导出PDF：生成三张统计表的 PDF，供下载（有错误时拒绝）。"""
    await asyncio.to_thread(buttons.export_pdf, book)


@script
async def consolidate(book: xw.Book, batch: str = "") -> None:
    """汇总：汇总任务窗格上传的各单位文件，提供汇总表下载；打开的是空白模板时写入汇总数字。"""
    await asyncio.to_thread(buttons.consolidate_units, book, batch)
