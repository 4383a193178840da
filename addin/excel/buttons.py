"""The add-in's 导出PDF, 生成数据段落 and 汇总 buttons, on the same cores as ``nianbao export``,
``nianbao draft`` and ``nianbao consolidate``.

生成数据段落 writes one text cell of the open workbook (see ``draft_overview``). 导出PDF and 汇总
make a *file* — a PDF, a summary workbook — which an Excel client cannot receive as
an action. So the server keeps the file under a random token (``addin.excel.transfer``) and the answer
offers it: the Office.js task pane shows a download link (and opens the PDF in the browser), the
VBA client gets a message with the address, since VBA cannot download.

导出PDF: the posted values are the workbook (the client sends no file). They are read as
``nianbao validate`` reads a file (``report_from_grids``) and printed by the export's own code
(``prepare`` → ``render_pdf``, which rebuilds a print copy with the project's builder), so the
button's PDF is the command's PDF, refusals and all.

汇总: the task pane uploads the units' files first (``POST /nianbao/upload``, a batch token), then
runs this script with the token. The consolidation is the command line's, and its summary file is
always offered. The open workbook receives the sums only where that leaves it consistent, since
no client can unprotect (see ``_target``): a template with formula totals — a blank one, or one
already naming the summary's unit — gets the inputs, the cover and all findings in 校验结果; a
summary written by ``nianbao consolidate`` (totals stored as locked values, protected 明细 and
报送情况, its list of members in the protected _meta) is left as it is, and the new file is the
answer.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xlwings as xw

from checks import validate_report
from checks.findings import SEVERITY_LABEL, Finding
from workbook.layout import RESULTS_SHEET, layout_for
from workbook.office import OfficeMissing
from workbook.report import Report
from workbook.spec import cell_id
from workbook.values import Status, format_number

import addin.excel.core as xlcore
from addin.county.consolidate import SCOPES, ConsolidateOptions, ConsolidationResult, consolidate, save
from addin.publish.draft import MAX_CELL_CHARS, TEXT_KEY, contradictions, draft_text, merge_overview
from addin.publish.data import ExportRefused, prepare, rule_list
from addin.publish.pdf import render_pdf
from addin.county.model import STATUS, USED
from addin.county.register import ConsolidationError
from addin.publish.safety import cell_value
from addin.county.model import BOARD_SHEET, CHART_SHEET, DETAIL_SHEET
from addin.county.summary import summary_sheets
from addin.excel.transfer import PUBLIC_URL_ENV, Transfers, safe_name
from addin.excel.core import TITLE, Client, Outcome, alert, guarded

log = logging.getLogger(__name__)

OFFER = "nbOffer"  # the task-pane callback that shows a made file (static/js/nianbao.js)
DOWNLOAD_ROUTE = "/nianbao/download/"
REGISTER_HINT = "名单"
UNIT_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm", ".xls")


def transfers() -> Transfers:
    """The transfer folder, read from the environment on each click (tests and IT may set it)."""
    return Transfers.default()


def download_path(token: str) -> str:
    """The download route of a token, below the server's app path (``XLWINGS_APP_PATH``)."""
    return os.environ.get("XLWINGS_APP_PATH", "").rstrip("/") + DOWNLOAD_ROUTE + token


def public_url(path: str) -> str:
    """The address a browser on a clerk's PC opens, for clients without a task pane: the public
    host name when IT configured one (HTTPS), else the address ``nianbao serve`` listens on; empty
    when neither is known (then the message explains how to complete the address)."""
    host = os.environ.get("XLWINGS_HOSTNAME", "").strip()
    if host:
        return f"https://{host}{path}"
    base = os.environ.get(PUBLIC_URL_ENV, "").strip().rstrip("/")
    return base + path if base else ""


@dataclass(frozen=True)
class Offer:
    """A made file offered to the clerk, and what to say about it."""

    kind: str  # "pdf" | "summary"
    title: str
    message: str
    path: str
    filename: str
    label: str
    sentence: str = ""
    figures: tuple[tuple[str, str], ...] = ()


