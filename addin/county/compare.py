"""Compare a unit's report with its report of the year before.

Every cell's change (largest first), the rows that appeared or vanished (and, across an edition
change, the rows one edition has and the other has not), the cross-year rules — the carry-over
in all seven columns, the stock of documents in force — exactly as the checks state them (``checks.validate_report(this,
previous=last)``), and the rates an office is judged on. Totals are recomputed from the inputs
on both sides, never taken from the stored totals. Several units at once (two folders) give one
table of units × changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Sequence

from checks import validate_report
from checks.findings import Finding, render
from checks.instances import display_labels, instance_fields, instances
from workbook.layout import a1, layout_for
from workbook.published.normalise import core, fold, split_numbering
from workbook.report import Report
from workbook.rulesets import Instance, every_place
from workbook.spec import EDITIONS, Edition, Line, cell_id, load_edition
from workbook.values import format_number

from addin.county.audit import find_inputs, load

# The rates offices are judged on, named by the printed labels that define them (matched without
# their numbering and remarks: “（二）部分公开（区分处理的…）” is 部分公开). Part 三: the share of
# the rows under these labels in the total they are counted in; Part 四: the share of the columns
# with this label in their group's total, one rate per top group (行政复议, 行政诉讼). The totals
# are found from the spec's derived cells, never named here.
OUTCOME_SHARES: tuple[tuple[str, ...], ...] = (("予以公开",), ("部分公开",), ("予以公开", "部分公开"), ("不予公开",))
CORRECTED = "结果纠正"
HEADLINE_SHARE = OUTCOME_SHARES.index(("予以公开", "部分公开"))  # the one rate the units table shows


class LoadError(Exception):
    """A file that could not be read or imported; the message is for the office."""


def load_report(path: Path) -> Report:
    entry = load(Path(path))
    if entry.report is None:
        raise LoadError(f"{Path(path).name}：{entry.result.error}")
    return entry.report


@dataclass(frozen=True)
class Change:
    cell: str
    table: str
    row: str
    column: str
    last: float
    this: float

    @property
    def delta(self) -> float:
        return self.this - self.last

    @property
    def pct(self) -> float | None:
        return None if not self.last or math.isnan(self.delta) else self.delta / self.last


@dataclass(frozen=True)
class Check:
    """One place a cross-year rule applies: what this year says, what last year implies."""

    rule: str
    label: str
    found: float
    expected: float | None
    ok: bool | None
    message: str = ""


@dataclass(frozen=True)
class Rate:
    name: str
    base: str
    last: float | None
    this: float | None

    @property
    def points(self) -> float | None:
        return None if self.last is None or self.this is None else (self.this - self.last) * 100


@dataclass
class Comparison:
    last: Report
    this: Report
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    appeared: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    only_last: list[str] = field(default_factory=list)
    only_this: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    rates: list[Rate] = field(default_factory=list)
    #: cells not compared because either year's report has them (or a cell they sum) unknown
    unknown: list[str] = field(default_factory=list)

    @property
    def unit(self) -> str:
        return self.this.unit or self.last.unit

    @property
    def complete(self) -> bool:
        """Both reports fully known: only then can a comparison call the two years consistent."""
        return not self.last.unknown and not self.this.unknown

    def unknown_note(self) -> str:
        """A Chinese line saying which year's report has cells not imported, or ""."""
        parts = [f"{r.year or ''} 年度报告有 {len(r.unknown)} 个单元格未能录入" for r in (self.last, self.this) if r.unknown]
        if not parts:
            return ""
        return "；".join(parts) + f"（不按 0 计），{len(self.unknown)} 个单元格的变化和相关核对未能计算"


def _row_label(ed: Edition, table: str, block: str, row: str) -> str:
    t = ed.table(table)
    b = t.block(block)
    return " · ".join([t.sheet, *([b.title] if b.title else []), *b.row(row).path[-2:]])


def cell_label(ed: Edition, cid: str) -> str:
    """A cell named for a person: sheet, row and column as printed."""
    row, col = display_labels(ed.key, cid)
    return " · ".join(x for x in (ed.table(cid.split(".")[0]).sheet, row, col) if x)


