"""Which file stands for which unit, and which files belong to the year being summed: the
decisions that need every file (a refusal of the whole run raises ``ConsolidationError``), and
each unit's numbers of last year for the cross-year checks.

Units are the same when their credit codes agree, or — when one side has no code — their names;
two different codes are two units even under one name.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from pathlib import Path
from typing import Sequence

from python_calamine import CalamineWorkbook

from checks.files import expand
from workbook.layout import layout_for
from workbook.read import ReadError, read_report
from workbook.report import Report
from workbook.spec import Edition, load_edition
from workbook.values import clean_text

from addin.county.model import DETAIL_FIXED, DETAIL_HEAD_ROWS, DETAIL_SHEET, USED, ConsolidationResult, Source
from addin.county.register import ConsolidationError, Register, RegisterEntry, UnitIndex, norm_name

def check_hierarchy(candidates: Sequence[Source]) -> list[str]:
    """Why these files cannot be summed together: a summary and one of its units, or two summaries
    sharing a unit (each problem names both files). The caller refuses the consolidation."""
    owner: UnitIndex[Source] = UnitIndex()
    problems: list[str] = []
    for s in sorted((s for s in candidates if s.origin == "summary"), key=lambda s: -len(s.members)):
        shared: dict[int, list[str]] = {}
        others: dict[int, Source] = {}
        for m in s.members:
            other = owner.find(m.name, m.code)
            if other is not None:
                shared.setdefault(id(other), []).append(m.name)
                others[id(other)] = other
        for key, names in shared.items():
            problems.append(f"汇总 {s.label()} 与汇总 {others[key].label()} 都包含 {'、'.join(names[:3])}"
                            + (f" 等 {len(names)} 个单位" if len(names) > 3 else ""))
        for m in s.members:
            owner.add(m.name, m.code, s)
    for s in candidates:
        holder = owner.find(s.name, s.code) if s.origin != "summary" else None
        if holder is not None:
            problems.append(f"汇总 {holder.label()} 已包含单位“{s.name}”，又单独给出了该单位的文件 {s.path.name}")
    return problems


def _why_newer(a: Source, b: Source) -> str:
    da, db = a.date, b.date
    if da and db and da != db:
        return f"填报日期 {da.isoformat()} 晚于 {db.isoformat()}"
    if a.sha256 == b.sha256:
        return "两份文件内容完全相同"
    when = lambda s: dt.datetime.fromtimestamp(s.mtime).strftime("%Y-%m-%d %H:%M:%S")  # noqa: E731
    basis = "填报日期相同" if da and db else "填报日期未填或无法识别"
    if a.mtime != b.mtime:
        return f"{basis}，文件修改时间 {when(a)} 晚于 {when(b)}"
    return f"{basis}，修改时间也相同，取排序在前的文件"


def dedupe(candidates: Sequence[Source]) -> list[Source]:
    """One file per unit: the newest 填报日期, then the newest file modification time."""
    groups: dict[tuple[str, str], list[Source]] = defaultdict(list)
    for s in candidates:
        if s.entry is not None:
            key = ("entry", str(s.entry.line))
        elif s.code:
            key = ("code", s.code)
        else:
            key = ("name", norm_name(s.name))
        groups[key].append(s)
    named = defaultdict(list)
    for key, group in groups.items():
        if key[0] != "name":
            named[norm_name(group[0].name)].append(key)
    for key in [k for k in groups if k[0] == "name"]:
        if len(named.get(key[1], [])) == 1:
            groups[named[key[1]][0]] += groups.pop(key)
    chosen: list[Source] = []
    for group in groups.values():
        best = max(group, key=lambda s: (s.date is not None, s.date or dt.date.min, s.mtime, -s.order))
        chosen.append(best)
        if len(group) > 1:
            others = [s for s in group if s is not best]
            best.reason = f"共收到 {len(group)} 份，采用本文件（" + "；".join(
                f"较 {o.path.name}：{_why_newer(best, o)}" for o in others) + "）"
            for o in others:
                o.status, o.reason = "duplicate", f"同一单位报送了多份，采用 {best.path.name}（{_why_newer(best, o)}）"
    return sorted(chosen, key=lambda s: s.order)


def match_register(candidates: Sequence[Source], register: Register | None) -> None:
    if register is None:
        return
    for s in candidates:
        s.entry, note = register.find(s.name, s.code)
        if note:
            s.reason = note


def _set(src: Source, status: str, reason: str = "") -> None:
    src.status, src.reason = status, reason


def target_year(sources: Sequence[Source], year: int | None) -> int:
    if year is not None:
        return year
    years = Counter(s.year for s in sources if not s.error and s.year)
    if not years:
        raise ConsolidationError("没有读到任何填写了报告年度的年报，无法确定汇总年度（请用 --year 指定）")
    (best, n), *rest = years.most_common()
    if rest and rest[0][1] == n:
        listing = "、".join(f"{y} 年度 {c} 份" for y, c in sorted(years.items()))
        raise ConsolidationError(f"收到的年报分属多个年度（{listing}），无法确定汇总哪一年：请用 --year 指定")
    return best


def check_year(sources: Sequence[Source], year: int, ed: Edition) -> None:
    for s in sources:
        if s.error:
            _set(s, "unreadable", s.error)
        elif s.year is None:
            _set(s, "wrong_year", f"封面未填写或填错报告年度（“{s.cover.get('year', '')}”），无法确认是 {year} 年度的报告")
        elif s.year != year:
            _set(s, "wrong_year", f"是 {s.year} 年度的报告，本次汇总 {year} 年度")
        elif s.edition != ed.key:
            _set(s, "wrong_edition", f"使用的是{load_edition(s.edition).name}，{year} 年度应使用{ed.name}；"
                                     "不同版本的表格不能直接相加，请该单位改用正确的模板重新填报")


def register_status(result: ConsolidationResult, self_entry: RegisterEntry | None) -> None:
    """Which register entries sent nothing usable (missing) or are inside a lower-level summary."""
    assert result.register is not None
    submitted = {id(s.entry) for s in result.sources if s.entry is not None and s.status in USED | {"strict", "duplicate"}}
    inside: UnitIndex[Source] = UnitIndex()
    for s in result.included:
        if s.origin == "summary":
            for m in s.members:
                inside.add(m.name, m.code, s)
    for e in result.register.entries:
        if id(e) in submitted or e is self_entry:
            continue
        holder = inside.find(e.name, e.code)
        if holder is not None:
            result.covered.append((e, holder))
            continue
        other = [s for s in result.sources if s.entry is e]
        unreadable = sum(1 for s in result.sources if s.status == "unreadable")
        why = "；".join(f"{s.path.name}：{s.reason}" for s in other) if other else "没有收到该单位的文件" + (
            f"（另有 {unreadable} 个文件无法读取，其中可能有该单位的）" if unreadable else "")
        result.missing.append((e, why))


def load_previous(path: Path) -> tuple[Report | None, UnitIndex[Report]]:
    """Last year's summary (for the summary's own cross-year checks) and, from its 明细 sheet or
    from a folder of last year's unit files, each unit's last-year numbers by code and name."""
    index: UnitIndex[Report] = UnitIndex()
    summary: Report | None = None
    if path.is_dir():
        reports = []
        for p in expand([path]):
            try:
                reports.append(read_report(p))
            except ReadError:
                continue
    else:
        try:
            summary = read_report(path)
        except ReadError as exc:
            raise ConsolidationError(f"上年汇总表无法读取：{exc}") from None
        if summary.source != "summary":
            raise ConsolidationError(f"--previous 给出的 {path.name} 不是汇总表（应为上年用本工具生成的汇总表，或上年收文文件夹）")
        reports = read_detail(path)
    for rep in reports:
        index.add(rep.unit, rep.cover.get("credit_code", ""), rep)
    return summary, index


def read_detail(path: Path) -> list[Report]:
    """The units of a summary as last-year reports, from its 明细 sheet (for cross-year checks)."""

    summary = read_report(path)
    ed = load_edition(summary.edition_key)
    by_address = {layout_for(ed.key).address(c.id): c.id for c in ed.cells}
    wb = CalamineWorkbook.from_path(str(path))
    if DETAIL_SHEET not in wb.sheet_names:
        return []
    grid = wb.get_sheet_by_name(DETAIL_SHEET).to_python(skip_empty_area=False)
    if len(grid) <= DETAIL_HEAD_ROWS or clean_text(grid[0][1]) != DETAIL_FIXED[1]:
        return []
    fixed = len(DETAIL_FIXED)
    cids = [by_address.get(clean_text(v)) for v in grid[DETAIL_HEAD_ROWS - 1][fixed:]]
    out = []
    for row in grid[DETAIL_HEAD_ROWS:]:
        if clean_text(row[0]) == "合计" or not clean_text(row[1]):
            continue
        raw = {cid: (None if v == "" else v) for cid, v in zip(cids, row[fixed:]) if cid}
        cover = {"unit_name": clean_text(row[1]), "credit_code": clean_text(row[2]), "unit_type": clean_text(row[3]),
                 "year": summary.cover.get("year", "")}
        out.append(Report(ed.key, cover=cover, raw=raw, source="summary-detail"))
    return out