def offer(book: xw.Book, client: Client, item: Offer) -> None:
    """Office.js: the task pane shows the message and the link (and opens a PDF); other clients:
    a message with the address to open in a browser."""
    if client.taskpane:
        data = {"kind": item.kind, "title": item.title, "message": item.message, "url": item.path,
                "filename": item.filename, "label": item.label, "sentence": item.sentence,
                "figures": [list(f) for f in item.figures]}
        xlcore.app_action(book, "runMacro", [OFFER, json.dumps(data, ensure_ascii=False)])
        return
    url = public_url(item.path)
    valid = transfers().lifetime
    where = (f"请在浏览器中打开以下地址下载（{valid}内有效）：\n{url}" if url else
             f"请在浏览器中打开“服务器地址{item.path}”下载（{valid}内有效；服务器地址即按钮宏中 /xlwings 之前的部分）。")
    alert(book, client, f"{item.message}\n\n{where}", f"{TITLE} · {item.title}")


def write_cells(book: xw.Book, cells: dict[str, dict[tuple[int, int], Any]]) -> int:
    """Write {sheet: {(row0, col0): value}} in blocks — runs along each row, runs of the same span
    on consecutive rows stacked — so each cell is written once and the answer stays short.
    Returns the number of blocks."""
    blocks = 0
    for name, grid in cells.items():
        runs: dict[int, list[tuple[int, list[Any]]]] = defaultdict(list)
        for (r, c), v in sorted(grid.items()):
            row = runs[r]
            if row and row[-1][0] + len(row[-1][1]) == c:
                row[-1][1].append(v)
            else:
                row.append((c, [v]))
        stacked: list[list[Any]] = []
        open_: dict[tuple[int, int], list[Any]] = {}
        for r in sorted(runs):
            still: dict[tuple[int, int], list[Any]] = {}
            for c, values in runs[r]:
                key = (c, len(values))
                block = open_.get(key)
                if block is None or block[0] + len(block[2]) != r:
                    block = [r, c, []]
                    stacked.append(block)
                block[2].append(values)
                still[key] = block
            open_ = still
        sheet = book.sheets[name]
        for r, c, values in stacked:
            sheet.range((r + 1, c + 1)).value = values
        blocks += len(stacked)
    return blocks


# ------------------------------------------------------------------------------------------
# 导出PDF
# ------------------------------------------------------------------------------------------

def pdf_filename(report: Report, book_name: str) -> str:
    """“{单位}{年度}年政府信息公开工作年度报告.pdf” (“…（汇总）” for a summary), else the book's name."""
    unit = report.unit
    if not unit:
        return safe_name(Path(book_name).stem + ".pdf", "年度报告.pdf")
    year = report.cover.get("year", "")
    tail = "（汇总）" if report.source == "summary" else ""
    return safe_name(f"{unit}{report.edition.heading.format(year=year)}{tail}.pdf", "年度报告.pdf")


@guarded("导出PDF")
def export_pdf(book: xw.Book, client: Client) -> Outcome:
    """导出PDF: the PDF of the three tables, offered for download; refused while errors remain."""
    report = xlcore.read_book(book)
    name = report.unit or book.name
    try:
        data = prepare(report)
    except ExportRefused as exc:
        message = (f"“{name}”有 {len(exc.hard)} 处错误（{rule_list(exc.hard)}），不能导出 PDF。\n"
                   "请先点击“校验”，按红色标记改正后再导出。\n"
                   "（确需导出未改正的版本，可在命令行用 nianbao export --to pdf --force，PDF 首页会注明有未解决的错误。）")
        alert(book, client, message, f"{TITLE} · 导出PDF")
        return Outcome(message)
    store = transfers()
    token, target = store.new_download(pdf_filename(report, book.name))
    try:
        render_pdf(data, target)
    except OfficeMissing as exc:
        store.discard(target.parent)
        message = f"服务器上无法生成 PDF：{exc}\n请把这条提示转给信息化人员。"
        alert(book, client, message, f"{TITLE} · 导出PDF")
        return Outcome(message)
    except BaseException:
        store.discard(target.parent)
        raise
    soft = sum(1 for f in data.findings if f.severity == "soft")
    message = f"已生成“{name}”三张统计表的 PDF（A4 横向）。"
    if soft:
        message += f"\n工作簿还有 {soft} 处提示（黄色），请确认都已核实。"
    offer(book, client, Offer("pdf", "导出PDF", message, download_path(token), target.name, "下载 PDF"))
    return Outcome(message)