def _rows(ed: Edition) -> dict[tuple[str, str, str], list[str]]:
    out: dict[tuple[str, str, str], list[str]] = {}
    for t in ed.tables:
        for b in t.blocks:
            for r in b.rows:
                out[(t.key, b.key, r.key)] = [cell_id(t.key, b.key, r.key, c.key) for c in b.columns]
    return out


def compare(last: Report, this: Report) -> Comparison:
    cmp = Comparison(last, this)
    a, b = last.known(), this.known()
    ed_this, ed_last = this.edition, last.edition
    order = {c.id: i for i, c in enumerate(ed_this.cells)}
    for cid in order:
        if cid not in a:
            cmp.only_this.append(cid)
            continue
        if _unknown(a[cid]) or _unknown(b[cid]):
            cmp.unknown.append(cid)
            continue
        if a[cid] == b[cid]:
            cmp.unchanged += 1
            continue
        cell = ed_this.cell(cid)
        row, col = display_labels(ed_this.key, cid)
        cmp.changes.append(Change(cid, ed_this.table(cell.table).title, row, col, a[cid], b[cid]))
    cmp.only_last = [c.id for c in ed_last.cells if c.id not in order]
    cmp.changes.sort(key=lambda c: (-abs(c.delta) if not math.isnan(c.delta) else 0.0, order[c.cell]))
    rows_this, rows_last = _rows(ed_this), _rows(ed_last)
    for key, cids in rows_this.items():
        if key not in rows_last:
            continue
        shared = [c for c in cids if c in a]
        before = sum(abs(a[c]) for c in shared if not math.isnan(a[c]))
        now = sum(abs(b[c]) for c in shared if not math.isnan(b[c]))
        if before == 0 and now > 0:
            cmp.appeared.append(_row_label(ed_this, *key))
        elif before > 0 and now == 0:
            cmp.vanished.append(_row_label(ed_this, *key))
    cross_year = cross_year_rules(ed_this)
    cmp.findings = [f for f in validate_report(this, previous=last) if f.rule in cross_year]
    cmp.checks = _checks(cmp, a, b)
    cmp.rates = rates(ed_this, a, b)
    return cmp


def _unknown(v: float) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _kind(ed: Edition, rule: str) -> str:
    return next((r.kind for r in ed.rules if r.id == rule), "")


def cross_year_rules(ed: Edition) -> tuple[str, ...]:
    """The rules that compare a report with last year's: the table rules with last-year cells,
    and the check that last year's report is the same unit's."""
    table = [i.rule.id for i in instances(ed.key) if i.cross_year]
    return tuple(dict.fromkeys([*table, *(r.id for r in ed.rules_of("previous_unit"))]))


@cache
def _cross_year_table_rules() -> tuple[str, ...]:
    """Every edition's cross-year table rules (the units table has one column for each, so that
    units of both editions line up)."""
    ids = (i.rule.id for key in EDITIONS for i in instances(key) if i.cross_year)
    return tuple(dict.fromkeys(ids))


def _from_last(inst: Instance, a: dict[str, float], b: dict[str, float]) -> float | None:
    """What last year's report implies at ``inst`` (None when last year lacks a cell it needs)."""
    if any(c not in a for c in inst.previous):
        return None
    return sum(w * b[c] for c, w in inst.expected.items()) + sum(w * a[c] for c, w in inst.previous.items())


