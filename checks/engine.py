"""Validate many reports at once: matrices in, findings out.

The reports of one edition become a values matrix and a status matrix (units × cells); every
table rule is a matrix product (see ``instances``); pandera checks the resulting frames lazily and
its failure cases are turned into findings. Cover and text checks, which read a few strings per
unit, run per report.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from workbook.layout import a1, layout_for
from workbook.report import Report
from workbook.spec import KIND_LABELS, Edition, load_edition
from workbook.values import Status, format_number, parse_number

from .findings import Finding, attach_explanations, render, sort_findings
from .instances import Instance, instances
from .schemas import failures, kind_rule, cell_schema, rule_schema, status_schema
from .textual import cover_findings, previous_problem, text_findings


@dataclass
class Matrices:
    """The numbers of a group of same-edition reports, one row per report."""

    edition: Edition
    ids: list[str]
    values: np.ndarray
    status: np.ndarray
    raw: list[dict[str, Any]]
    hows: dict[tuple[int, int], str]


def to_matrices(edition_key: str, reports: Sequence[Report]) -> Matrices:
    """Parse every cell of every report once (fast path for plain numbers)."""
    ed = load_edition(edition_key)
    ids = [c.id for c in ed.cells]
    money = [c.kind == "money" for c in ed.cells]
    n, m = len(reports), len(ids)
    values = np.zeros((n, m))
    status = np.zeros((n, m), dtype=np.int8)
    hows: dict[tuple[int, int], str] = {}
    for i, rep in enumerate(reports):
        raw = rep.raw
        row_v = values[i]
        for j, cid in enumerate(ids):
            v = raw.get(cid)
            if type(v) is float and v == v:
                row_v[j] = v
                continue
            p = parse_number(v, money[j])
            row_v[j] = p.value
            if p.status:
                status[i, j] = p.status
                if p.how:
                    hows[(i, j)] = p.how
    return Matrices(ed, ids, values, status, [r.raw for r in reports], hows)


def _coef(ids: list[str], mapping: dict[str, float] | Any, keys: Sequence[Instance], attr: str) -> np.ndarray:
    index = {c: j for j, c in enumerate(ids)}
    out = np.zeros((len(keys), len(ids)))
    for k, inst in enumerate(keys):
        source = getattr(inst, attr)
        if attr == "found":
            for c in source:
                out[k, index[c]] += 1.0
        else:
            for c, w in source.items():
                out[k, index[c]] += w
    return out


def _previous_matrix(ids: list[str], previous: Sequence[Report | None]) -> np.ndarray:
    out = np.full((len(previous), len(ids)), np.nan)
    for i, prev in enumerate(previous):
        if prev is not None:
            nums = prev.with_totals()
            out[i] = [nums.get(c, np.nan) for c in ids]
    return out


def residuals(mx: Matrices, unit_types: Sequence[str], previous: Sequence[Report | None] | None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Per rule instance: found, expected and the residual pandera checks (NaN = not applicable)."""
    insts = instances(mx.edition.key)
    X = mx.values
    found = X @ _coef(mx.ids, None, insts, "found").T
    expected = X @ _coef(mx.ids, None, insts, "expected").T
    prev_used = [k for k, inst in enumerate(insts) if inst.cross_year]
    if prev_used:
        P = _coef(mx.ids, None, insts, "previous").T
        Xp = _previous_matrix(mx.ids, previous or [None] * len(X))
        with np.errstate(invalid="ignore"):
            contrib = np.where(np.isnan(Xp), 0, Xp) @ P
            missing = np.isnan(Xp) @ (P != 0)
        expected = expected + contrib
        for k in prev_used:
            found[missing[:, k] > 0, k] = np.nan
    res = found - expected
    types = np.array(list(unit_types), dtype=object)
    for k, inst in enumerate(insts):
        if inst.op == "zero_if_type":
            applies = np.isin(types, list(inst.rule.get("unit_types")))
            res[:, k] = np.where(applies, found[:, k], np.nan)
        elif inst.op == "implies":
            res[:, k] = ((found[:, k] > 0) & (expected[:, k] == 0)).astype(float)
    frame = pd.DataFrame(res, columns=[i.key for i in insts])
    return frame, found, expected


def _fmt_raw(value: Any) -> str:
    if value is None:
        return "（空白）"
    if isinstance(value, float):
        return format_number(value)
    return str(value)