# ------------------------------------------------------------------------------------------
# 生成数据段落
# ------------------------------------------------------------------------------------------

#: The task-pane callback of the yes/no question (static/js/nianbao.js); its yes runs the script
#: ``draft_apply``, which is also the VBA button 写入数据段落.
ASK_DRAFT = "nbDraftOverview"
APPLY_LABEL = "写入数据段落"


def overview_label(report: Report) -> str:
    """The text part's label in the spec, e.g. “一、总体情况”."""
    return next(t.label for t in report.edition.texts if t.key == TEXT_KEY)


def _write_overview(book: xw.Book, report: Report, text: str) -> None:
    """The text into the 一、总体情况 cell: unlocked (the builder's text input), top-left of its
    merged area, on the cover as the workbook names it; one value, kept as text."""
    r, c = layout_for(report.edition_key).cover.texts[TEXT_KEY]
    sheet = report.sheet_names.get("cover", report.edition.cover_sheet)
    book.sheets[sheet].range((r + 1, c + 1)).value = cell_value(text)


def _still(left: list[Finding]) -> str | None:
    """The sentence about what the text checks still find, or None."""
    return "原有文字中仍有与表格不符之处：" + "；".join(f.message for f in left) + "。请修改或删除这些数字。" if left else None


def _lines(*parts: str | None) -> str:
    """A message of lines; None leaves its line out, "" is an empty line."""
    return "\n".join(p for p in parts if p is not None)


@guarded("生成数据段落")
def draft_overview(book: xw.Book, client: Client, apply: bool = False) -> Outcome:
    """生成数据段落: the data paragraph of 一、总体情况 from the tables (``draft_text``), merged into
    the clerk's text the way ``nianbao draft`` merges it (``merge_overview``: only the marked data
    paragraph is replaced, every other line is kept).

    Nothing the clerk wrote is overwritten without consent. A blank cell is simply filled. When
    the cell holds text: Office.js asks yes/no, and a yes runs ``draft_apply``; the other clients
    cannot ask, so they write only when the merge replaces nothing but an earlier data paragraph
    (and say what it was); else they show the paragraph and how to apply it (paste it, or the
    写入数据段落 button, ``apply=True``, which appends it). Refused while the tables have errors,
    as on the command line: a paragraph quoting numbers that do not add up is worse than none.
    """
    title = f"{TITLE} · 生成数据段落"
    report = xlcore.read_book(book)
    label = overview_label(report)
    hard = [f for f in validate_report(report) if f.severity == "hard"]
    if hard:
        message = (f"表格有 {len(hard)} 处错误（{rule_list(hard)}），数字不平，不能据此生成“{label}”的数据段落。\n"
                   "请先点击“校验”，按红色标记改正后再生成。")
        alert(book, client, message, title)
        return Outcome(message)
    existing = report.texts.get(TEXT_KEY, "")
    merged = merge_overview(existing, draft_text(report))
    if not merged.changed:
        message = f"“{label}”中的数据段落已与表格一致，无需修改。"
        left = _still(contradictions(report, existing))
        alert(book, client, _lines(message, left), title)
        return Outcome(message)
    if len(merged.text) > MAX_CELL_CHARS:
        message = f"“{label}”加上数据段落后超过 Excel 单元格的 {MAX_CELL_CHARS} 字上限，未写入。请精简原有文字。"
        alert(book, client, message, title)
        return Outcome(message)
    left = _still(contradictions(report, merged.text))
    paragraph = merged.paragraph
    if existing.strip() and not apply:
        how = (f"将用它替换原有的数据段落（其余文字保留不变）。原有的数据段落是：\n{merged.replaced}"
               if merged.replaced is not None else "将把它添加在原有文字之后，原有文字保留不变。")
        if client.ask:
            message = _lines(f"“{label}”中已有文字。按表格数字生成的数据段落是：", "", paragraph, "", how, left, "",
                             "是否写入？")
            alert(book, client, message, title, ask=ASK_DRAFT)
            return Outcome(message)
        if merged.replaced is None:
            message = _lines(
                f"“{label}”中已有文字，其中没有可替换的数据段落，加载项没有改动。按表格数字生成的数据段落是：", "", paragraph, "",
                "要使用这段文字，可以：",
                f"1. 在本提示框中按 Ctrl+C 复制全部内容，把上面这段粘贴到封面“{label}”单元格中合适的位置；或",
                f"2. 点击“{APPLY_LABEL}”按钮，把这段添加在原有文字之后（原有文字保留不变）。", left)
            alert(book, client, message, title)
            return Outcome(message)
    _write_overview(book, report, merged.text)
    if not existing.strip():
        done = [f"已按表格数字在“{label}”中写入数据段落：", paragraph, "请在这段前后补充本单位的工作情况。"]
    elif merged.replaced is not None:
        done = [f"已按表格数字更新“{label}”中的数据段落，其余文字未改动。", f"原来是：{merged.replaced}",
                f"现在是：{paragraph}"]
    else:
        done = [f"已把按表格数字生成的数据段落添加在“{label}”原有文字之后，原有文字未改动：", paragraph]
    message = _lines(*done, left)
    alert(book, client, message, title)
    return Outcome(message)


