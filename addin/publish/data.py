"""What every export shares — the checked numbers of one workbook — and the CSV/JSON long format.

Every published form of the report (PDF, HTML, DOCX, CSV, JSON) is made from one ``ExportData``:
the report as read, its findings, and the numbers to print. An export refuses a workbook with
hard findings (``ExportRefused``) unless forced; a forced export prints the numbers exactly as the
workbook states them — not silently corrected totals, which no one signed off — and says at its
top how many errors are unresolved and which rules they break, so that no reader mistakes it for
a checked report. Without hard findings the stated totals equal the recomputed ones, and the
recomputed ones (``Report.with_totals``) are what is printed.

The long format has one record per cover field, number cell and text part, with the official
labels. CSV is UTF-8 with a BOM (so Excel opens the Chinese correctly) and every text field that
a spreadsheet would take for a formula gets a leading apostrophe (``addin.publish.safety.neutralise``, the
rule every door that writes text shares), so that no cell can start a formula when the file is
opened (numbers that we format ourselves, such as ``-8`` in the signed 2019 column, are data and
stay as they are).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from checks import validate_report
from checks.findings import Finding
from workbook.atomic import write_text_atomic
from workbook.layout import a1, layout_for
from workbook.read import read_report
from workbook.report import SCOPES, SOURCES, Report
from workbook.spec import Edition
from workbook.values import clean_text, format_number

from addin.publish.safety import neutralise

NOTICE_LIMIT = 10
CSV_HEADER = ("单位", "年度", "部分", "分组", "行", "列", "编号", "位置", "值")
NUMERALS = "一二三四五六七八九十"


class ExportRefused(Exception):
    """The workbook has hard findings and the export was not forced."""

    def __init__(self, report: Report, hard: Sequence[Finding]) -> None:
        self.report = report
        self.hard = list(hard)
        name = report.path.name if report.path else (report.unit or "工作簿")
        super().__init__(f"{name} 有 {len(self.hard)} 处错误（{rule_list(self.hard)}），不导出。"
                         "请先改正；确需导出未改正的版本，请加 --force（文档首页会注明有未解决的错误）。")


def rule_list(findings: Sequence[Finding]) -> str:
    """Rule ids in first-seen order, e.g. “R3.1、R3.2”."""
    return "、".join(dict.fromkeys(f.rule for f in findings))


@dataclass(frozen=True)
class ExportData:
    """One workbook ready to be exported: the report, its findings and the numbers to print."""

    report: Report
    findings: tuple[Finding, ...]
    forced: bool
    values: Mapping[str, float] = field(repr=False)

    @property
    def edition(self) -> Edition:
        return self.report.edition

    @property
    def hard(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "hard"]

    @property
    def title(self) -> str:
        """“{单位}{年度}年政府信息公开工作年度报告”, from the spec's heading."""
        year = self.report.cover.get("year", "")
        return f"{self.report.unit}{self.edition.heading.format(year=year)}"

    @property
    def subtitle(self) -> str:
        """“（汇总：范围）” for a summary, so that no one takes summed numbers for one body's."""
        rep = self.report
        if rep.source != "summary":
            return ""
        return f"（{SOURCES['summary']}" + (f"：{SCOPES.get(rep.scope, rep.scope)}" if rep.scope else "") + "）"

    def display(self, cid: str) -> str:
        """A number as printed: blanks as 0; text that is no number (forced exports only) as typed."""
        value = self.values[cid]
        if isinstance(value, float) and math.isnan(value):
            return clean_text(self.report.raw.get(cid)) or "0"
        return format_number(value)

    def json_value(self, cid: str) -> float | int | str:
        value = self.values[cid]
        if isinstance(value, float) and math.isnan(value):
            return clean_text(self.report.raw.get(cid))
        return int(value) if value == int(value) else value

    def notice_lines(self, limit: int = NOTICE_LIMIT) -> list[str]:
        """The unresolved-findings notice: a headline, then the first ``limit`` errors (empty when
        the export has no hard findings)."""
        hard = self.hard
        if not hard:
            return []
        lines = [f"注意：本报告有 {len(hard)} 处未解决的错误（{rule_list(hard)}），"
                 "是在未改正的情况下强制导出的；表中数字按工作簿所载原样列出，未作改正。"]
        lines += [f"{f.location}：{f.message}" for f in hard[:limit]]
        if len(hard) > limit:
            lines.append(f"……另有 {len(hard) - limit} 处错误未列出。")
        return lines


