"""The 单位 page's heavy work on an uploaded file — the marked workbook and the PDF — run in a
worker process with a memory and a time limit (``workbook.isolate``).

Why: both are done for anyone who can reach the page, without a code, on a file nobody has
vetted beyond the reader's bounds. Marking loads the whole package with openpyxl (every sheet,
not only the report's) and builds the 校验 button's dense value grids; the PDF runs LibreOffice.
A file that gets past every bound we know of and still blows up costs its worker — the request
gets a Chinese refusal — never the server that every unit and the office are using.

This module holds only the work (no web framework), so that a fork server can import it once
(``preload``) and each worker starts in milliseconds.
"""

from __future__ import annotations

import copy
import zipfile
from dataclasses import dataclass
from pathlib import Path

from workbook.isolate import Budget, Failed, default_budget, preload, run_chunks, tick
from workbook.office import OfficeMissing
from workbook.report import Report

import addin.excel.core as xlcore
from addin.excel.actions import ActionError, apply_actions
from addin.excel.payload import PayloadTooLarge, build_payload
from addin.publish.data import ExportRefused, prepare, rule_list
from addin.publish.pdf import render_pdf

#: Uncompressed size of a package openpyxl may load to mark it. openpyxl builds every cell of every
#: sheet in memory (~100× the XML); the reader's bounds only cover what the reader itself loads. A
#: report workbook is ~0.2 MB uncompressed (Excel's and WPS's styles add a few MB at most).
MARK_MAX_BYTES = 16 * 1024 * 1024
#: Cells of all value grids of the payload together. A report workbook's grids hold ~5,000 cells
#: (six sheets of at most ~60×12, the 说明 sheet 42 rows); a stray value far down a sheet adds its
#: rows. Far fewer than ``build_payload``'s own bound, which must also fit a county summary.
MARK_MAX_CELLS = 500_000

TOO_LARGE = 413
HEAVY = "标记这个工作簿需要的内存或时间超过服务器的限制，文件内容可能异常"


@dataclass(frozen=True)
class Outcome:
    """What a job came to: ``status`` 0 for done, else the HTTP status of the refusal and its
    Chinese reason (exceptions are turned into outcomes inside the worker: a worker's exception
    reaches the parent only as a type name)."""

    status: int = 0
    message: str = ""


def markable(src: Path) -> None:
    """Refuse, before openpyxl sees it, a package far larger than any report workbook."""
    try:
        with zipfile.ZipFile(src) as z:
            total = sum(i.file_size for i in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ValueError("文件不是完整的 .xlsx 工作簿") from None
    if total > MARK_MAX_BYTES:
        raise PayloadTooLarge(f"工作簿解压后约 {total // 1024 // 1024} MB，远大于年报工作簿（通常不到 1 MB），含有大量与年报无关的内容")


def marked_workbook(src: Path, out: Path) -> None:
    """The workbook as the 校验 button leaves it: its answer (Office.js, which can clear fills and
    add notes) applied to the file by the project's action applier. Raises ``PayloadTooLarge``
    for a package beyond the bounds, ``ValueError``/``ActionError`` for one that cannot be marked."""
    import xlwings as xw

    markable(src)
    payload = build_payload(src, "Office.js", max_cells=MARK_MAX_CELLS)
    book = xw.Book(json=copy.deepcopy(payload))
    try:
        xlcore.validate(book)
        actions = book.json()["actions"]
    finally:
        book.close()  # the remote engine keeps every open book in its app: let it go
    apply_actions(src, actions, out, client="Office.js")


def _mark(items: list[tuple[str, str]]) -> list[Outcome]:
    """Worker side: mark each (source, target)."""
    out: list[Outcome] = []
    for src, target in items:
        try:
            marked_workbook(Path(src), Path(target))
            out.append(Outcome())
        except PayloadTooLarge as exc:
            out.append(Outcome(TOO_LARGE, f"{exc}，无法生成标记后的工作簿。请删去无关的工作表或内容后重试；校验结果以本页列出的为准。"))
        except (ValueError, ActionError) as exc:
            out.append(Outcome(400, f"无法在这个工作簿上做标记：{exc}。请在 Excel 或 WPS 中打开、保存后重试。"))
        except MemoryError:
            out.append(Outcome(TOO_LARGE, f"{HEAVY}，无法生成标记后的工作簿。校验结果以本页列出的为准。"))
        tick()
    return out


def _pdf(items: list[tuple[Report, str]]) -> list[Outcome]:
    """Worker side: the PDF of each report (refused while errors remain, as ``nianbao export``)."""
    out: list[Outcome] = []
    for report, target in items:
        try:
            render_pdf(prepare(report), Path(target))
            out.append(Outcome())
        except ExportRefused as exc:
            out.append(Outcome(409, f"工作簿有 {len(exc.hard)} 处错误（{rule_list(exc.hard)}），不能导出 PDF。请先改正红色标记的错误。"))
        except OfficeMissing as exc:
            out.append(Outcome(503, f"服务器上无法生成 PDF：{exc}\n请把这条提示转给信息化人员。"))
        except MemoryError:
            out.append(Outcome(TOO_LARGE, "生成 PDF 需要的内存超过服务器的限制，文件内容可能异常。"))
        tick()
    return out


def _failed(outcome: Failed, what: str) -> Outcome:
    if outcome.kind == "timeout":
        return Outcome(TOO_LARGE, f"{what}超过 {outcome.seconds:.0f} 秒仍未完成，文件内容可能异常。校验结果以本页列出的为准。")
    if outcome.kind == "memory":
        return Outcome(TOO_LARGE, f"{what}需要的内存超过服务器的限制，文件内容可能异常。校验结果以本页列出的为准。")
    return Outcome(500, f"{what}时程序出错，未能完成。请稍后重试，或把这条提示转给信息化人员。")


def job_budget() -> Budget:
    """The reading workers' budget (``NIANBAO_READ_MEMORY_MB``, ``NIANBAO_READ_SECONDS``): the
    same knobs IT already has for untrusted files. LibreOffice started by the PDF job inherits the
    memory limit (it needs ~300 MB of address space)."""
    return default_budget()


def mark_isolated(src: Path, out: Path, budget: Budget | None = None) -> Outcome:
    """``marked_workbook`` in a worker process with ``budget``."""
    ((_, result),) = run_chunks(_mark, [[(str(src), str(out))]], 1, budget=budget or job_budget())
    return _failed(result, "标记工作簿") if isinstance(result, Failed) else result[0]


def pdf_isolated(report: Report, out: Path, budget: Budget | None = None) -> Outcome:
    """The PDF of ``report`` in a worker process with ``budget``."""
    ((_, result),) = run_chunks(_pdf, [[(report, str(out))]], 1, budget=budget or job_budget())
    return _failed(result, "生成 PDF") if isinstance(result, Failed) else result[0]


preload(__name__)  # a fork server imports this (openpyxl, xlwings, the checks) once, not every worker

__all__ = ["MARK_MAX_BYTES", "MARK_MAX_CELLS", "Outcome", "mark_isolated", "markable", "marked_workbook", "pdf_isolated"]