class _Builder:
    """Turns failure cases into findings for one edition group."""

    def __init__(self, mx: Matrices, reports: Sequence[Report]) -> None:
        self.mx, self.reports = mx, reports
        self.ed = mx.edition
        self.layout = layout_for(self.ed.key)
        self.col_index = {c: j for j, c in enumerate(mx.ids)}
        self.out: dict[int, list[Finding]] = defaultdict(list)

    def where(self, i: int, cid: str) -> tuple[str, str]:
        table = cid.split(".", 1)[0]
        sheet = self.reports[i].sheet_names.get(table) or self.ed.table(table).sheet
        return sheet, a1(*self.layout.pos(cid))

    def add(self, i: int, rule_id: str, cid: str, found: str, expected: str, marks: tuple[str, ...] = (), **extra: Any) -> None:
        rule = self.ed.rule(rule_id)
        row, col = self.ed.labels(cid)
        sheet, cell = self.where(i, cid)
        fields = {"row": row, "column": col, "found": found, "expected": expected, "cell": cell, **extra}
        self.out[i].append(Finding(rule.id, rule.severity, sheet, cell, row, col, found, expected,
                                   render(rule.message, **fields), cells=tuple(self.where(i, m)[1] for m in marks) or (cell,)))

    def cells(self, fc: pd.DataFrame) -> None:
        for col, check, idx in zip(fc["column"], fc["check"], fc["index"]):
            i = int(idx)
            cell = self.ed.cell(col)
            raw = self.mx.raw[i].get(col)
            rule = kind_rule(self.ed.key, cell.table)
            self.add(i, rule, col, _fmt_raw(raw), KIND_LABELS[cell.kind])

    def statuses(self, fc: pd.DataFrame) -> None:
        blanks: dict[tuple[int, str, str], list[str]] = defaultdict(list)
        for col, check, idx in zip(fc["column"], fc["check"], fc["index"]):
            i = int(idx)
            if self.ed.rule(check).kind == "blank":
                c = self.ed.cell(col)
                blanks[(i, c.table, f"{c.block}.{c.row}")].append(col)
                continue
            raw = self.mx.raw[i].get(col)
            j = self.col_index[col]
            value = format_number(self.mx.values[i, j])
            self.add(i, check, col, _fmt_raw(raw), value, how=self.mx.hows.get((i, j), ""))
        rule = self.ed.rules_of("blank")[0]
        for (i, table, _), cols in blanks.items():
            cols.sort(key=self.col_index.__getitem__)
            row, _ = self.ed.labels(cols[0])
            sheet, first = self.where(i, cols[0])
            last = self.where(i, cols[-1])[1]
            names = "、".join(self.ed.labels(c)[1] for c in cols)
            cell = first if first == last else f"{first}:{last}"
            msg = render(rule.message, row=row or self.ed.table(table).title, count=len(cols), columns=names)
            self.out[i].append(Finding(rule.id, rule.severity, sheet, cell, row, names, "（空白）", "0", msg,
                                       cells=tuple(self.where(i, c)[1] for c in cols)))

    def rules(self, fc: pd.DataFrame, found: np.ndarray, expected: np.ndarray) -> None:
        insts = {inst.key: (k, inst) for k, inst in enumerate(instances(self.ed.key))}
        for col, idx in zip(fc["column"], fc["index"]):
            i = int(idx)
            k, inst = insts[col]
            f, e = found[i, k], expected[i, k]
            extra: dict[str, Any] = {}
            if inst.op == "zero_if_type":
                e = 0.0
                extra["unit_type"] = self.reports[i].cover.get("unit_type", "")
            f_text = _fmt_raw(self.mx.raw[i].get(inst.anchor)) if len(inst.found) == 1 else format_number(f)
            self.add(i, inst.rule.id, inst.anchor, f_text, format_number(e), inst.marks, **extra)


def validate_group(edition_key: str, reports: Sequence[Report], previous: Sequence[Report | None] | None = None) -> list[list[Finding]]:
    """Findings for same-edition reports, aligned with ``reports``."""
    given_prev = list(previous) if previous else None
    if previous:
        # a last-year report of another unit or year is reported (P0.1), never compared
        previous = [p if p is not None and not previous_problem(r, p) else None for r, p in zip(reports, previous)]
    mx = to_matrices(edition_key, reports)
    b = _Builder(mx, reports)
    cells = pd.DataFrame(mx.values, columns=mx.ids)
    b.cells(failures(cell_schema(edition_key), cells))
    b.statuses(failures(status_schema(edition_key), pd.DataFrame(mx.status, columns=mx.ids)))
    res, found, expected = residuals(mx, [r.cover.get("unit_type", "") for r in reports], previous)
    b.rules(failures(rule_schema(edition_key), res), found, expected)
    out = []
    for i, rep in enumerate(reports):
        prev = given_prev[i] if given_prev else None
        f = b.out.get(i, []) + cover_findings(rep, prev) + text_findings(rep, mx.values[i], mx.ids)
        out.append(sort_findings(attach_explanations(f, rep.notes)))
    return out


def validate_reports(reports: Sequence[Report], previous: Sequence[Report | None] | None = None) -> list[list[Finding]]:
    """Findings for any reports (editions grouped internally), aligned with ``reports``."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(reports):
        groups[r.edition_key].append(i)
    out: list[list[Finding]] = [[] for _ in reports]
    for key, idx in groups.items():
        prev = [previous[i] for i in idx] if previous else None
        for i, f in zip(idx, validate_group(key, [reports[i] for i in idx], prev)):
            out[i] = f
    return out


def validate_report(report: Report, previous: Report | None = None) -> list[Finding]:
    return validate_reports([report], [previous] if previous else None)[0]


__all__ = ["validate_report", "validate_reports", "validate_group", "to_matrices", "Matrices", "math"]