def _checks(cmp: Comparison, a: dict[str, float], b: dict[str, float]) -> list[Check]:
    """Every place a cross-year table rule applies, with the verdict the checks gave (None = not
    applicable) — including a derived 总计 the checks leave out, shown with the same words."""
    ed = cmp.this.edition
    lay = layout_for(ed.key)
    failed = {(f.rule, f.cell): f for f in cmp.findings}
    checked = {(i.rule.id, i.anchor) for i in instances(ed.key)}
    same_unit = not any(_kind(ed, f.rule) == "previous_unit" for f in cmp.findings)
    out: list[Check] = []
    for inst in (i for rule in ed.rules for i in every_place(ed, rule) if i.cross_year):
        cid, rule = inst.anchor, inst.rule
        found = sum(b[c] for c in inst.found)
        prev = _from_last(inst, a, b)
        hit = failed.get((rule.id, a1(*lay.pos(cid))))
        message = hit.message if hit else ""
        if prev is None or not same_unit or _unknown(found) or _unknown(prev):
            ok = None  # not applicable, or a cell it needs is unknown in either year
        elif (rule.id, cid) in checked:
            ok = hit is None
        else:  # a total the checks leave out (it repeats its columns): shown with the same words
            ok = found == prev
            if not ok:
                message = render(rule.message, **instance_fields(ed.key, inst), found=format_number(found),
                                 expected=format_number(prev))
        out.append(Check(rule.id, " · ".join(ed.labels(cid)), found, prev, ok, message))
    return out


def _share(v: dict[str, float], num: list[str], den: list[str]) -> float | None:
    d = sum(v.get(c, math.nan) for c in den)
    n = sum(v.get(c, math.nan) for c in num)
    return None if not d or math.isnan(d) or math.isnan(n) else n / d


def _name(label: str) -> str:
    return core(split_numbering(label)[1])


def _line_total(ed: Edition, cells: list[str]) -> str:
    """The cell that stands for a row or column: its derived total if it has one, else its cell."""
    return next((c for c in cells if ed.cell(c).role == "derived"), cells[0])


def _whole(ed: Edition, cid: str) -> str:
    """The derived cell ``cid`` is counted in (its first, in the spec's order)."""
    return next(c.id for c in ed.derived_cells if cid in c.items)


@cache
def rate_cells(edition_key: str) -> tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...]:
    """(name, base, numerator cells, denominator cells) of every rate, from the spec's labels."""
    ed = load_edition(edition_key)
    out = []
    p3 = ed.table("part3").blocks[0]
    for names in OUTCOME_SHARES:
        rows = [r for r in p3.rows if any(_name(x) in names for x in r.path)]
        num = tuple(_line_total(ed, [cell_id("part3", p3.key, r.key, c.key) for c in p3.columns]) for r in rows)
        den = tuple(dict.fromkeys(_whole(ed, c) for c in num))
        row, col = ed.labels(den[0]) if den else ("", "")
        out.append(("和".join(names) + "占比", f"{row}（{col}列）", num, den))
    p4 = ed.table("part4").blocks[0]
    groups: dict[str, list[Line]] = {}
    for col in p4.columns:
        if _name(col.label) == CORRECTED:
            groups.setdefault(col.path[0], []).append(col)
    for group, cols in groups.items():
        num = tuple(cell_id("part4", p4.key, p4.rows[0].key, c.key) for c in cols)
        den = tuple(dict.fromkeys(_whole(ed, c) for c in num))
        out.append((f"{group}{cols[0].label}占比", f"{group}{ed.labels(den[0])[1]}", num, den))
    return tuple(out)


def rates(ed: Edition, a: dict[str, float], b: dict[str, float]) -> list[Rate]:
    """The shares offices are judged on, named from the spec's labels."""
    return [Rate(n, base, _share(a, list(num), list(den)), _share(b, list(num), list(den)))
            for n, base, num, den in rate_cells(ed.key)]


@dataclass
class Folder:
    """The reports of one year's folder, one per unit, and what was left out and why."""

    reports: list[Report] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def load_folder(folder: Path) -> Folder:
    """Every report in ``folder``; a unit given twice keeps the file nearest the top (an older
    draft in a subfolder such as 旧版/ is skipped, and said so); unreadable files are listed."""
    out = Folder()
    seen: dict[str, Path] = {}
    paths = sorted(find_inputs([folder]), key=lambda p: (len(p.relative_to(folder).parts), str(p)))
    for path in paths:
        entry = load(path)
        if entry.report is None:
            out.skipped.append((path, entry.result.error))
            continue
        key = fold(entry.report.unit)
        if key in seen:
            out.skipped.append((path, f"与 {seen[key].name} 是同一单位，未比较"))
            continue
        seen[key] = path
        out.reports.append(entry.report)
    return out


