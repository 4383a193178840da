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
from functools import cache
from typing import Any, Sequence

import numpy as np

from workbook.derive import derivation_matrix, input_ids
from workbook.layout import a1, layout_for
from workbook.published.assemble import describe_cells
from workbook.report import Report
from workbook.spec import KIND_LABELS, Edition, Rule, load_edition
from workbook.values import Status, format_number, parse_number

from .findings import Finding, attach_explanations, render, sort_findings
from .instances import cell_fields, display_labels, instance_fields, instances
from .schemas import Failed, cell_frame, cell_schema, failed, rule_frame, rule_schema
from .textual import cover_findings, previous_problem, text_findings
from .unsaved import unsaved_findings


@dataclass
class Matrices:
    """The numbers of a group of same-edition reports, one row per report."""

    edition: Edition
    ids: list[str]
    values: np.ndarray
    status: np.ndarray
    raw: list[dict[str, Any]]
    hows: dict[tuple[int, int], str]

    @property
    def unknown(self) -> np.ndarray:
        """(units × cells): the cells an import could not place (NaN in ``values``)."""
        return self.status == int(Status.UNKNOWN)


def to_matrices(edition_key: str, reports: Sequence[Report]) -> Matrices:
    """Parse every cell of every report once (fast path for plain numbers and blanks)."""
    ed = load_edition(edition_key)
    ids = [c.id for c in ed.cells]
    money = [c.kind == "money" for c in ed.cells]
    n, m = len(reports), len(ids)
    values = np.zeros((n, m))
    status = np.zeros((n, m), dtype=np.int8)
    hows: dict[tuple[int, int], str] = {}
    blank = int(Status.BLANK)
    unknown_code = int(Status.UNKNOWN)
    for i, rep in enumerate(reports):
        raw = rep.raw
        row_v = [0.0] * m
        row_s = [0] * m
        unknown = rep.unknown
        published = rep.published
        for j, cid in enumerate(ids):
            if unknown and cid in unknown:
                row_v[j], row_s[j] = math.nan, unknown_code
                continue
            v = raw.get(cid)
            t = type(v)
            if (t is float and v == v) or t is int:
                row_v[j] = v
                if published and cid in published:  # an import stored the number a writing meant (R0.4)
                    row_s[j] = int(Status.NORMALISED)
                    hows[(i, j)] = parse_number(published[cid], money[j]).how or "已规范"
                continue
            if v is None:
                row_s[j] = blank
                continue
            p = parse_number(v, money[j])
            row_v[j] = p.value
            if p.status:
                row_s[j] = int(p.status)
                if p.how:
                    hows[(i, j)] = p.how
        values[i] = row_v
        status[i] = row_s
    return Matrices(ed, ids, values, status, [r.raw for r in reports], hows)


@cache
def _leaf_matrix(edition_key: str) -> np.ndarray:
    """(cells × cells): column d holds how often each input cell counts in cell d — the identity
    for an input cell, the spec's derivation (workbook.derive) for a derived one."""
    ed = load_edition(edition_key)
    index = ed.cell_index
    derived, matrix = derivation_matrix(edition_key)
    out = np.zeros((len(ed.cells), len(ed.cells)))
    rows = [index[c] for c in input_ids(edition_key)]
    for cid in input_ids(edition_key):
        out[index[cid], index[cid]] = 1.0
    for k, cid in enumerate(derived):
        out[rows, index[cid]] = matrix[:, k]
    return out


def recomputed(mx: Matrices) -> np.ndarray:
    """Every report's numbers with the derived cells recomputed from the inputs (unreadable as 0)
    — what the text checks compare quoted numbers with, never the stored totals. A cell that is
    or sums an unknown cell is NaN: an unknown number is not 0."""
    leaf = _leaf_matrix(mx.edition.key)
    out = np.where(np.isnan(mx.values), 0.0, mx.values) @ leaf
    unknown = mx.unknown
    if unknown.any():
        out[(unknown.astype(float) @ (leaf != 0)) > 0] = np.nan
    return out


