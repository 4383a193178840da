"""Checks on the cover fields and the text parts: per report, since they read a few strings.

Cover: required fields, the credit code's check digit, the division code, the year and the
edition that year needs (R0.2), and that a last-year report given for cross-year checks is the
same unit a year earlier. Text: a token “五、存在的主要问题”, fees not stated in “六”, a stray
year, and numbers quoted in “一、总体情况” that contradict the tables (R3.7).
"""

from __future__ import annotations

import datetime as _dt
import re
from types import MappingProxyType
from typing import Any, Mapping

from workbook.codes import credit_code_problem, region_code_ok
from workbook.layout import a1, layout_for
from workbook.report import Report
from workbook.spec import EDITIONS, CoverField, Edition, Rule, cell_id, edition_for_year, load_edition
from workbook.values import format_number

from .findings import Finding, render
from .instances import cell_fields

PUBLISHED_REQUIRED = frozenset({"unit_name", "year"})
TOKEN_ANSWERS = frozenset({"无", "无。", "没有", "暂无", "无问题", "/", "-", "不适用"})
_YEAR_MENTION = re.compile(r"(?<![\d〔\[（(])(20\d{2})\s*年(?=度|，|,)")
# The cover field format each cover rule checks (the field's label names it in the message).
FORMAT_OF_KIND: Mapping[str, str] = MappingProxyType(
    {"credit_code": "credit_code", "region_code": "region_code", "year_plausible": "year", "edition_year": "year"})


def first_year() -> int:
    """The earliest report year any edition covers (a cover year before it is not a year)."""
    return min(load_edition(k).first_year for k in EDITIONS)


def _field_of(ed: Edition, fmt: str) -> CoverField:
    return next(f for f in ed.cover if f.format == fmt)


def rule_fields(ed: Edition, rule: Rule) -> dict[str, str]:
    """The label placeholders of a cover or text rule's message, from the spec: the cover field
    it checks (``field``), the text part it reads (``part``), the cell it compares (``where``…),
    the year field's label and the first year any edition covers."""
    out = {"year_field": _field_of(ed, "year").label, "first_year": str(first_year())}
    if rule.kind in FORMAT_OF_KIND:
        out["field"] = _field_of(ed, FORMAT_OF_KIND[rule.kind]).label
    if rule.get("text"):
        out["part"] = next(t.label for t in ed.texts if t.key == rule.get("text"))
    if rule.get("label"):
        out["field"] = rule.get("label")
    if rule.kind == "fee_statement":
        out.update(cell_fields(ed.key, _fee_cell(rule)))
    return out


def _fee_cell(rule: Rule) -> str:
    return cell_id(rule.get("table"), rule.get("block"), rule.get("row"), rule.get("column"))


def _cover_finding(rep: Report, rule: Rule, where: tuple[str, tuple[int, int]], found: str, expected: str,
                   row: str, **extra: Any) -> Finding:
    sheet = rep.sheet_names.get("cover") or rep.edition.cover_sheet
    cell = a1(*where[1])
    fields = {**rule_fields(rep.edition, rule), "field": row}
    msg = render(rule.message, **fields, found=found, expected=expected, **extra)
    return Finding(rule.id, rule.severity, sheet, cell, row, "", found, expected, msg, cells=(cell,))


def cover_findings(rep: Report, previous: Report | None = None) -> list[Finding]:
    ed = rep.edition
    lay = layout_for(ed.key)
    out: list[Finding] = []
    at = lambda key: (key, lay.cover.fields[key])  # noqa: E731
    rule = lambda kind: ed.rules_of(kind)[0]  # noqa: E731
    for f in ed.cover:
        value = rep.cover.get(f.key, "")
        needed = f.required and (rep.source == "template" or f.key in PUBLISHED_REQUIRED)
        if not value:
            if needed:
                out.append(_cover_finding(rep, rule("cover_required"), at(f.key), "（空白）", "", f.label))
            continue
        if f.choices and value not in f.choices:
            out.append(_cover_finding(rep, rule("choice"), at(f.key), value, "、".join(f.choices), f.label))
        if f.format == FORMAT_OF_KIND["credit_code"] and (why := credit_code_problem(value.upper())):
            out.append(_cover_finding(rep, rule("credit_code"), at(f.key), value, "", f.label, why=why))
        if f.format == FORMAT_OF_KIND["region_code"] and not region_code_ok(value):
            out.append(_cover_finding(rep, rule("region_code"), at(f.key), value, "", f.label))
    year_field = _field_of(ed, FORMAT_OF_KIND["year_plausible"])
    year_text = rep.cover.get(year_field.key, "")
    this_year = _dt.date.today().year
    year = rep.year
    if year_text and (year is None or not first_year() <= year <= this_year):
        out.append(_cover_finding(rep, rule("year_plausible"), at(year_field.key), year_text, str(this_year),
                                  year_field.label))
    elif year is not None and not ed.covers_year(year):
        out.append(_cover_finding(rep, rule("edition_year"), at(year_field.key), ed.name, edition_for_year(year).name,
                                  year_field.label, year=year))
    if previous is not None:
        out += _previous_findings(rep, previous, at("unit_name"), rule("previous_unit"))
    return out