def draft_apply(book: xw.Book) -> Outcome:
    """写入数据段落: 生成数据段落 with the clerk's consent (the yes of Office.js, or the VBA button)."""
    return draft_overview(book, apply=True)



# ------------------------------------------------------------------------------------------
# 汇总
# ------------------------------------------------------------------------------------------

NO_UPLOAD = ("汇总要先选择各单位报送的文件：请在“政务公开年报”任务窗格（Office.js 加载项）中选择文件，再点击“汇总”。\n"
             "VBA 按钮不能上传文件，请改在命令行运行 nianbao consolidate（见部署说明）。")
EXPIRED = "上传的文件已失效（时间过长，或服务器重启过），请重新选择文件后再点击“汇总”。"


@dataclass(frozen=True)
class Inputs:
    """An upload batch sorted out: the units' files, the register (if any) and display names."""

    units: list[Path]
    register: Path | None
    shown: dict[str, str]


def sort_batch(folder: Path) -> Inputs:
    """Everything uploaded is a unit's file, except a .csv or a workbook whose name says 名单,
    which is the county's register of units (``--units``)."""
    units: list[Path] = []
    registers: list[Path] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        is_register = path.suffix.lower() == ".csv" or (REGISTER_HINT in path.stem and path.suffix.lower() in UNIT_SUFFIXES)
        (registers if is_register else units).append(path)
    shown = {str(p): p.relative_to(folder).as_posix() for p in units}
    return Inputs(units, registers[0] if registers else None, shown)


def blank_template(report: Report) -> bool:
    """A workbook of the template whose input cells are all blank (its cover may be filled)."""
    return report.source == "template" and all(
        report.statuses[c.id] == Status.BLANK for c in report.edition.input_cells)


def options_for(report: Report, register: Path | None) -> ConsolidateOptions:
    """The command line's options, taken from the open workbook: its year; the unit of a summary
    or of a blank template as the summary's name (a unit's own report names no summary: then the
    register or the units' 上级单位 do, as on the command line); for a summary, its scope."""
    scope = report.scope if report.source == "summary" and report.scope in SCOPES else "all"
    name = report.unit if report.source == "summary" or blank_template(report) else ""
    return ConsolidateOptions(year=report.year, name=name or None, units=register, scope=scope, workers=1)