def pair_folders(last: list[Report], this: list[Report]) -> tuple[list[tuple[Report, Report]], list[Report], list[Report]]:
    """Pair two years' reports by unit name (folded: spaces, widths and traditional characters
    ignored), since a published report carries no credit code."""
    index = {fold(r.unit): r for r in last}
    pairs, only_this = [], []
    for r in this:
        prev = index.pop(fold(r.unit), None)
        if prev is None:
            only_this.append(r)
        else:
            pairs.append((prev, r))
    return pairs, list(index.values()), only_this


def fmt(v: float | None, pct: bool = False) -> str:
    """A number for a table cell: “—” when unknown, a rate as a percentage, else as a person
    writes it (``format_number``)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if pct:
        return f"{v * 100:.1f}%"
    return format_number(v)


def to_json(cmp: Comparison) -> dict[str, Any]:
    def side(r: Report) -> dict[str, Any]:
        return {"unit": r.unit, "year": r.year, "edition": r.edition_key, "path": str(r.path) if r.path else None}

    def num(v: float | None) -> float | None:
        return None if v is None or math.isnan(v) else (int(v) if v == int(v) else round(v, 6))

    return {
        "last": side(cmp.last), "this": side(cmp.this), "unchanged": cmp.unchanged,
        "changes": [{"cell": c.cell, "table": c.table, "row": c.row, "column": c.column, "last": num(c.last),
                     "this": num(c.this), "change": num(c.delta), "ratio": None if c.pct is None else round(c.pct, 4)}
                    for c in cmp.changes],
        "rows_appeared": cmp.appeared, "rows_vanished": cmp.vanished,
        "cells_only_last": cmp.only_last, "cells_only_this": cmp.only_this,
        "cross_year": [{"rule": k.rule, "where": k.label, "this": num(k.found), "from_last": num(k.expected), "ok": k.ok,
                        "message": k.message or None} for k in cmp.checks],
        "findings": [f.to_json() for f in cmp.findings],
        "unknown_cells": {"last": len(cmp.last.unknown), "this": len(cmp.this.unknown), "not_compared": cmp.unknown},
        "rates": [{"name": r.name, "base": r.base, "last": None if r.last is None else round(r.last, 4),
                   "this": None if r.this is None else round(r.this, 4),
                   "points": None if r.points is None else round(r.points, 2)} for r in cmp.rates],
    }


# --- summaries and outputs --------------------------------------------------------------------

def summary(cmp: Comparison) -> dict[str, Any]:
    """One line of the units × changes table."""
    ed = cmp.this.edition
    p3 = ed.table("part3").blocks[0]
    # the applications received (the first row) and the cases handled (the total the outcome
    # shares are taken of), each in its row's total
    new = _line_total(ed, [cell_id("part3", p3.key, p3.rows[0].key, c.key) for c in p3.columns])
    total = rate_cells(ed.key)[0][3][0]
    by = {c.cell: c for c in cmp.changes}
    top = cmp.changes[0] if cmp.changes else None
    share = cmp.rates[HEADLINE_SHARE] if len(cmp.rates) > HEADLINE_SHARE else None

    def verdict(rule: str) -> str:
        got = [k for k in cmp.checks if k.rule == rule]
        if not got:
            return ""
        if all(k.ok is None for k in got):
            return "无法核对"
        bad = sum(1 for k in got if k.ok is False)
        return f"{bad} 处不一致" if bad else "一致"

    return {
        "unit": cmp.unit, "last_year": cmp.last.year, "this_year": cmp.this.year, "changed": len(cmp.changes),
        "largest": f"{top.row} · {top.column}：{fmt(top.last)} → {fmt(top.this)}" if top else "",
        ed.labels(new)[0]: None if new in cmp.unknown else by[new].delta if new in by else 0.0,
        ed.labels(total)[0]: None if total in cmp.unknown else by[total].delta if total in by else 0.0,
        (share.name if share else "rate") + "（百分点）": None if share is None or share.points is None else round(share.points, 1),
        **{rule: verdict(rule) for rule in _cross_year_table_rules()},
        "appeared": len(cmp.appeared), "vanished": len(cmp.vanished),
        "unknown": len(cmp.unknown),
    }


SUMMARY_HEADINGS = {"unit": "单位", "last_year": "上年度", "this_year": "本年度", "changed": "变化的单元格",
                    "largest": "变化最大的单元格", "appeared": "新出现的行", "vanished": "消失的行",
                    "unknown": "未能比较的单元格（未能录入）"}


def summary_headers(cmps: list[Comparison]) -> list[tuple[str, str]]:
    keys = list(summary(cmps[0]).keys()) if cmps else []
    rules = _cross_year_table_rules()
    return [(k, SUMMARY_HEADINGS.get(k, f"{k} 变化" if k not in rules and not k.endswith("）") else k))
            for k in keys]


def to_html(cmps: list[Comparison], only_last: Sequence[str] = (), only_this: Sequence[str] = ()) -> str:
    """A self-contained page: the units table (several units), then each unit's comparison."""
    import html

    e = lambda t: html.escape(str(t), quote=True)  # noqa: E731
    css = ("body{font-family:SimSun,'Noto Serif CJK SC',serif;max-width:1100px;margin:0 auto;padding:16px}"
           "table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #999;padding:3px 6px}"
           "td.n{text-align:right}.bad{background:#FFC7CE}.ok{background:#E2EFDA}")

    def table(head: list[str], rows: list[list[Any]], classes: list[str] | None = None) -> str:
        out = ["<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"]
        for i, r in enumerate(rows):
            cls = f' class="{classes[i]}"' if classes and classes[i] else ""
            out.append(f"<tr{cls}>" + "".join(f'<td class="n">{e(v)}</td>' if isinstance(v, (int, float)) else f"<td>{e(v)}</td>"
                                               for v in r) + "</tr>")
        return "".join(out) + "</table>"

    parts: list[str] = []
    if len(cmps) > 1 or only_last or only_this:
        heads = summary_headers(cmps)
        parts.append("<h1>各单位年度对比</h1>")
        parts.append(table([h for _, h in heads], [[_cell(summary(c)[k]) for k, _ in heads] for c in cmps]))
        if only_last:
            parts.append(f"<p>只有上年度报告的单位：{e('、'.join(only_last))}</p>")
        if only_this:
            parts.append(f"<p>只有本年度报告的单位：{e('、'.join(only_this))}</p>")
    for c in cmps:
        parts.append(f"<h2>{e(c.unit)}：{e(c.last.year)} 年度 → {e(c.this.year)} 年度</h2>")
        parts += [f"<p>{e(f.message)}</p>" for f in c.findings if _kind(c.this.edition, f.rule) == "previous_unit"]
        if c.unknown_note():
            parts.append(f'<p class="bad">{e(c.unknown_note())}</p>')
        parts.append("<h3>跨年度核对</h3>")
        parts.append(table(["规则", "位置", "本年", "按上年推算", "结论"],
                           [[k.rule, k.label, fmt(k.found), fmt(k.expected), _ok(k.ok)] for k in c.checks],
                           ["bad" if k.ok is False else "" for k in c.checks]))
        parts.append("<h3>考核比率</h3>")
        parts.append(table(["比率", "分母", "上年", "本年", "变化（百分点）"],
                           [[r.name, r.base, fmt(r.last, True), fmt(r.this, True), points(r.points)] for r in c.rates]))
        parts.append("<h3>新出现和消失的行</h3>")
        rows = [["新出现", x] for x in c.appeared] + [["消失", x] for x in c.vanished]
        rows += [["仅本年版本有", cell_label(c.this.edition, x)] for x in c.only_this]
        rows += [["仅上年版本有", cell_label(c.last.edition, x)] for x in c.only_last]
        parts.append(table(["", "行"], rows) if rows else "<p>无</p>")
        parts.append(f"<h3>全部变化（{len(c.changes)} 处，未变 {c.unchanged} 处）</h3>")
        parts.append(table(["表", "行", "列", "上年", "本年", "变化"],
                           [[x.table, x.row, x.column, fmt(x.last), fmt(x.this), fmt(x.delta)] for x in c.changes]))
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>年度对比</title>'
            f"<style>{css}</style></head><body>{''.join(parts)}</body></html>\n")