@cache
def _coefs(edition_key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(instances × cells) coefficients of ``found``, ``expected`` and last year's ``previous``."""
    ids = [c.id for c in load_edition(edition_key).cells]
    index = {c: j for j, c in enumerate(ids)}
    insts = instances(edition_key)
    out = np.zeros((3, len(insts), len(ids)))
    for k, inst in enumerate(insts):
        for c in inst.found:
            out[0, k, index[c]] += 1.0
        for c, w in inst.expected.items():
            out[1, k, index[c]] += w
        for c, w in inst.previous.items():
            out[2, k, index[c]] += w
    return out[0], out[1], out[2]


def _previous_matrix(edition_key: str, ids: list[str], previous: Sequence[Report | None]) -> np.ndarray:
    """Last year's numbers (derived cells recomputed); NaN where last year's report is missing or
    a cell of it — or a cell it sums — could not be imported."""
    out = np.full((len(previous), len(ids)), np.nan)
    for i, prev in enumerate(previous):
        if prev is not None:
            nums = prev.with_totals()
            out[i] = [nums.get(c, np.nan) for c in ids]
            if prev.unknown and prev.edition_key == edition_key:
                mask = np.array([c in prev.unknown for c in ids], dtype=float)
                out[i, (mask @ (_leaf_matrix(edition_key) != 0)) > 0] = np.nan
    return out


def residuals(mx: Matrices, unit_types: Sequence[str],
              previous: Sequence[Report | None] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per rule instance: found, expected and the residual pandera checks (NaN = not applicable)."""
    insts = instances(mx.edition.key)
    # An unreadable cell (NaN) must not silence every rule of its report: NaN · 0 is NaN in a
    # matrix product, so the products run on zeros and only the instances that read an unreadable
    # cell are set to NaN ("not applicable": the cell itself is reported by the cell schema).
    bad = np.isnan(mx.values)
    X = np.where(bad, 0.0, mx.values)
    F, E, P = _coefs(mx.edition.key)
    found = X @ F.T
    expected = X @ E.T
    unreadable = (bad.astype(float) @ ((F != 0) | (E != 0)).T) > 0
    prev_used = [k for k, inst in enumerate(insts) if inst.cross_year]
    if prev_used:
        Xp = _previous_matrix(mx.edition.key, mx.ids, previous or [None] * len(X))
        with np.errstate(invalid="ignore"):
            contrib = np.where(np.isnan(Xp), 0, Xp) @ P.T
            missing = np.isnan(Xp) @ (P != 0).T
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
    res[unreadable] = np.nan
    return res, found, expected


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

    def add(self, i: int, rule_id: str, cid: str, found: str, expected: str, marks: tuple[str, ...] = (),
            labels: dict[str, str] | None = None, **extra: Any) -> None:
        """A finding at ``cid``; ``labels`` are the message's label placeholders (by default the
        cell's own: row, column, where)."""
        rule = self.ed.rule(rule_id)
        labels = labels if labels is not None else cell_fields(self.ed.key, cid)
        sheet, cell = self.where(i, cid)
        fields = {**labels, "found": found, "expected": expected, "cell": cell, **extra}
        self.out[i].append(Finding(rule.id, rule.severity, sheet, cell, labels["row"], labels["column"], found, expected,
                                   render(rule.message, **fields), cells=tuple(self.where(i, m)[1] for m in marks) or (cell,)))

    def cells(self, failures: Failed) -> None:
        """Values of the wrong kind, and text that is not a number at all."""
        for i, j, rule in failures:
            col = self.mx.ids[j]
            if self.ed.rule(rule).kind != "cell_kind":
                continue
            cell = self.ed.cell(col)
            self.add(i, rule, col, _fmt_raw(self.mx.raw[i].get(col)), KIND_LABELS[cell.kind])

    def statuses(self, failures: Failed) -> None:
        """How values were read: placeholders and normalised numbers one by one, blanks by row."""
        blanks: dict[tuple[int, str, str], list[str]] = defaultdict(list)
        for i, j, check in failures:
            col = self.mx.ids[j]
            kind = self.ed.rule(check).kind
            if kind == "cell_kind":
                continue
            if kind == "blank":
                c = self.ed.cell(col)
                blanks[(i, c.table, f"{c.block}.{c.row}")].append(col)
                continue
            raw = self.mx.raw[i].get(col)
            value = format_number(self.mx.values[i, j])
            self.add(i, check, col, _fmt_raw(raw), value, how=self.mx.hows.get((i, j), ""))
        rule = self.ed.rules_of("blank")[0]
        for (i, table, _), cols in blanks.items():
            self._blank_row(i, rule, table, cols)

    def _blank_row(self, i: int, rule: Rule, table: str, cols: list[str]) -> None:
        """One finding for all the blank cells of one row (forty blanks are a handful of lines)."""
        cols.sort(key=self.col_index.__getitem__)
        c0 = self.ed.cell(cols[0])
        row = display_labels(self.ed.key, cols[0])[0]
        block = self.ed.table(table).block(c0.block)
        sheet = self.where(i, cols[0])[0]
        addresses = [self.where(i, c)[1] for c in cols]
        positions = [self.layout.pos(c) for c in cols]
        contiguous = all(b == (a[0], a[1] + 1) for a, b in zip(positions, positions[1:]))
        if len(cols) == 1:
            cell = addresses[0]
        elif contiguous:
            cell = f"{addresses[0]}:{addresses[-1]}"
        else:
            cell = ",".join(addresses)
        names = "、".join(display_labels(self.ed.key, c)[1] for c in cols)
        shown = "整行" if len(cols) == len(block.columns) > 1 else names
        msg = render(rule.message, row=row or self.ed.table(table).title, count=len(cols), columns=shown)
        self.out[i].append(Finding(rule.id, rule.severity, sheet, cell, row, names, "（空白）", "0", msg,
                                   cells=tuple(addresses)))

    def unknown(self) -> None:
        """One finding per table with cells an import could not place (R0.5): how many, which,
        and the rules that could not be checked because they read one of them."""
        unknown = self.mx.unknown
        if not unknown.any() or not self.ed.rules_of("unknown"):
            return
        rule = self.ed.rules_of("unknown")[0]
        insts = instances(self.ed.key)
        F, E, _ = _coefs(self.ed.key)
        touched = (unknown.astype(float) @ ((F != 0) | (E != 0)).T) > 0
        tables = [t.key for t in self.ed.tables]
        of_table = np.array([tables.index(cid.split(".", 1)[0]) for cid in self.mx.ids])
        for i in np.flatnonzero(unknown.any(axis=1)):
            for t, table in enumerate(tables):
                cols = np.flatnonzero(unknown[i] & (of_table == t))
                if not len(cols):
                    continue
                ids = [self.mx.ids[j] for j in cols]
                rules = list(dict.fromkeys(insts[k].rule.id for k in np.flatnonzero(touched[i])
                                           if insts[k].anchor.split(".", 1)[0] == table))
                names = describe_cells(self.ed, set(ids))
                whole = len(ids) == int((of_table == t).sum())
                shown = "整张表" if whole else "、".join(names[:6]) + (f" 等 {len(names)} 处" if len(names) > 6 else "")
                sheet = self.where(int(i), ids[0])[0]
                addresses = tuple(self.where(int(i), c)[1] for c in ids)
                title = self.ed.table(table).title
                msg = render(rule.message, table=f"“{title}”", count=len(ids), cells=shown,
                             rules=("规则 " + "、".join(rules) + " ") if rules else "相关规则")
                self.out[int(i)].append(Finding(rule.id, rule.severity, sheet, addresses[0], "", "", "（未能录入）", "",
                                                msg, cells=addresses))

    def rules(self, failures: Failed, found: np.ndarray, expected: np.ndarray) -> None:
        insts = instances(self.ed.key)
        for i, k, _ in failures:
            inst = insts[k]
            f, e = found[i, k], expected[i, k]
            extra: dict[str, Any] = {}
            if inst.op == "zero_if_type":
                e = 0.0
                extra["unit_type"] = self.reports[i].cover.get("unit_type", "")
            f_text = _fmt_raw(self.mx.raw[i].get(inst.anchor)) if len(inst.found) == 1 else format_number(f)
            self.add(i, inst.rule.id, inst.anchor, f_text, format_number(e), inst.marks,
                     instance_fields(self.ed.key, inst), **extra)


def validate_group(edition_key: str, reports: Sequence[Report],
                   previous: Sequence[Report | None] | None = None) -> list[list[Finding]]:
    """Findings for same-edition reports, aligned with ``reports``."""
    given_prev = list(previous) if previous else None
    if previous:
        # a last-year report of another unit or year is reported (P0.1), never compared
        previous = [p if p is not None and not previous_problem(r, p) else None for r, p in zip(reports, previous)]
    mx = to_matrices(edition_key, reports)
    b = _Builder(mx, reports)
    cell_failures = failed(cell_schema(edition_key), cell_frame(edition_key, mx.values, mx.status), len(mx.ids))
    b.cells(cell_failures)
    b.statuses(cell_failures)
    res, found, expected = residuals(mx, [r.cover.get("unit_type", "") for r in reports], previous)
    b.rules(failed(rule_schema(edition_key), rule_frame(edition_key, res), res.shape[1]), found, expected)
    b.unknown()
    numbers = recomputed(mx)
    out = []
    for i, rep in enumerate(reports):
        prev = given_prev[i] if given_prev else None
        f = (b.out.get(i, []) + cover_findings(rep, prev) + text_findings(rep, dict(zip(mx.ids, numbers[i].tolist())))
             + unsaved_findings(rep))
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
    """Findings for one report (the add-in's single workbook); the same code path as many."""
    return validate_reports([report], [previous] if previous else None)[0]


__all__ = ["Matrices", "recomputed", "to_matrices", "validate_group", "validate_report", "validate_reports"]