def _target(report: Report, result: ConsolidationResult) -> str:
    """Why the open workbook cannot take the sums, or "" when it can.

    It can when it is a blank workbook of the template of the summary's edition: its inputs are
    unlocked and its totals are SUM formulas that follow them, and there is nothing to overwrite.
    A summary written by ``nianbao consolidate`` stores its totals as locked values and protects
    明细, 报送情况 and its member list: new inputs there would contradict its totals and members.
    A filled workbook is somebody's numbers — a unit's report, or an earlier 汇总 — and is kept.
    """
    if report.source == "summary":
        return (f"本工作簿是以前生成的汇总表：它的合计栏、{DETAIL_SHEET}、{BOARD_SHEET}和所含单位清单都受保护，加载项不能在原表中更新，"
                "否则数字与合计、清单不一致。")
    if report.source != "template":
        return "本工作簿是据公开发布的报告录入的，合计栏保存的是原有数字，加载项不把汇总数字写入其中。"
    if report.edition_key != result.edition.key:
        return f"本工作簿是{report.edition.name}，而各单位报送的是{result.edition.name}，不能写入。"
    if not blank_template(report):
        return (f"本工作簿（“{report.unit or '未填单位名称'}”）已填有数字，不是汇总用的空白模板，加载项不覆盖它；"
                "要在 Excel 中看到汇总数字，请打开一份空白模板再点击“汇总”。")
    return ""


def _write_summary(book: xw.Book, report: Report, result: ConsolidationResult) -> None:
    """The sums into the open template: inputs of the three tables (totals follow as formulas),
    the cover fields the summary sets, 一、总体情况 only while blank, and every finding of the
    units and the summary in 校验结果 — all unlocked cells or unprotected sheets."""
    lay = layout_for(report.edition_key)
    ed = report.edition
    summary = result.summary
    cells: dict[str, dict[tuple[int, int], Any]] = defaultdict(dict)
    for cell in ed.input_cells:
        sheet = report.sheet_names.get(cell.table, lay.sheet_of(cell.id))
        cells[sheet][lay.pos(cell.id)] = cell_value(float(summary.raw.get(cell.id) or 0.0))
    cover = report.sheet_names.get("cover", ed.cover_sheet)
    for key, pos in lay.cover.fields.items():
        value = summary.cover.get(key, "")
        if value:
            cells[cover][pos] = cell_value(value)
    if not report.texts.get("overview") and "overview" in lay.cover.texts:
        cells[cover][lay.cover.texts["overview"]] = cell_value(summary.texts.get("overview", ""))
    write_cells(book, cells)
    _write_results(book, summary_sheets(result)[RESULTS_SHEET])


def _write_results(book: xw.Book, grid: list[list[Any]]) -> None:
    """校验结果 (unprotected): the summary's header and rows, old rows cleared, severities coloured."""
    if RESULTS_SHEET not in [s.name for s in book.sheets]:
        return
    sheet = book.sheets[RESULTS_SHEET]
    width = max(len(grid[0]), sheet.used_range.last_cell.column)
    last = sheet.used_range.last_cell.row
    if last >= 2:
        sheet.range((2, 1), (last, width)).clear()
    sheet.range((1, 1)).value = [[cell_value(v) for v in grid[0]]]
    rows = [[cell_value(v) for v in row] for row in grid[1:]]
    if not rows:
        return
    sheet.range((2, 1)).value = rows
    fills = xlcore.template_fills()
    colour = {SEVERITY_LABEL["hard"]: fills.hard, SEVERITY_LABEL["soft"]: fills.soft}
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i][0] != rows[start][0]:
            if rows[start][0] in colour:
                sheet.range((2 + start, 1), (1 + i, 1)).color = colour[rows[start][0]]
            start = i


def figures(result: ConsolidationResult) -> tuple[tuple[str, str], ...]:
    """The summary's 总计 column of table 三 (row label, number), for the task pane."""
    ed = result.edition
    numbers = result.summary.with_totals()
    block = ed.table("part3").blocks[0]
    out = []
    for row in block.rows:
        label = row.path[0] if len(row.path) == 1 else "".join(row.path[1:])
        out.append((label, format_number(numbers[cell_id("part3", block.key, row.key, "total")])))
    return tuple(out)


