"""Audit published reports: import every report found, validate them all at once, and — given a
parent (a county government) with its children (its departments and townships) — show every
cell where the parent's report differs from the sum of its children's, and who is missing.

Published reports (text, web pages, Word) are imported (``workbook.published``); our own
workbooks are read as they are. Everything is validated in one vectorised pass
(``checks.validate_reports``), so a folder of a few hundred reports takes about a second.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from checks import validate_reports
from checks.files import EXCEL_SUFFIXES, expand
from checks.findings import FileResult, Finding
from checks.instances import display_labels
from workbook.isolate import Budget, Failed, auto_workers, chunked, run_chunks, tick
from workbook.published import KINDS, UNSUPPORTED, Imported, PublishedError
from workbook.published.batch import CHUNK, import_one, warm
from workbook.published.normalise import fold
from workbook.read import ReadError, read_report
from workbook.report import Report
from workbook.spec import EDITIONS, load_edition

from addin.county.register import load_register

COMPARED_TABLES = ("part3", "part4")
#: The parent recognised by its name: a county's, district's, banner's or city's government, not a
#: township's (镇/乡人民政府). Deliberately not the cover's 单位类型: a county's own office reports
#: as type 县级人民政府 (本级) and is one of the children, and a published report has no type.
_PARENT_NAME = re.compile(r"(?<![镇乡])(?:县|区|旗|市)人民政府$")


@dataclass
class Entry:
    """One input file: its report (imported or read), the import log, and its findings."""

    path: Path
    report: Report | None = None
    imported: Imported | None = None
    result: FileResult = field(default_factory=lambda: FileResult(path=""))

    @property
    def unit(self) -> str:
        return self.report.unit if self.report else ""

    @property
    def problems(self) -> int:
        return len(self.imported.problems) if self.imported else 0

    @property
    def cells(self) -> int:
        """The table cells of the report's edition (0 for a file that could not be read)."""
        return len(self.report.edition.cells) if self.report else 0

    @property
    def placed(self) -> int:
        """How many of them are known (imported, or read from a workbook) — the rest are unknown."""
        return self.cells - len(self.report.unknown) if self.report else 0

    @property
    def placed_text(self) -> str:
        """“185/200” for the audit table; "" for a file that could not be read."""
        return f"{self.placed}/{self.cells}" if self.report else ""

    def to_json(self) -> dict[str, Any]:
        out = self.result.to_json()
        out["source"] = "workbook" if self.imported is None else self.imported.kind
        if self.report is not None:
            out["cells"], out["placed"] = self.cells, self.placed
        if self.imported is not None:
            out["import"] = {"normalised": [n.to_json() for n in self.imported.normalised],
                             "problems": [n.to_json() for n in self.imported.problems]}
        return out


@dataclass(frozen=True)
class CellDiff:
    cell: str
    table: str
    row: str
    column: str
    parent: float
    children: float

    @property
    def difference(self) -> float:
        return self.parent - self.children


@dataclass
class ParentCheck:
    """The parent's report against the sum of its children's (Parts 三 and 四)."""

    parent: Entry
    children: list[Entry]
    excluded: list[tuple[Entry, str]] = field(default_factory=list)
    diffs: list[CellDiff] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unlisted: list[str] = field(default_factory=list)
    expected_from: str = ""
    #: cells not compared: the parent's, or a child's, report has the cell (or a cell it sums) unknown
    not_compared: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.diffs and not self.missing


@dataclass
class Audit:
    entries: list[Entry]
    parent: ParentCheck | None = None
    parent_note: str = ""

    @property
    def readable(self) -> list[Entry]:
        return [e for e in self.entries if e.report is not None]

    def rules(self) -> list[str]:
        """Every rule broken by any unit, hard ones first, in id order."""
        sev: dict[str, str] = {}
        for e in self.readable:
            for f in e.result.findings:
                if sev.get(f.rule) != "hard":
                    sev[f.rule] = f.severity
        return sorted(sev, key=lambda r: (sev[r] != "hard", _rule_key(r)))

    def counts(self, entry: Entry) -> Counter[str]:
        return Counter(f.rule for f in entry.result.findings)

    def exit_code(self) -> int:
        if any(e.result.error for e in self.entries):
            return 2
        bad = any(e.result.hard or e.problems or e.result.unknown for e in self.entries)
        return 1 if bad or (self.parent is not None and not self.parent.ok) else 0