def points(v: float | None) -> str:
    """A change of a rate in percentage points, signed, one decimal."""
    return "—" if v is None else f"{v:+.1f}"


def _cell(v: Any) -> Any:
    return fmt(v) if isinstance(v, float) else ("" if v is None else v)


def _ok(ok: bool | None) -> str:
    return "无法核对" if ok is None else ("一致" if ok else "不一致")


def write_xlsx(cmps: list[Comparison], target: Path, only_last: Sequence[str] = (), only_this: Sequence[str] = ()) -> Path:
    """The comparison as a workbook (units × changes first when there are several units)."""
    import xlsxwriter

    from workbook.atomic import atomic_path
    from workbook.paper import Fit, Measured, lay_out

    with atomic_path(Path(target)) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False})
        head = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        bad = wb.add_format({"bg_color": "#FFC7CE"})
        pct = wb.add_format({"num_format": "0.0%"})

        def sheet(name: str, header: list[str], rows: list[list[Any]], styles: list[Any] | None = None) -> None:
            ws = Measured(wb.add_worksheet(name))  # sized and set up for paper from what it holds
            ws.write_row(0, 0, header, head)
            for i, row in enumerate(rows, start=1):
                for j, v in enumerate(row):
                    style = styles[i - 1] if styles else None
                    if isinstance(v, tuple):
                        v, style = v
                    if v is None or (isinstance(v, float) and math.isnan(v)):
                        ws.write_blank(i, j, None, style)
                    elif isinstance(v, (int, float)) and not isinstance(v, bool):
                        ws.write_number(i, j, v, style)
                    else:
                        ws.write_string(i, j, str(v), style)
            ws.freeze_panes(1, 1)
            lay_out(ws, Fit(6, 36), wrap)

        if len(cmps) > 1 or only_last or only_this:
            heads = summary_headers(cmps)
            rows = [[summary(c)[k] for k, _ in heads] for c in cmps]
            rows += [[u, "只有上年度报告"] for u in only_last] + [[u, "只有本年度报告"] for u in only_this]
            sheet("各单位", [h for _, h in heads], rows)
        sheet("变化", ["单位", "表", "行", "列", "上年", "本年", "变化", "变化率"],
              [[c.unit, x.table, x.row, x.column, x.last, x.this, x.delta, (x.pct, pct)] for c in cmps for x in c.changes])
        checks = [(c, k) for c in cmps for k in c.checks]
        sheet("跨年度核对", ["单位", "规则", "位置", "本年", "按上年推算", "结论", "说明"],
              [[c.unit, k.rule, k.label, k.found, k.expected, _ok(k.ok), k.message] for c, k in checks],
              [bad if k.ok is False else None for _, k in checks])
        sheet("考核比率", ["单位", "比率", "分母", "上年", "本年", "变化（百分点）"],
              [[c.unit, r.name, r.base, (r.last, pct), (r.this, pct), r.points] for c in cmps for r in c.rates])
        sheet("行的变化", ["单位", "变化", "行"],
              [[c.unit, what, x] for c in cmps for what, xs in (
                  ("新出现", c.appeared), ("消失", c.vanished),
                  ("仅本年版本有", [cell_label(c.this.edition, x) for x in c.only_this]),
                  ("仅上年版本有", [cell_label(c.last.edition, x) for x in c.only_last])) for x in xs])
        wb.close()
    return Path(target)


__all__ = ["Folder", "load_folder", "cell_label", "cross_year_rules", "summary", "summary_headers", "to_html", "write_xlsx",
           "Change", "Check", "Comparison", "LoadError", "Rate", "compare", "fmt", "load_report", "pair_folders",
           "rate_cells", "rates", "to_json"]
