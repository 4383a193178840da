"""The records consolidation passes between its steps, in one home that the register's decisions,
the summary workbook and the run itself all use: a ``Source`` per input file, the
``ConsolidationResult``, the statuses a file can end with, and the layout of the 明细 sheet
(which ``decide.read_detail`` reads back from last year's summary).

Why a module of its own: the three steps each need these types, and keeping them here lets the
imports run one way (register → model → decide, summary → consolidate) instead of in a circle.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Iterator

import numpy as np

from checks.findings import Finding
from workbook.build import DEFAULT_PASSWORD
from workbook.derive import derivation_matrix
from workbook.derive import input_ids as _spec_input_ids
from workbook.report import SCOPES, Member, Report
from workbook.spec import Edition, load_edition

from addin.county.register import Register, RegisterEntry, county_government_type, norm_code, parse_date

STATUS = {
    "summed": "已汇总", "out_of_scope": "范围外（本级汇总不含）", "duplicate": "重复报送（未采用）",
    "unreadable": "无法读取", "wrong_year": "报告年度不符（未汇总）", "wrong_edition": "表格版本不符（未汇总）",
    "strict": "有错误、按要求未汇总", "unlisted": "不在单位名单中（未汇总）",
    "missing": "未报送", "covered": "已含在下级汇总中",
}


USED = frozenset({"summed", "out_of_scope"})


#: The 明细 sheet: fixed columns, then one column per input cell under a header of four rows.
DETAIL_SHEET, BOARD_SHEET, CHART_SHEET = "明细", "报送情况", "图表"


DETAIL_FIXED = ("序号", "单位名称", "统一社会信用代码", "单位类型", "文件", "文件 sha256")


DETAIL_HEAD = ("表", "行", "列", "汇总表位置")


DETAIL_HEAD_ROWS = len(DETAIL_HEAD)



@dataclass(frozen=True)
class ConsolidateOptions:
    """What the command line offers; ``workers=None`` picks a number from the input size."""

    year: int | None = None
    name: str | None = None
    units: Path | None = None
    scope: str = "all"
    strict: bool = False
    previous: Path | None = None
    workers: int | None = None
    csv: bool = False
    json: bool = False
    password: str = DEFAULT_PASSWORD


@dataclass(slots=True, eq=False)
class Source:
    """One input file, as the decisions and the summary sheets need it (no workbook kept)."""

    file: str
    order: int
    size: int = 0
    mtime: float = 0.0
    sha256: str = ""
    error: str = ""
    error_code: str = ""
    edition: str = ""
    origin: str = ""
    cover: dict[str, str] = field(default_factory=dict)
    members: tuple[Member, ...] = ()
    sheet_names: dict[str, str] | None = None
    findings: list[Finding] | tuple[()] = ()
    macro: bool = False
    formulas: tuple[str, ...] = ()  # input cells holding a formula ("sheet!A1"), summed at their stored result
    uncached: tuple[str, ...] = ()  # those of them saved without a result: read as blank, counted as 0
    invalid: int = 0
    row: int = -1
    status: str = ""
    reason: str = ""
    entry: RegisterEntry | None = None

    @property
    def path(self) -> Path:
        return Path(self.file)

    @property
    def name(self) -> str:
        return self.cover.get("unit_name", "")

    def sheet_of(self) -> dict[str, str]:
        """Sheet name → table key in this file (only renamed sheets are stored, to save memory)."""
        ed = load_edition(self.edition)
        names = {t.key: t.sheet for t in ed.tables} | {"cover": ed.cover_sheet} | (self.sheet_names or {})
        return {sheet: key for key, sheet in names.items()}

    @property
    def code(self) -> str:
        return norm_code(self.cover.get("credit_code", ""))

    @property
    def unit_type(self) -> str:
        if self.origin == "summary":
            return "下级汇总"
        return (self.entry.unit_type if self.entry and self.entry.unit_type else "") or self.cover.get("unit_type", "") or "（未填类型）"

    @property
    def year(self) -> int | None:
        digits = "".join(ch for ch in self.cover.get("year", "") if ch.isdigit())
        return int(digits) if len(digits) == 4 else None

    @property
    def date(self) -> dt.date | None:
        return parse_date(self.cover.get("date", ""))

    @property
    def hard(self) -> int:
        return sum(1 for f in self.findings if f.severity == "hard")

    @property
    def soft(self) -> int:
        return sum(1 for f in self.findings if f.severity == "soft")

    @property
    def explained(self) -> int:
        return sum(1 for f in self.findings if f.severity == "soft" and f.explanation)

    @property
    def leaves(self) -> tuple[Member, ...]:
        """The units this file stands for: its members when it is a summary, else itself."""
        return self.members if self.origin == "summary" else (Member(self.name, self.code, self.sha256),)

    def label(self) -> str:
        return f"{self.name or '（未填单位名称）'}（{self.path.name}）"

    def formula_note(self) -> str:
        """What the county is told about input cells holding formulas, and how they were counted
        (the same words on 报送情况, in the account and in the add-in)."""
        shown = "、".join(self.formulas[:5]) + (f" 等 {len(self.formulas)} 处" if len(self.formulas) > 5 else "")
        how = "按文件中保存的计算结果汇总"
        if self.uncached:
            more = " 等" if len(self.uncached) > 3 else ""
            how += f"，其中 {len(self.uncached)} 处文件未保存计算结果（{'、'.join(self.uncached[:3])}{more}），按 0 计"
        return f"{shown}；{how}。输入单元格应直接填写数字，请该单位核实并改正"


def input_ids(edition_key: str) -> tuple[str, ...]:
    """The input cells of an edition, in the order of the value rows (``workbook.derive``)."""
    return _spec_input_ids(edition_key)


@cache
def _input_index(edition_key: str) -> np.ndarray:
    index = load_edition(edition_key).cell_index
    return np.array([index[c] for c in input_ids(edition_key)])


def derivation(edition_key: str) -> tuple[tuple[str, ...], np.ndarray]:
    """(derived cell ids, matrix D) with derived = inputs @ D — every total of many units at once
    (one map for the whole project: ``workbook.derive.derivation_matrix``)."""
    return derivation_matrix(edition_key)


def row_blocks(detail: np.ndarray, size: int = 2048) -> Iterator[np.ndarray]:
    """The value rows a block at a time, unreadable cells (NaN) as 0 — as they are summed. Blocks
    keep the temporary copies small whatever the number of units."""
    for i in range(0, len(detail), size):
        yield np.nan_to_num(detail[i:i + size])


@dataclass
class ConsolidationResult:
    """Everything the summary workbook, the long format and the terminal account are made from."""

    options: ConsolidateOptions
    year: int
    edition: Edition
    name: str
    sources: list[Source]
    included: list[Source]
    detail: np.ndarray
    summary: Report
    summary_findings: list[Finding]
    register: Register | None = None
    missing: list[tuple[RegisterEntry, str]] = field(default_factory=list)
    covered: list[tuple[RegisterEntry, Source]] = field(default_factory=list)
    output: Path | None = None
    written: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def input_ids(self) -> tuple[str, ...]:
        return input_ids(self.edition.key)

    @property
    def scope_label(self) -> str:
        return SCOPES[self.options.scope]

    def by_status(self, *statuses: str) -> list[Source]:
        return [s for s in self.sources if s.status in statuses]

    @property
    def hard_findings(self) -> int:
        return sum(s.hard for s in self.included) + sum(1 for f in self.summary_findings if f.severity == "hard")

    @property
    def exit_code(self) -> int:
        """0 only when every file was used (or deliberately left out of the scope), no unit of the
        scope on the register is missing, no hard finding remains and no summed input cell holds a
        formula; otherwise 1."""
        left_out = any(s.status not in USED for s in self.sources)
        formulas = any(s.formulas for s in self.included)
        own = county_government_type(self.edition.key)
        missing = [e for e, _ in self.missing if self.options.scope == "all" or e.unit_type == own]
        return 1 if left_out or missing or self.hard_findings or formulas else 0

