"""The rules rendered as the workbook's own live checks.

Single cells are wrapped in N() so that a cell holding only spaces counts as 0, as SUM and the
Python checks count it; text that spells a number (“１２”) is 0 to a spreadsheet but 12 to the
Python checks, which report it as R0.4 — the one place the two may differ.

Each rule of a kind that a spreadsheet can compute becomes one Excel formula per place it applies
(TRUE = the rule fails). The template uses these formulas twice: in a hidden check sheet (so that a
spreadsheet application computes every check, and tests can compare its verdicts with the Python
checks) and as conditional formats that colour the cell while the clerk types — in plain
same-sheet formulas that WPS handles.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Callable, Mapping

from .layout import Layout, a1, layout_for, quote_sheet
from .spec import Edition, Rule, cell_id, load_edition, select, sum_instances

Values = Mapping[str, float]


@dataclass(frozen=True)
class LiveCheck:
    """One place a rule applies: the cell it is reported at, the cells it colours, its formula."""

    rule: Rule
    anchor: str
    marks: tuple[str, ...]
    expr: Callable[[Callable[[tuple[str, ...]], str]], str]
    test: Callable[[Values], bool]

    def formula(self, layout: Layout, qualify: bool) -> str:
        """The Excel formula (without “=”) that is TRUE when the rule fails here."""
        return self.expr(lambda cells: refs(layout, cells, qualify))

    def fails(self, values: Values) -> bool:
        """Evaluate the check on numbers in Python (used for the check sheet's cached results)."""
        return self.test(values)


def refs(layout: Layout, cells: tuple[str, ...], qualify: bool) -> str:
    """Cells as a compact Excel reference list: runs of a column or a row become ranges."""
    pos = sorted(layout.pos(c) for c in cells)
    sheet = quote_sheet(layout.sheet_of(cells[0])) + "!" if qualify else ""
    runs: list[list[tuple[int, int]]] = []
    by_col = sorted(pos, key=lambda p: (p[1], p[0]))
    for p in by_col:
        if runs and runs[-1][-1][1] == p[1] and runs[-1][-1][0] + 1 == p[0]:
            runs[-1].append(p)
        else:
            runs.append([p])
    if all(len(r) == 1 for r in runs) and len(runs) > 1:
        runs = []
        for p in pos:
            if runs and runs[-1][-1][0] == p[0] and runs[-1][-1][1] + 1 == p[1]:
                runs[-1].append(p)
            else:
                runs.append([p])
    parts = [sheet + (a1(*r[0]) if len(r) == 1 else f"{a1(*r[0])}:{a1(*r[-1])}") for r in runs]
    return ",".join(parts)


def _total(values: Values, cells: tuple[str, ...]) -> float:
    return sum(values.get(c, 0.0) for c in cells)


def _sum_checks(ed: Edition, rule: Rule) -> list[LiveCheck]:
    out = []
    for target_id, items in sum_instances(ed.tables, rule):
        target = (target_id,)
        out.append(LiveCheck(
            rule, target_id, target,
            lambda r, t=target, i=items: f"N({r(t)})<>SUM({r(i)})",
            lambda v, t=target, i=items: abs(_total(v, t) - _total(v, i)) > 1e-9,
        ))
    return out


def _balance_checks(ed: Edition, rule: Rule) -> list[LiveCheck]:
    table = ed.table(rule.get("table"))
    block = table.blocks[0]
    out = []
    for col in block.columns:
        left = tuple(cell_id(table.key, block.key, r, col.key) for r in rule.get("left"))
        right = tuple(cell_id(table.key, block.key, r, col.key) for r in rule.get("right"))
        anchor = cell_id(table.key, block.key, rule.get("at"), col.key)
        out.append(LiveCheck(
            rule, anchor, left + right,
            lambda r, a=left, b=right: f"SUM({r(a)})<>SUM({r(b)})",
            lambda v, a=left, b=right: abs(_total(v, a) - _total(v, b)) > 1e-9,
        ))
    return out


_KIND_EXPR = {
    "count": ("OR({x}<0,{x}<>INT({x}))", lambda x: x < 0 or x != int(x)),
    "signed": ("{x}<>INT({x})", lambda x: x != int(x)),
    "money": ("{x}<0", lambda x: x < 0),
}


def _kind_checks(ed: Edition, rule: Rule) -> list[LiveCheck]:
    """Numbers of the wrong kind. Text in a number cell is left to the Python checks, which
    know which text is a harmless full-width number and which is not a number at all."""
    out = []
    for cell in ed.input_cells:
        if cell.table != rule.get("table"):
            continue
        cond, test = _KIND_EXPR[cell.kind]
        c = (cell.id,)
        out.append(LiveCheck(
            rule, cell.id, c,
            lambda r, c=c, cond=cond: f"IF(ISNUMBER({r(c)}),{cond.format(x=r(c))},FALSE)",
            lambda v, c=c, test=test: test(v.get(c[0], 0.0)),
        ))
    return out


def _not_greater_checks(ed: Edition, rule: Rule) -> list[LiveCheck]:
    table = ed.table(rule.get("table"))
    block = table.block(rule.get("block"))
    out = []
    for row in block.rows:
        right = (cell_id(table.key, block.key, row.key, rule.get("right")),)
        for key in rule.get("left"):
            left = (cell_id(table.key, block.key, row.key, key),)
            out.append(LiveCheck(
                rule, left[0], left,
                lambda r, a=left, b=right: f"N({r(a)})>N({r(b)})",
                lambda v, a=left, b=right: _total(v, a) > _total(v, b),
            ))
    return out


def _implies_checks(ed: Edition, rule: Rule) -> list[LiveCheck]:
    table = ed.table(rule.get("table"))
    block = table.blocks[0]
    row = block.rows[0].key
    a = (cell_id(table.key, block.key, row, rule.get("if_positive")),)
    b = (cell_id(table.key, block.key, row, rule.get("then_positive")),)
    return [LiveCheck(
        rule, a[0], a + b,
        lambda r: f"AND(N({r(a)})>0,N({r(b)})=0)",
        lambda v: _total(v, a) > 0 and _total(v, b) == 0,
    )]


_BUILDERS: Mapping[str, Callable[[Edition, Rule], list[LiveCheck]]] = {
    "sum": _sum_checks,
    "balance": _balance_checks,
    "cell_kind": _kind_checks,
    "not_greater": _not_greater_checks,
    "implies_positive": _implies_checks,
}


@cache
def live_checks(edition_key: str) -> tuple[LiveCheck, ...]:
    """Every live check of an edition, in rule order."""
    ed = load_edition(edition_key)
    return tuple(chk for rule in ed.rules if rule.kind in _BUILDERS for chk in _BUILDERS[rule.kind](ed, rule))


def live_rule_ids(edition_key: str) -> frozenset[str]:
    """The rules that have a live formula (the others exist only in the Python checks)."""
    return frozenset(c.rule.id for c in live_checks(edition_key))


__all__ = ["LiveCheck", "live_checks", "live_rule_ids", "refs", "layout_for", "select"]