def _rule_key(rule: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", rule))


def rule_title(rule: str) -> str:
    for key in EDITIONS:
        try:
            return load_edition(key).rule(rule).title
        except StopIteration:
            continue
    return ""


def find_inputs(inputs: Iterable[Path]) -> list[Path]:
    """Files as given; below folders, every workbook as ``checks.files.expand`` finds them (the
    same rule as every command), plus the published reports (text, web pages, Word) and the kinds
    the importer names as unsupported (so that a PDF is reported, not passed over)."""
    return expand(inputs, (*EXCEL_SUFFIXES, *KINDS, *UNSUPPORTED))


def load(path: Path) -> Entry:
    """Read a workbook or import a published report; a failure becomes the entry's error."""
    entry = Entry(path, result=FileResult(path=str(path)))
    if not path.exists():
        entry.result = FileResult(path=str(path), error="文件或文件夹不存在", error_code="unreadable")
        return entry
    try:
        if path.suffix.lower() in EXCEL_SUFFIXES:
            try:
                entry.report = read_report(path)
            except ReadError as exc:
                if exc.code != "xls":
                    raise
                # not one of our workbooks but an old spreadsheet: a published report's tables
                got = import_one(path)
                if isinstance(got, PublishedError):
                    raise got from None
                entry.imported, entry.report = got, got.report
        else:
            got = import_one(path)
            if isinstance(got, PublishedError):
                raise got
            entry.imported, entry.report = got, got.report
    except (ReadError, PublishedError) as exc:
        entry.result = FileResult(path=str(path), error=exc.reason, error_code=exc.code)
    return entry


def _load_paths(paths: list[str]) -> list[Entry]:
    """Worker side of ``load_all``."""
    out = []
    for name in paths:
        out.append(load(Path(name)))
        tick()
    return out


def load_all(paths: Sequence[Path], workers: int | None = None, budget: Budget = Budget()) -> list[Entry]:
    """``load`` of every file, in ``workers`` worker processes with a memory and time limit
    (``workbook.isolate``): a file that crashes, hangs or exhausts its worker is that file's
    “无法读取” line, and the other files are still read. ``workers=0`` loads in this process
    (no isolation: the single-process baseline of ``tests/bench/bench_import.py``)."""
    if workers == 0:
        return [load(Path(p)) for p in paths]
    workers = workers or auto_workers(len(paths))
    warm()
    out: list[Entry] = []
    for items, outcome in run_chunks(_load_paths, chunked([str(p) for p in paths], workers, CHUNK), workers, budget=budget):
        if isinstance(outcome, Failed):
            out += [Entry(Path(n), result=FileResult(path=n, error=outcome.reason, error_code=outcome.code)) for n in items]
        else:
            out += outcome
    return out


def audit(paths: Sequence[Path], parent: Path | None = None, units: Path | None = None,
          workers: int | None = None) -> Audit:
    """Import/read every file (in worker processes, see ``load_all``), validate all together, and
    check the parent against its children."""
    todo = list(paths)
    if parent is not None and all(Path(p).resolve() != Path(parent).resolve() for p in paths):
        todo.append(Path(parent))
    entries = load_all(todo, workers)
    ok = [e for e in entries if e.report is not None]
    findings = validate_reports([e.report for e in ok])  # type: ignore[misc]
    for e, f in zip(ok, findings):
        rep = e.report
        assert rep is not None
        e.result = FileResult(path=str(e.path), unit=rep.unit, year=rep.year, edition=rep.edition_key, findings=f,
                              unknown=len(rep.unknown))
    result = Audit(entries)
    parent_entry, note = _pick_parent(ok, parent)
    result.parent_note = note
    if parent_entry is not None:
        result.parent = check_parent(parent_entry, [e for e in ok if e is not parent_entry], units)
    return result


def _pick_parent(entries: list[Entry], parent: Path | None) -> tuple[Entry | None, str]:
    if parent is not None:
        chosen = [e for e in entries if e.path.resolve() == Path(parent).resolve()]
        return (chosen[0], "") if chosen else (None, f"上级报告 {parent} 无法读取")
    named = [e for e in entries if _PARENT_NAME.search(e.unit)]
    if len(named) == 1 and len(entries) > 1:
        return named[0], f"按名称认定上级：{named[0].unit}"
    if len(named) > 1:
        return None, "有多个可能的上级（" + "、".join(e.unit for e in named) + "），请用 --parent 指定"
    return None, ""


def read_register(path: Path) -> list[str]:
    """Unit names from a register (.csv, .xlsx, …), read by the consolidation's own reader
    (``addin.county.register.load_register``): the same columns, encodings and checks. A register that
    cannot be used raises ``RegisterError`` with the reason in Chinese."""
    return [e.name for e in load_register(path).entries]


def check_parent(parent: Entry, others: list[Entry], units: Path | None) -> ParentCheck:
    """Compare the parent's Parts 三/四 with the sum of same-year, same-edition children."""
    prep = parent.report
    assert prep is not None
    check = ParentCheck(parent, [])
    for e in others:
        rep = e.report
        assert rep is not None
        if rep.year != prep.year:
            check.excluded.append((e, f"是 {rep.year or '未知'} 年度的报告，上级是 {prep.year} 年度"))
        elif rep.edition_key != prep.edition_key:
            check.excluded.append((e, f"表格版本（{rep.edition.name}）与上级不同"))
        else:
            check.children.append(e)
    ed = prep.edition
    mine = prep.numbers
    unknown = {cid for cid, v in prep.known().items() if v != v}  # NaN: unknown, not 0
    sums = {c.id: 0.0 for c in ed.cells if c.table in COMPARED_TABLES}
    for e in check.children:
        values = e.report.with_totals()  # type: ignore[union-attr]
        known = e.report.known()  # type: ignore[union-attr]
        for cid in sums:
            sums[cid] += values[cid]
            if known[cid] != known[cid]:
                unknown.add(cid)
    for cell in ed.cells:
        cid = cell.id
        if cid not in sums:
            continue
        if cid in unknown:
            check.not_compared.append(cid)
            continue
        a, b = mine[cid], sums[cid]
        if (math.isnan(a) or math.isnan(b)) or abs(a - b) > 1e-6:
            row, col = display_labels(ed.key, cid)
            check.diffs.append(CellDiff(cid, ed.table(cell.table).title, row, col, a, b))
    names = {fold(e.unit): e.unit for e in check.children}
    expected: list[str] = []
    if units is not None:
        expected, check.expected_from = read_register(units), f"单位名单 {units.name}"
    elif prep.members:
        expected, check.expected_from = [m.name for m in prep.members], "上级汇总表所列单位"
    if expected:
        wanted = {fold(n): n for n in expected if fold(n) != fold(prep.unit)}
        check.missing = [n for k, n in wanted.items() if k not in names]
        check.unlisted = [n for k, n in names.items() if k not in wanted]
    return check


def units_json(result: Audit) -> dict[str, Any]:
    out: dict[str, Any] = {"files": [e.to_json() for e in result.entries]}
    out["rules"] = {r: {"title": rule_title(r), "units": sum(1 for e in result.readable if result.counts(e)[r])}
                    for r in result.rules()}
    pc = result.parent
    out["parent"] = None if pc is None else {
        "unit": pc.parent.unit, "path": str(pc.parent.path), "children": [e.unit for e in pc.children],
        "excluded": [{"unit": e.unit, "path": str(e.path), "why": why} for e, why in pc.excluded],
        "differences": [{"cell": d.cell, "table": d.table, "row": d.row, "column": d.column, "parent": _num(d.parent),
                         "children_sum": _num(d.children), "difference": _num(d.difference)} for d in pc.diffs],
        "missing": pc.missing, "unlisted": pc.unlisted, "expected_from": pc.expected_from or None,
        "not_compared": pc.not_compared}
    out["parent_note"] = result.parent_note or None
    return out


def _num(v: float) -> float | int | None:
    if math.isnan(v):
        return None
    return int(v) if v == int(v) else round(v, 6)


def finding_rows(result: Audit) -> list[tuple[Entry, Finding]]:
    return [(e, f) for e in result.readable for f in e.result.findings]


def write_xlsx(result: Audit, target: Path) -> Path:
    """The audit as a workbook: units × rules, every finding, what could not be imported, and
    the parent check. Text is never read as a formula; the file appears only when complete."""
    import xlsxwriter

    from workbook.atomic import atomic_path
    from workbook.paper import Fit, Measured, lay_out

    rules = result.rules()
    with atomic_path(Path(target)) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False})
        head = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True, "valign": "top"})
        red = wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006", "align": "center"})
        yellow = wb.add_format({"bg_color": "#FFEB9C", "font_color": "#9C5700", "align": "center"})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        ws = Measured(wb.add_worksheet("单位×规则"))  # each sheet sized and set up for paper from what it holds
        cols = ["单位", "年度", "版本", "文件", "结论", "未能录入", "表格单元格（录入/应有）", "未能录入的单元格"] + rules
        first = len(cols) - len(rules)
        ws.write_row(0, 0, cols, head)
        ws.write_comment(0, 5, "导入时未能录入的内容（处数，详见“未能录入”页）")
        ws.write_comment(0, 6, "录入的表格单元格 / 该版本表格的单元格数；未能录入的单元格数字不详，不按 0 计，相关规则未能核查")
        for i, r in enumerate(rules):
            ws.write_comment(0, first + i, rule_title(r) or r)
        for n, e in enumerate(result.entries, start=1):
            res = e.result
            ws.write_row(n, 0, [e.unit, res.year or "", res.edition, str(e.path), res.verdict()])
            if e.report is not None:
                ws.write_number(n, 5, e.problems)
                ws.write_string(n, 6, e.placed_text, red if e.placed < e.cells else None)
                ws.write_number(n, 7, e.cells - e.placed, red if e.placed < e.cells else None)
            counts = result.counts(e)
            severities = {f.rule: f.severity for f in res.findings}
            for i, r in enumerate(rules):
                if counts[r]:
                    ws.write_number(n, first + i, counts[r], red if severities[r] == "hard" else yellow)
        ws.freeze_panes(1, 1)
        lay_out(ws, Fit(5, 36), wrap)
        ws.autofilter(0, 0, len(result.entries), len(cols) - 1)
        ws = Measured(wb.add_worksheet("问题清单"))
        ws.write_row(0, 0, ["单位", "文件", "级别", "规则", "位置", "问题", "说明"], head)
        for n, (e, f) in enumerate(finding_rows(result), start=1):
            ws.write_row(n, 0, [e.unit, str(e.path), "错误" if f.severity == "hard" else "提示", f.rule, f.location])
            ws.write_string(n, 5, f.message, wrap)
            ws.write_string(n, 6, f.explanation, wrap)
        lay_out(ws, {5: Fit(20, 60), 6: Fit(10, 30)}, wrap)
        ws = Measured(wb.add_worksheet("未能录入"))
        ws.write_row(0, 0, ["单位", "文件", "位置", "内容", "原因"], head)
        n = 0
        for e in result.entries:
            if e.result.error:
                n += 1
                ws.write_row(n, 0, [e.unit, str(e.path), "", "", "无法读取：" + e.result.error])
            for note in (e.imported.problems if e.imported else []):
                n += 1
                ws.write_row(n, 0, [e.unit, str(e.path), note.where, note.found, note.detail])
        lay_out(ws, Fit(6, 40), wrap)
        if result.parent is not None:
            _parent_sheet(wb, result.parent, head)
        wb.close()
    return Path(target)