def account(result: ConsolidationResult) -> list[str]:
    """What was summed and what was not, in a few lines."""
    lines = [f"已汇总 {len(result.included)} 个单位：{result.name}{result.year}年度，{result.scope_label}。"]
    left = Counter(STATUS[s.status] for s in result.sources if s.status not in USED)
    if left:
        lines.append(f"另有 {sum(left.values())} 个文件未汇总（" + "、".join(f"{k} {v} 个" for k, v in left.items())
                     + f"），原因见汇总表的“{BOARD_SHEET}”页。")
    if result.missing:
        lines.append(f"单位名单中有 {len(result.missing)} 个单位未报送。")
    hard = sum(s.hard for s in result.included)
    soft = sum(s.soft for s in result.included)
    if hard or soft:
        lines.append(f"所汇总的单位共有 {hard} 处错误、{soft} 处提示，逐条列在“{RESULTS_SHEET}”页。")
    if result.summary_findings:
        lines.append(f"汇总数本身有 {len(result.summary_findings)} 处问题，也列在“{RESULTS_SHEET}”页。")
    return lines


@guarded("汇总")
def consolidate_units(book: xw.Book, client: Client, batch: str = "") -> Outcome:
    """汇总: consolidate the uploaded units; offer the summary file; write the sums into the open
    workbook where it can take them (see ``_target``)."""
    if not batch:
        alert(book, client, NO_UPLOAD, f"{TITLE} · 汇总")
        return Outcome(NO_UPLOAD)
    store = transfers()
    folder = store.batch(batch)
    if folder is None:
        alert(book, client, EXPIRED, f"{TITLE} · 汇总")
        return Outcome(EXPIRED)
    try:
        report = xlcore.read_book(book)
        inputs = sort_batch(folder)
        if not inputs.units:
            message = "上传的文件中没有单位报送的工作簿（.xlsx），请重新选择。"
            alert(book, client, message, f"{TITLE} · 汇总")
            return Outcome(message)
        try:
            result = consolidate(inputs.units, None, options_for(report, inputs.register))
        except ConsolidationError as exc:
            text = str(exc).replace("请用 --name 指定", "请在本工作簿封面的“单位名称”中填写汇总单位")
            message = f"无法汇总：{text}"
            alert(book, client, message, f"{TITLE} · 汇总")
            return Outcome(message)
        for s in result.sources:  # the summary names the files as uploaded, not the server's folder
            s.file = inputs.shown.get(s.file, Path(s.file).name)
        token, target = store.new_download(f"{result.name}{result.year}年度政府信息公开工作年度报告汇总.xlsx")
        save(result, target)
    finally:
        store.discard(folder)
    lines = account(result)
    why = _target(report, result)
    if why:
        lines += [why, f"新的汇总表已生成（含汇总表、{DETAIL_SHEET}、{BOARD_SHEET}、{RESULTS_SHEET}和{CHART_SHEET}），请点击“下载汇总表”，保存后使用。"]
    else:
        _write_summary(book, report, result)
        lines += [f"汇总数字已写入本工作簿的三张统计表（合计由公式自动计算）和封面，全部问题写入“{RESULTS_SHEET}”页。",
                  f"{DETAIL_SHEET}、{BOARD_SHEET}和{CHART_SHEET}在下载的汇总表中；报送上级请用下载的汇总表，它记录了所汇总的单位和文件，上级汇总时据此防止重复计算。"]
    message = "\n".join(lines)
    offer(book, client, Offer("summary", "汇总", message, download_path(token), target.name, "下载汇总表",
                              draft_text(result.summary), figures(result)))
    return Outcome(message)


__all__ = ["ASK_DRAFT", "OFFER", "Inputs", "Offer", "blank_template", "consolidate_units", "download_path",
           "draft_apply", "draft_overview", "export_pdf", "figures", "offer", "overview_label",
           "options_for", "pdf_filename", "public_url", "sort_batch", "transfers", "write_cells"]
