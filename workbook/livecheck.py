"""The rules rendered as the workbook's own live checks.

Single cells are wrapped in N() so that a cell holding only spaces counts as 0, as SUM and the
Python checks count it; text that spells a number (“１２”) is 0 to a spreadsheet but 12 to the
Python checks, which report it as R0.4 — the one place the two may differ.

Each rule of a kind that a spreadsheet can compute becomes one Excel formula per place it applies
(TRUE = the rule fails), rendered from the rule's compiled instances (``rulesets``): the same
instances the Python checks evaluate, so the two cannot read a rule differently, and the cached
result written with each formula is the instance's own verdict. The template uses these
formulas twice: in a hidden check sheet (so that a spreadsheet application computes every check,
and tests can compare its verdicts with the Python checks) and as conditional formats that
colour the cell while the clerk types — in plain same-sheet formulas that WPS handles.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Callable

from .layout import Layout, a1, quote_sheet
from .rulesets import Instance, Values, rule_instances
from .spec import Edition, Rule, load_edition

Ref = Callable[[tuple[str, ...]], str]


@dataclass(frozen=True)
class LiveCheck:
    """One place a rule applies: the cell it is reported at, the cells it colours, its formula."""

    rule: Rule
    anchor: str
    marks: tuple[str, ...]
    expr: Callable[[Ref], str]
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


def _render(inst: Instance, r: Ref) -> str:
    """An instance as the Excel condition that is TRUE when it fails (``r`` writes references).
    A single cell goes through N() so that spaces count 0; several through SUM()."""
    expected = tuple(inst.expected)
    if inst.op == "le":
        return f"N({r(inst.found)})>N({r(expected)})"
    if inst.op == "implies":
        return f"AND(N({r(inst.found)})>0,N({r(expected)})=0)"
    found = f"N({r(inst.found)})" if len(inst.found) == 1 else f"SUM({r(inst.found)})"
    return f"{found}<>SUM({r(expected)})"


def _from_instance(inst: Instance) -> LiveCheck:
    return LiveCheck(inst.rule, inst.anchor, inst.marks, lambda r: _render(inst, r), inst.fails)


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


def _checks_of(ed: Edition, rule: Rule) -> list[LiveCheck]:
    """A rule's live checks: its kind check, or its compiled instances that the workbook's own
    numbers decide (cross-year and unit-type rules stay with the Python checks)."""
    if rule.kind == "cell_kind":
        return _kind_checks(ed, rule)
    return [_from_instance(i) for i in rule_instances(ed.key, rule.id) if i.self_contained]


@cache
def live_checks(edition_key: str) -> tuple[LiveCheck, ...]:
    """Every live check of an edition, in rule order."""
    ed = load_edition(edition_key)
    return tuple(chk for rule in ed.rules for chk in _checks_of(ed, rule))


def live_rule_ids(edition_key: str) -> frozenset[str]:
    """The rules that have a live formula (the others exist only in the Python checks)."""
    return frozenset(c.rule.id for c in live_checks(edition_key))


__all__ = ["LiveCheck", "live_checks", "live_rule_ids", "refs"]