def _parent_sheet(wb: Any, pc: ParentCheck, head: Any) -> None:
    from workbook.paper import Fit, Measured, lay_out

    ws = Measured(wb.add_worksheet("上下级核对"))
    ws.write_row(0, 0, ["上级", pc.parent.unit, str(pc.parent.path)], head)
    ws.write_row(1, 0, ["下级单位数", len(pc.children)])
    ws.write_row(3, 0, ["表", "行", "列", "上级报告", "下级合计", "差额"], head)
    r = 4
    for d in pc.diffs:
        ws.write_row(r, 0, [d.table, d.row, d.column])
        for j, v in enumerate((d.parent, d.children, d.difference)):
            ws.write_number(r, 3 + j, v) if not math.isnan(v) else ws.write_string(r, 3 + j, "无法相加")
        r += 1
    r += 1
    ws.write_row(r, 0, ["缺报单位（" + (pc.expected_from or "未给单位名单") + "）"], head)
    for name in pc.missing:
        r += 1
        ws.write_string(r, 0, name)
    r += 2
    ws.write_row(r, 0, ["未计入的报告", "原因"], head)
    for e, why in pc.excluded:
        r += 1
        ws.write_row(r, 0, [e.unit or str(e.path), why])
    lay_out(ws, Fit(8, 36), wb.add_format({"text_wrap": True, "valign": "top"}), header_rows=4)


__all__ = ["write_xlsx", "Audit", "CellDiff", "Entry", "ParentCheck", "audit", "check_parent", "find_inputs", "finding_rows", "load",
           "read_register", "rule_title", "units_json"]