def previous_problem(rep: Report, prev: Report) -> str:
    """Why ``prev`` is not this unit's report of the year before (empty when it is)."""
    why = ""
    label = {f.key: f.label for f in rep.edition.cover}
    code, prev_code = rep.cover.get("credit_code", ""), prev.cover.get("credit_code", "")
    if code and prev_code and code != prev_code:
        why = f"{label['credit_code']}为 {prev_code}，与本报告的 {code} 不同"
    elif (not code or not prev_code) and rep.unit != prev.unit:
        why = f"{label['unit_name']}为“{prev.unit}”，与本报告的“{rep.unit}”不同"
    elif rep.year is not None and prev.year is not None and prev.year != rep.year - 1:
        why = f"是 {prev.year} 年度的报告，不是 {rep.year - 1} 年度"
    return why


def _previous_findings(rep: Report, prev: Report, where: Any, rule: Rule) -> list[Finding]:
    why = previous_problem(rep, prev)
    if not why:
        return []
    label = f"{prev.unit} {prev.year or ''} 年度".strip()
    return [_cover_finding(rep, rule, where, label, rep.unit, rule.get("label"), why=why)]


def _text_finding(rep: Report, rule: Rule, key: str, found: str, expected: str, **extra: Any) -> Finding:
    lay = layout_for(rep.edition_key)
    sheet = rep.sheet_names.get("cover") or rep.edition.cover_sheet
    cell = a1(*lay.cover.texts[key])
    label = next(t.label for t in rep.edition.texts if t.key == key)
    msg = render(rule.message, **{**rule_fields(rep.edition, rule), "part": label}, found=found, expected=expected, **extra)
    return Finding(rule.id, rule.severity, sheet, cell, label, "", found, expected, msg, cells=(cell,))


def text_findings(rep: Report, numbers: Mapping[str, float] | None = None) -> list[Finding]:
    """Findings on the text parts. ``numbers`` are the report's numbers with recomputed totals
    (the engine passes them, computed for all reports at once); by default ``with_totals()``."""
    ed = rep.edition
    out: list[Finding] = []
    for rule in ed.rules_of("text_substance"):
        text = rep.texts.get(rule.get("text"), "").strip()
        why = ""
        if not text:
            why = "未填写"
        elif text in TOKEN_ANSWERS:
            why = f"只写了“{text}”"
        elif len(text) < rule.get("min_chars", 0):
            why = f"只有 {len(text)} 个字"
        if why:
            out.append(_text_finding(rep, rule, rule.get("text"), text or "（空白）", "", why=why))
    if numbers is None:
        numbers = rep.with_totals() if (ed.rules_of("fee_statement") or ed.rules_of("text_numbers")) else {}
    for rule in ed.rules_of("fee_statement"):
        amount = numbers.get(_fee_cell(rule), 0.0)
        text = rep.texts.get(rule.get("text"), "")
        if amount > 0 and not any(w in text for w in rule.get("words")):
            out.append(_text_finding(rep, rule, rule.get("text"), format_number(amount), "", found_amount=amount))
    year = rep.year
    for rule in ed.rules_of("text_year"):
        if year is None:
            continue
        for t in ed.texts:
            for m in _YEAR_MENTION.finditer(rep.texts.get(t.key, "")):
                if int(m.group(1)) != year:
                    out.append(_text_finding(rep, rule, t.key, m.group(0), str(year)))
                    break
    for rule in ed.rules_of("text_numbers"):
        text = rep.texts.get(rule.get("text"), "")
        for q in rule.get("quotes"):
            cells = [cell_id(*c) for c in q["cells"]]
            expected = sum(numbers.get(c, 0.0) for c in cells)
            if expected != expected or any(c in rep.unknown for c in cells):
                continue  # a cell the import could not place: nothing to compare the text with (R0.5)
            named = " + ".join(cell_fields(ed.key, c)["where"] for c in cells)
            for m in re.finditer(q["pattern"], text):
                quoted = int(m.group(1))
                if quoted != expected:
                    out.append(_text_finding(rep, rule, rule.get("text"), str(quoted), format_number(expected),
                                             quote=m.group(0), cells=named))
    return out
