"""What the inbox records and shows: units, submissions, the board's rows, and a checked upload.

A checked upload (``examine``) is what ``nianbao validate`` says about the file — the same reader,
the same checks, the same explanations from the 说明 sheet — plus the data paragraph.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checks.files import validate_paths
from checks.findings import SEVERITY_LABEL, FileResult, Finding
from workbook.report import Report

from addin.publish.draft import draft_text

STATES = {"current": "在用", "superseded": "已被新报送替换", "refused": "未通过校验，已退回", "withdrawn": "已撤回",
          "returned": "县政务公开办退回"}
BOARD = {"submitted": "已报送", "missing": "未报送", "returned": "有错误被退回", "withdrawn": "已撤回"}


def now_text() -> str:
    return dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")



@dataclass(frozen=True)
class Unit:
    id: int
    name: str
    credit_code: str
    unit_type: str
    parent: str
    filename: str
    listed: bool = True


@dataclass(frozen=True)
class Submission:
    """One submission as recorded: where its file is now and what the checks said."""

    id: int
    unit_id: int
    unit: str
    received_at: str
    state: str
    path: str
    sha256: str
    size: int
    original_name: str
    hard: int
    soft: int
    explained: int
    verdict: str
    reason: str
    receipt_key: str
    state_at: str
    state_note: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    #: False when the reader could not read the file: the record keeps its size and SHA-256 only.
    stored: bool = True

    @property
    def number(self) -> str:
        """The receipt number as printed."""
        return f"{self.id:06d}"

    def to_json(self, with_findings: bool = False) -> dict[str, Any]:
        out = {"id": self.id, "number": self.number, "unit": self.unit, "received_at": self.received_at,
               "state": self.state, "state_label": STATES.get(self.state, self.state), "sha256": self.sha256,
               "size": self.size, "original_name": self.original_name, "hard": self.hard, "soft": self.soft,
               "explained": self.explained, "verdict": self.verdict, "reason": self.reason,
               "state_at": self.state_at, "state_note": self.state_note, "receipt": self.receipt_key,
               "stored": self.stored}
        if with_findings:
            out["findings"] = self.findings
        return out


@dataclass(frozen=True)
class BoardRow:
    unit: Unit
    status: str
    last: Submission | None
    count: int

    def to_json(self) -> dict[str, Any]:
        last = self.last
        return {"unit_id": self.unit.id, "unit": self.unit.name, "credit_code": self.unit.credit_code,
                "unit_type": self.unit.unit_type, "status": self.status, "status_label": BOARD[self.status],
                "count": self.count, "last": last.to_json() if last else None}


@dataclass(frozen=True)
class IssuedCode:
    unit: Unit
    code: str


@dataclass
class Examined:
    """An uploaded workbook as ``nianbao validate`` sees it, plus the data paragraph."""

    result: FileResult
    report: Report | None
    draft: str = ""

    @property
    def open_soft(self) -> list[Finding]:
        return [f for f in self.result.soft if not f.explained]


def examine(path: Path, shown_name: str = "") -> Examined:
    """Read and check one uploaded file exactly as ``nianbao validate`` does (a file that cannot be
    read becomes a result with its reason); the draft paragraph only when no errors remain, as the
    add-in's 生成数据段落 refuses to quote tables that do not add up."""
    results, reports = validate_paths([Path(path)])
    result, report = results[0], reports[0]
    result.path = shown_name or result.path
    draft = draft_text(report) if report is not None and not result.error and not result.hard else ""
    return Examined(result, report, draft)


def finding_json(f: Finding) -> dict[str, Any]:
    """A finding for the pages: the JSON ``nianbao validate --json`` writes, plus its cells."""
    return f.to_json() | {"label": SEVERITY_LABEL[f.severity], "location": f.location, "cells": list(f.cells)}


def findings_by_table(examined: Examined) -> list[dict[str, Any]]:
    """The findings grouped by the table (sheet) they are on, in the workbook's order: 封面, 二, 三,
    四, then anything else (说明); within a group in ``nianbao validate``'s order."""
    report = examined.report
    order: list[tuple[str, str]] = []
    if report is not None:
        ed = report.edition
        order.append((report.sheet_names.get("cover", ed.cover_sheet), "封面"))
        order += [(report.sheet_names.get(t.key, t.sheet), t.title) for t in ed.tables]
    groups: dict[str, dict[str, Any]] = {}
    for sheet, title in order:
        groups.setdefault(sheet, {"sheet": sheet, "title": title, "findings": []})
    for f in examined.result.findings:
        groups.setdefault(f.sheet, {"sheet": f.sheet, "title": f.sheet or "其他", "findings": []})["findings"].append(finding_json(f))
    return [g for g in groups.values() if g["findings"]]
