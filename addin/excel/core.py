"""The add-in's buttons — 校验, 计算合计, 清除标记 — as functions of an ``xw.Book``.

One core serves every door: the xlwings Server scripts (Office.js task pane and ribbon, VBA
``RunServerPython``) and the desktop ``RunPython`` door (``addin.excel.desktop``). It uses the public
xlwings API, so it runs the same on a remote book (a JSON snapshot posted by Excel, whose writes
become actions) and on a live desktop book — with one exception, ``_app_action``, which keeps a
message with the book it is about when a server handles several clicks at once.

Why it is shaped this way:

* The workbook is understood exactly as ``nianbao validate`` understands the file: the sheets'
  value grids go through ``report_from_grids`` and ``checks.validate_report``. Each sheet is read
  once, from A1, when first needed; nothing reads colours, formulas or fonts (the remote engine
  cannot).
* Every write is a block: the final fill of every cell the add-in may colour is computed first,
  then written as rectangles of one colour, so each cell is written once per click.
* The template protects its sheets (formatting allowed) and locks the workbook structure, and no
  Excel client has an unprotect action: we write only fills, unlocked input cells and the
  unprotected 校验结果 sheet, and never add or rename a sheet.
* Clients differ (``addin/client_actions.txt``): VBA, Office Scripts and Google Sheets run 37
  kinds of action, and the VBA colour handler cannot clear a fill. Office.js gets the extras
  (cleared fills, the task-pane list with links, a yes/no question, and notes on cells where the
  template's protection allows them); every other client gets only what it can run — plain white
  instead of "no fill", no notes, no callbacks.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec

import xlwings as xw

from checks import validate_report
from checks.findings import SEVERITY_LABEL, FileResult, Finding
from workbook import build
from workbook.build import RESULTS_HEADER
from workbook.layout import (
    META_SHEET,
    NOTES_SHEET,
    RESULTS_SHEET,
    TEMPLATE_VERSION,
    a1,
    col_letter,
    layout_for,
    quote_sheet,
    stretch,
)
from workbook.read import Grid, ReadError, report_from_grids
from workbook.report import SOURCES, Report
from workbook.values import Status, clean_text, format_number

from addin.publish.safety import cell_value

log = logging.getLogger(__name__)
P = ParamSpec("P")

TITLE = "政务公开年报"
OFFICE_JS = "Office.js"
DESKTOP = "desktop"
#: JavaScript callbacks registered by the task pane (addin/server/static/js/nianbao.js).
SHOW_FINDINGS = "nbShowFindings"
ASK_FILL_ZEROS = "nbFillZeros"
WHITE = "#FFFFFF"
_LISTED = 5
_COVER_LAST_COL = 3  # the builder merges each cover field and text part up to column D


@dataclass(frozen=True)
class Client:
    """What the posting client can do beyond the 37 actions every client runs."""

    name: str
    clear_fill: bool = False  # a fill colour of None ("no fill")
    notes: bool = False  # addNote / setNoteText / deleteNote
    taskpane: bool = False  # runMacro into our task-pane callbacks
    links: bool = True  # addHyperlink to "#Sheet!A1" (Office.js links cells from the task pane)
    ask: bool = False  # an alert whose answer reaches a callback


def client_of(book: xw.Book) -> Client:
    """The client that posted ``book`` (a remote book's ``api`` is the payload), or the desktop."""
    api = book.api
    if not isinstance(api, dict):
        return Client(DESKTOP, clear_fill=True)
    name = str(api.get("client", ""))
    if name == OFFICE_JS:
        notes = any(s.get("notes_supported") for s in api.get("sheets", []))
        return Client(name, clear_fill=True, notes=notes, taskpane=True, links=False, ask=True)
    return Client(name)


@dataclass(frozen=True)
class Fills:
    """The template's fills, taken from the formats the template builder uses."""

    hard: str
    soft: str
    derived: str


@functools.cache
def template_fills() -> Fills:
    """The fills the template builder uses (``#RRGGBB``), so that marks and restored fills never
    drift from the template: marks are the red and yellow of its live checks."""
    return Fills(*("#" + colour.lstrip("#").upper() for colour in (build.FILL_HARD, build.FILL_SOFT, build.FILL_DERIVED)))


@dataclass(frozen=True)
class Spot:
    """A cell the add-in may colour: its sheet, 0-based position, merged width and template fill."""

    sheet: str
    row: int
    col: int
    last_col: int
    base: str | None
    cid: str = ""  # the spec's cell id for number cells
    input: bool = False


@dataclass
class Outcome:
    """What a click did, for the desktop door, the tests and the benchmark."""

    message: str
    result: FileResult | None = None
    filled: int = 0
    bad_totals: list[str] = field(default_factory=list)


class _BookGrids:
    """``GridSource`` over an ``xw.Book``: each sheet's values from A1, read once when first asked."""

    def __init__(self, book: xw.Book) -> None:
        self.book = book
        self.sheet_names = [s.name for s in book.sheets]
        self._grids: dict[str, Grid] = {}

    def grid(self, name: str) -> Grid:
        if name not in self._grids:
            sheet = self.book.sheets[name]
            last = sheet.used_range.last_cell
            self._grids[name] = sheet.range((1, 1), (last.row, last.column)).options(ndim=2).value
        return self._grids[name]


class NotTemplate(Exception):
    """The workbook is not a report template; the message is the clerk's alert."""


def read_book(book: xw.Book) -> Report:
    """The report in ``book``, read as ``nianbao validate`` reads a file."""
    return _read(book)[0]


def _read(book: xw.Book) -> tuple[Report, _BookGrids]:
    grids = _BookGrids(book)
    try:
        return report_from_grids(grids, Path(book.name)), grids
    except ReadError as exc:
        raise NotTemplate(f"“{book.name}”不是政府信息公开工作年度报告模板：{exc.reason}") from None


#: The _meta row in which the builder records how the sheets are protected: the allowed actions
#: (xlsxwriter's option names) joined by commas, or ``PROTECTION_OFF`` for unprotected sheets.
PROTECTION_ROW = "protection"
PROTECTION_OFF = "off"


def notes_allowed(grids: Any) -> bool:
    """Whether notes can be put on the report's (protected) sheets.

    Excel refuses a note on a protected sheet unless its protection lets users edit objects, and
    no client can tell us how a sheet is protected — so the workbook says it: the builder records
    its protection in _meta (``PROTECTION_ROW``). A workbook of this template version written
    before that row existed was protected with the builder's ``PROTECTION_OPTIONS``; older
    templates, and files that are not ours, did not allow objects.
    """
    if META_SHEET not in grids.sheet_names:
        return False
    meta = {clean_text(row[0]): clean_text(row[1]) for row in grids.grid(META_SHEET) if len(row) > 1}
    if PROTECTION_ROW in meta:
        allowed = meta[PROTECTION_ROW]
        return allowed == PROTECTION_OFF or "objects" in allowed.split(",")
    return meta.get("template_version") == TEMPLATE_VERSION and bool(build.PROTECTION_OPTIONS.get("objects"))


def spots(report: Report) -> dict[tuple[str, str], Spot]:
    """Every cell a mark can land on, keyed by (sheet, "E29")."""
    return _spots(report.edition_key, tuple(sorted(report.sheet_names.items())))


@functools.cache
def _spots(edition_key: str, sheet_names: tuple[tuple[str, str], ...]) -> dict[tuple[str, str], Spot]:
    lay = layout_for(edition_key)
    ed = lay.edition
    names = dict(sheet_names)
    derived = template_fills().derived
    out: dict[tuple[str, str], Spot] = {}
    for table in ed.tables:
        sheet, tl = names.get(table.key, table.sheet), lay.tables[table.key]
        for cid, (r, c) in tl.cells.items():
            role = ed.cell(cid).role
            out[(sheet, a1(r, c))] = Spot(sheet, r, c, stretch(tl, cid), derived if role == "derived" else None,
                                          cid, role == "input")
    cover = names.get("cover", ed.cover_sheet)
    for r, c in [*lay.cover.fields.values(), *lay.cover.texts.values()]:
        out[(cover, a1(r, c))] = Spot(cover, r, c, _COVER_LAST_COL, None)
    return out


def _expand(cell: str) -> Iterator[str]:
    """The single cells of "E29", "D10:J10" or "E10,G10,J10" (how findings name their cells)."""
    for part in cell.split(","):
        first, _, last = part.strip().partition(":")
        if not last:
            yield first
            continue
        (r0, c0), (r1, c1) = _rc(first), _rc(last)
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                yield a1(r, c)


def _first(f: Finding) -> str:
    """The cell a finding's note, link and task-pane entry point at."""
    return (f.cells or tuple(_expand(f.cell)))[0]


def _rc(cell: str) -> tuple[int, int]:
    letters = "".join(ch for ch in cell if ch.isalpha()).upper()
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return int("".join(ch for ch in cell if ch.isdigit())) - 1, col - 1


def marked_cells(findings: Iterable[Finding]) -> dict[tuple[str, str], str]:
    """(sheet, cell) → "hard" | "soft" for every cell a finding names; hard wins."""
    out: dict[tuple[str, str], str] = {}
    for f in findings:
        for cell in f.cells or tuple(_expand(f.cell)):
            key = (f.sheet, cell)
            if out.get(key) != "hard":
                out[key] = f.severity
    return out


def _rectangles(cells: dict[tuple[int, int], tuple[int, Any]]) -> list[tuple[int, int, int, int, Any]]:
    """Group cells {(row, col): (last_col, value)} into rectangles (r0, c0, r1, c1, value) of one
    value: runs along each row, then identical runs stacked over consecutive rows."""
    runs: dict[int, list[list[Any]]] = defaultdict(list)
    for (r, c), (last, value) in sorted(cells.items()):
        row = runs[r]
        if row and row[-1][1] + 1 == c and row[-1][2] == value:
            row[-1][1] = last
        else:
            row.append([c, last, value])
    rects: list[tuple[int, int, int, int, Any]] = []
    open_: dict[tuple[int, int, Any], int] = {}
    prev = None
    for r in sorted(runs):
        keys = [(c0, c1, v) for c0, c1, v in runs[r]]
        for key in list(open_):
            if prev != r - 1 or key not in keys:
                rects.append((open_.pop(key), key[0], prev, key[1], key[2]))  # type: ignore[arg-type]
        for key in keys:
            open_.setdefault(key, r)
        prev = r
    rects += [(start, k[0], prev, k[1], k[2]) for k, start in open_.items()]  # type: ignore[misc]
    return rects


def _paint(book: xw.Book, client: Client, report: Report, marks: dict[tuple[str, str], str]) -> None:
    """Give every markable cell its final fill — the mark's, else the template's — in blocks."""
    fills = template_fills()
    colour = {"hard": fills.hard, "soft": fills.soft}
    by_sheet: dict[str, dict[tuple[int, int], tuple[int, Any]]] = defaultdict(dict)
    known = spots(report)
    for key, spot in known.items():
        fill = colour[marks[key]] if key in marks else spot.base
        by_sheet[spot.sheet][(spot.row, spot.col)] = (spot.last_col, fill if fill or client.clear_fill else WHITE)
    names = {s.name for s in book.sheets}
    for (name, cell), severity in marks.items():
        if (name, cell) not in known and name in names:  # a rule pointing outside the report's cells
            log.warning("marking %s!%s, which 清除标记 will not restore", name, cell)
            r, c = _rc(cell)
            by_sheet[name][(r, c)] = (c, colour[severity])
    for name, cells in by_sheet.items():
        sheet = book.sheets[name]
        for r0, c0, r1, c1, fill in sorted(_rectangles(cells), key=lambda x: (x[0], x[1])):
            sheet.range((r0 + 1, c0 + 1), (r1 + 1, c1 + 1)).color = fill


def _notes(book: xw.Book, report: Report, findings: list[Finding]) -> None:
    """Office.js: one note per finding's first cell with its messages; our other notes go."""
    wanted: dict[tuple[str, str], list[str]] = defaultdict(list)
    for f in findings:
        wanted[(f.sheet, _first(f))].append(f"{SEVERITY_LABEL[f.severity]} {f.rule}：{f.message}")
    sheets: dict[str, Any] = {}
    for key in spots(report):
        sheet = sheets.setdefault(key[0], book.sheets[key[0]])
        if not sheet.api.get("notes_supported"):
            continue
        rng = sheet.range(key[1])
        note, text = rng.note, "\n".join(wanted.get(key, ()))
        if text and note is not None:
            note.text = text
        elif text:
            rng.add_note(text)
        elif note is not None:
            note.delete()


#: What each column of 校验结果 holds, in the order of the builder's ``RESULTS_HEADER`` (the builder
#: writes the header row, we the rows below it). Keyed by position, not by header text, so that a
#: reworded header keeps its column; a column added or dropped there stops the import here
#: instead of leaving a column blank.
RESULT_COLUMNS: tuple[tuple[str, Callable[[Finding], Any]], ...] = (
    ("severity", lambda f: SEVERITY_LABEL[f.severity]), ("rule", lambda f: f.rule),
    ("location", lambda f: f.location), ("row", lambda f: f.row), ("column", lambda f: f.column),
    ("found", lambda f: f.found), ("expected", lambda f: f.expected), ("message", lambda f: f.message),
    ("explanation", lambda f: f.explanation),
)
if len(RESULT_COLUMNS) != len(RESULTS_HEADER):  # pragma: no cover - a build.py change not followed here
    raise RuntimeError(f"校验结果 has {len(RESULTS_HEADER)} columns in workbook.build but {len(RESULT_COLUMNS)} in addin.excel.core")
#: 0-based column of the finding's location, which links to the cell.
LOCATION_COLUMN = [key for key, _ in RESULT_COLUMNS].index("location")


def _results(book: xw.Book, client: Client, findings: list[Finding]) -> bool:
    """Rewrite the 校验结果 sheet below its header: one row per finding, a link to its cell."""
    if RESULTS_SHEET not in [s.name for s in book.sheets]:
        return False
    sheet = book.sheets[RESULTS_SHEET]
    width = len(RESULTS_HEADER)
    last = sheet.used_range.last_cell.row
    if last >= 2:
        sheet.range((2, 1), (last, width)).clear()
    if not findings:
        return True
    rows = [[cell_value(get(f)) for _, get in RESULT_COLUMNS] for f in findings]
    sheet.range((2, 1)).value = rows
    fills = template_fills()
    n_hard = sum(f.severity == "hard" for f in findings)  # findings come sorted, hard first
    if n_hard:
        sheet.range((2, 1), (1 + n_hard, 1)).color = fills.hard
    if n_hard < len(findings):
        sheet.range((2 + n_hard, 1), (1 + len(findings), 1)).color = fills.soft
    if client.links:
        col = LOCATION_COLUMN + 1
        for i, f in enumerate(findings):
            target = f"#{quote_sheet(f.sheet)}!{_first(f)}"
            sheet.range((2 + i, col)).add_hyperlink(target, f.location, "定位到该单元格")
    sheet.activate()
    return True


def _app_action(book: xw.Book, func: str, args: list[Any]) -> None:
    """Append an app-level action (alert, runMacro) to *this* book.

    Why not ``book.app.alert``: xlwings' remote engine appends app-level actions to the
    process-wide "active" book — the one opened last. On a server answering several clicks at
    once that is another request's book, so the clerk would get someone else's message (the
    tests show it). The book's own action list is the only safe place.
    """
    book.impl.append_json_action(func=func, args=args)


def alert(book: xw.Book, client: Client, prompt: str, title: str = TITLE, ask: str = "") -> None:
    """A message box; with ``ask`` (Office.js) a yes/no question whose answer goes to that callback."""
    if client.name == DESKTOP:
        book.app.alert(prompt, title=title)
        return
    _app_action(book, "alert", [prompt, title, "yes_no" if ask else "ok", "info", ask])


def _taskpane(book: xw.Book, client: Client, report: Report | None, result: FileResult | None, note: str) -> None:
    """Office.js: hand the findings to the task pane, which lists them and links 校验结果."""
    if not client.taskpane:
        return
    findings = result.findings if result else []
    col = col_letter(LOCATION_COLUMN)
    data = {
        "unit": report.unit if report else "",
        "verdict": note,
        "results": {"sheet": RESULTS_SHEET, "column": col, "first_row": 2},
        "findings": [{"severity": f.severity, "label": SEVERITY_LABEL[f.severity], "rule": f.rule,
                      "sheet": f.sheet, "cell": _first(f), "location": f.location,
                      "message": f.message, "explanation": f.explanation} for f in findings],
    }
    _app_action(book, "runMacro", [SHOW_FINDINGS, json.dumps(data, ensure_ascii=False)])


def _actions(book: xw.Book) -> list[dict[str, Any]] | None:
    """The remote book's pending actions (None on the desktop, where writes happen at once)."""
    return book.json()["actions"] if isinstance(book.api, dict) else None


def _guarded(verb: str) -> Callable[[Callable[Concatenate[xw.Book, Client, P], Outcome]],
                                    Callable[Concatenate[xw.Book, P], Outcome]]:
    """Turn a workbook that is not the template, or any failure, into a Chinese alert; after a
    failure half-way, the actions already queued are dropped, so the workbook is left as it was."""
    def wrap(func: Callable[Concatenate[xw.Book, Client, P], Outcome]) -> Callable[Concatenate[xw.Book, P], Outcome]:
        @functools.wraps(func)
        def run(book: xw.Book, *args: P.args, **kwargs: P.kwargs) -> Outcome:
            client = client_of(book)
            queued = _actions(book)
            start = len(queued) if queued is not None else 0
            try:
                return func(book, client, *args, **kwargs)
            except NotTemplate as exc:
                message = f"{exc}\n\n请用县政务公开办下发的模板填报后再{verb}。"
            except Exception:
                log.exception("%s failed for %s", verb, book.name)
                if queued is not None:
                    del queued[start:]
                    done = "未做任何改动"
                else:
                    done = "可能只完成了一部分，请点击“清除标记”后重试"
                message = f"{verb}时出现内部错误，{done}。请把工作簿发给信息化人员（服务器日志中有详细信息）。"
            alert(book, client, message, f"{TITLE} · {verb}")
            return Outcome(message)
        return run
    return wrap


@_guarded("校验")
def validate(book: xw.Book, client: Client) -> Outcome:
    """校验: mark the cells of every finding, list them on 校验结果, say how many remain."""
    report, grids = _read(book)
    findings = validate_report(report)
    result = FileResult(path=book.name, unit=report.unit, year=report.year, edition=report.edition_key,
                        findings=findings)
    _paint(book, client, report, marked_cells(findings))
    if client.notes and notes_allowed(grids):
        _notes(book, report, findings)
    listed = _results(book, client, findings)
    verdict = result.verdict()
    lines = [f"{report.unit or book.name}：{verdict}。"]
    if result.hard:
        lines.append("红色单元格是错误，必须改正。")
    if result.soft:
        lines.append(f"黄色单元格是提示：请核实；确需保留的，在“{NOTES_SHEET}”页写明理由。")
    if findings:
        lines.append(f"每处问题都列在“{RESULTS_SHEET}”页，点击位置可跳到单元格。" if listed else
                     f"（本工作簿没有“{RESULTS_SHEET}”页，无法列出明细，请改用新模板。）")
    message = "\n".join(lines)
    _taskpane(book, client, report, result, verdict)
    alert(book, client, message, f"{TITLE} · 校验")
    return Outcome(message, result)


@_guarded("计算合计")
def fill_totals(book: xw.Book, client: Client, fill_blanks: bool = False) -> Outcome:
    """计算合计: check that every derived cell equals the sum of its items (they are SUM formulas
    in the template, so Excel keeps them right); with ``fill_blanks`` write 0 into blank input
    cells. Locked cells are never written: stored totals that are wrong are explained instead."""
    report = read_book(book)
    ed = report.edition
    numbers, statuses, totals = report.numbers, report.statuses, report.totals()
    stored = [c.id for c in ed.derived_cells if statuses[c.id] != Status.OK]
    wrong = [c.id for c in ed.derived_cells if c.id not in stored
             and not math.isclose(numbers[c.id], totals[c.id], abs_tol=1e-6)]
    blanks = [c.id for c in ed.input_cells if statuses[c.id] == Status.BLANK]
    lines: list[str] = []
    if not wrong and not stored:
        lines.append("合计单元格均等于各分项之和（合计是公式，由 Excel 自动计算），无需改动。")
    if wrong:
        listed = "；".join(f"{_where(report, cid)}（现为 {_shown(report.raw.get(cid))}，应为 {format_number(totals[cid])}）"
                          for cid in wrong[:_LISTED])
        more = f"等 {len(wrong)} 处" if len(wrong) > _LISTED else ""
        lines.append(f"以下合计单元格与各分项之和不符：{listed}{more}。")
    if stored:
        lines.append(f"有 {len(stored)} 个合计单元格是空白或文字（如 {_where(report, stored[0])}），不是公式。")
    if (wrong or stored) and report.source != "template":
        lines.append(f"这份工作簿是{SOURCES.get(report.source, report.source)}的，合计栏保存的是原有数字而不是公式；"
                     "合计单元格是锁定的，加载项不会改写。如需改正，请向县政务公开办索取新模板，"
                     "把各分项数字录入新模板，合计会自动算出。")
    elif wrong or stored:
        lines.append("合计单元格应当是公式：如果 Excel 设为“手动计算”，请按 F9 重新计算；"
                     "如果公式被改成了数字，请改用新模板重新填报。合计单元格是锁定的，加载项不会改写。")
    filled = 0
    ask = ""
    if blanks and fill_blanks:
        _write_zeros(book, report, blanks)
        filled = len(blanks)
        lines.append(f"已把 {filled} 个空白的填报单元格填为 0。请再点击“校验”。")
    elif blanks:
        first = "、".join(_where(report, cid) for cid in blanks[:3])
        lines.append(f"有 {len(blanks)} 个填报单元格是空白的（如 {first}）。公开的报告中空白不等于 0。")
        if client.ask:
            lines.append("是否把这些空白单元格全部填为 0？")
            ask = ASK_FILL_ZEROS
        else:
            lines.append("如需全部填为 0，请点击“空白填0”。")
    message = "\n".join(lines)
    alert(book, client, message, f"{TITLE} · 计算合计", ask=ask)
    return Outcome(message, filled=filled, bad_totals=[_where(report, cid) for cid in wrong + stored])


def fill_zeros(book: xw.Book) -> Outcome:
    """空白填0: 计算合计 that also writes 0 into every blank input cell."""
    return fill_totals(book, fill_blanks=True)


def _where(report: Report, cid: str) -> str:
    lay = layout_for(report.edition_key)
    table = cid.split(".", 1)[0]
    return f"{report.sheet_names.get(table, lay.sheet_of(cid))}!{lay.address(cid, with_sheet=False)}"


def _shown(raw: Any) -> str:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return "空白"
    return format_number(raw) if isinstance(raw, float) else str(raw)


def _write_zeros(book: xw.Book, report: Report, cids: list[str]) -> None:
    """0 into the given input cells, one block per run of adjacent cells in a row."""
    lay = layout_for(report.edition_key)
    by_sheet: dict[str, dict[tuple[int, int], tuple[int, Any]]] = defaultdict(dict)
    for cid in cids:
        r, c = lay.pos(cid)
        by_sheet[report.sheet_names.get(cid.split(".", 1)[0], lay.sheet_of(cid))][(r, c)] = (c, 0)
    for name, cells in by_sheet.items():
        sheet = book.sheets[name]
        for r0, c0, r1, c1, _ in sorted(_rectangles(cells), key=lambda x: (x[0], x[1])):
            sheet.range((r0 + 1, c0 + 1)).value = [[0] * (c1 - c0 + 1) for _ in range(r1 - r0 + 1)]


@_guarded("清除标记")
def clear_marks(book: xw.Book, client: Client) -> Outcome:
    """清除标记: the template's fills back on every markable cell, our notes and the list gone."""
    report, grids = _read(book)
    _paint(book, client, report, {})
    if client.notes and notes_allowed(grids):
        _notes(book, report, [])
    _results(book, client, [])
    message = f"已清除校验标记：单元格恢复了模板原来的底色，“{RESULTS_SHEET}”页已清空。"
    if not client.clear_fill:
        message += "（此客户端不能清除填充色，原来无底色的单元格改为白色。）"
    _taskpane(book, client, report, None, "标记已清除")
    alert(book, client, message, f"{TITLE} · 清除标记")
    return Outcome(message)


# Shared with ``addin.excel.buttons`` (导出PDF, 汇总), whose buttons read, guard and answer the same way.
guarded = _guarded
app_action = _app_action

__all__ = ["Client", "Fills", "NotTemplate", "Outcome", "Spot", "alert", "app_action", "clear_marks", "client_of",
           "fill_totals", "fill_zeros", "guarded", "marked_cells", "read_book", "spots", "template_fills", "validate"]