def prepare(source: Path | str | Report, force: bool = False) -> ExportData:
    """Read and check a workbook for export. Raises ``ReadError`` or ``ExportRefused``."""
    report = source if isinstance(source, Report) else read_report(source)
    findings = tuple(validate_report(report))
    hard = [f for f in findings if f.severity == "hard"]
    if hard and not force:
        raise ExportRefused(report, hard)
    values = report.numbers if hard else report.with_totals()
    return ExportData(report, findings, force, values)


def part_order(ed: Edition) -> list[tuple[str, str]]:
    """The six parts in the official order (一 to 六): ("text", key) or ("table", key), sorted by
    the Chinese numeral that starts each label in the spec."""
    parts = [("text", t.key, t.label) for t in ed.texts] + [("table", t.key, t.title) for t in ed.tables]
    rank = lambda label: NUMERALS.index(label[0]) if label and label[0] in NUMERALS else len(NUMERALS)  # noqa: E731
    return [(kind, key) for kind, key, label in sorted(parts, key=lambda p: rank(p[2]))]


def records(data: ExportData) -> list[dict[str, Any]]:
    """The long format: cover fields, then every number cell and text part in the official order."""
    ed = data.edition
    rep = data.report
    lay = layout_for(ed.key)
    cover_sheet = rep.sheet_names.get("cover") or ed.cover_sheet
    out: list[dict[str, Any]] = []

    def add(part: str, block: str, row: str, column: str, cell: str, address: str, value: Any) -> None:
        out.append({"part": part, "block": block, "row": row, "column": column, "cell": cell,
                    "address": address, "value": value})

    for f in ed.cover:
        add(ed.cover_sheet, "", f.label, "", f"cover.{f.key}",
            f"{cover_sheet}!{a1(*lay.cover.fields[f.key])}", rep.cover.get(f.key, ""))
    texts = {t.key: t for t in ed.texts}
    for kind, key in part_order(ed):
        if kind == "text":
            add(texts[key].label, "", "", "", f"text.{key}",
                f"{cover_sheet}!{a1(*lay.cover.texts[key])}", rep.texts.get(key, ""))
            continue
        table = ed.table(key)
        sheet = rep.sheet_names.get(key) or table.sheet
        for block in table.blocks:
            for row in block.rows:
                for col in block.columns:
                    cid = f"{table.key}.{block.key}.{row.key}.{col.key}"
                    add(table.title, block.title or "", "·".join(row.path), "·".join((*col.path[:-1], col.header)),
                        cid, f"{sheet}!{a1(*lay.pos(cid))}", data.json_value(cid))
    return out


def to_csv(data: ExportData) -> str:
    """CSV text (without the BOM, which ``export_csv`` adds); a forced export starts with a notice row."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    notice = data.notice_lines()
    if notice:
        w.writerow([neutralise(notice[0])])
    w.writerow(CSV_HEADER)
    unit, year = neutralise(data.report.unit), neutralise(data.report.cover.get("year", ""))
    for rec in records(data):
        value = rec["value"]
        shown = format_number(float(value)) if isinstance(value, (int, float)) else neutralise(str(value))
        w.writerow([unit, year, *(neutralise(rec[k]) for k in ("part", "block", "row", "column", "cell", "address")), shown])
    return buf.getvalue()


def to_json(data: ExportData) -> str:
    rep = data.report
    doc: dict[str, Any] = {
        "title": data.title, "unit": rep.unit, "year": rep.year, "edition": data.edition.key,
        "edition_name": data.edition.name, "source": rep.source, "scope": rep.scope,
        "unresolved_findings": [f.to_json() for f in data.hard],
        "notice": (data.notice_lines() or [None])[0],
        "records": records(data),
    }
    return json.dumps(doc, ensure_ascii=False, indent=1)


def export_csv(path_in: Path | str, path_out: Path | str, force: bool = False) -> Path:
    data = prepare(path_in, force)
    out = output_path(path_in, path_out)
    write_text_atomic(out, "\ufeff" + to_csv(data), encoding="utf-8")
    return out


def export_json(path_in: Path | str, path_out: Path | str, force: bool = False) -> Path:
    data = prepare(path_in, force)
    out = output_path(path_in, path_out)
    write_text_atomic(out, to_json(data) + "\n", encoding="utf-8")
    return out


def output_path(path_in: Path | str, path_out: Path | str) -> Path:
    """The output path, refusing to overwrite the input workbook itself."""
    out = Path(path_out)
    if out.exists() and Path(path_in).exists() and out.resolve() == Path(path_in).resolve():
        raise ValueError(f"输出文件不能是输入的工作簿本身：{out}")
    return out


__all__ = ["ExportData", "ExportRefused", "prepare", "records", "to_csv", "to_json", "export_csv",
           "export_json", "output_path", "neutralise", "part_order", "rule_list"]
