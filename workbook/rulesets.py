"""Every table rule of the spec compiled into the places it applies — the one compiled form.

A rule of the spec names rows and columns (``left``, ``items``, ``previous_row``…); what it means
cell by cell is decided here, once, and both consumers read the result: the Python checks
(``checks``, a few matrix products per county) and the template's live checks (``livecheck``,
an Excel formula per place, and its cached result).

An *instance* compares ``found = Σ found cells`` with ``expected = Σ coef · cell (+ Σ coef · last
year's cell)`` under an ``op``:

- ``eq``: found = expected (sums, balances, the cross-year carry and stock);
- ``le``: found ≤ expected (a part that must not exceed its whole);
- ``implies``: found > 0 needs expected > 0 (a lawsuit after review suggests a review);
- ``zero_if_type``: found = 0 for the unit types the rule names (known only from the cover).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Callable, Literal, Mapping

from .spec import Block, Edition, Rule, cell_id, load_edition, sum_instances

Op = Literal["eq", "le", "zero_if_type", "implies"]
Values = Mapping[str, float]
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Instance:
    """One place a table rule applies: the cell it is reported at (``anchor``), the cells it
    compares, and the cells a finding marks."""

    key: str
    rule: Rule
    anchor: str
    op: Op
    found: tuple[str, ...]
    expected: Mapping[str, float]
    previous: Mapping[str, float]
    marks: tuple[str, ...]

    @property
    def cross_year(self) -> bool:
        """Whether the instance needs last year's report (so a spreadsheet cannot compute it)."""
        return bool(self.previous)

    @property
    def self_contained(self) -> bool:
        """Whether the workbook's own numbers decide it: no last year, no unit type, and plain
        sums on both sides (what a spreadsheet formula can state)."""
        return (self.op in ("eq", "le", "implies") and not self.cross_year
                and all(w == 1.0 for w in self.expected.values()))

    def fails(self, values: Values) -> bool:
        """The verdict on one report's numbers (a self-contained instance only): TRUE = fails."""
        if not self.self_contained:
            raise ValueError(f"{self.key} needs last year's report or the unit type")
        found = sum(values.get(c, 0.0) for c in self.found)
        expected = sum(w * values.get(c, 0.0) for c, w in self.expected.items())
        if self.op == "le":
            return found > expected
        if self.op == "implies":
            return found > 0 and expected == 0
        return abs(found - expected) > TOLERANCE


def _mk(rule: Rule, i: int, anchor: str, op: Op, found: tuple[str, ...], expected: dict[str, float],
        previous: dict[str, float] | None = None, marks: tuple[str, ...] = ()) -> Instance:
    return Instance(f"{rule.id}#{i}", rule, anchor, op, found, MappingProxyType(expected),
                    MappingProxyType(previous or {}), marks or (anchor,))


def _sum(ed: Edition, rule: Rule) -> list[Instance]:
    return [_mk(rule, i, target, "eq", (target,), {c: 1.0 for c in items})
            for i, (target, items) in enumerate(sum_instances(ed.tables, rule))]


def _place(ed: Edition, rule: Rule) -> tuple[str, str, Block]:
    """The table and block a rule names (its table's only block when it names none)."""
    table = ed.table(rule.get("table"))
    block = table.block(rule.get("block")) if rule.get("block") else table.blocks[0]
    return table.key, block.key, block


def _balance(ed: Edition, rule: Rule) -> list[Instance]:
    t, b, block = _place(ed, rule)
    out = []
    for i, col in enumerate(block.columns):
        left = tuple(cell_id(t, b, r, col.key) for r in rule.get("left"))
        right = {cell_id(t, b, r, col.key): 1.0 for r in rule.get("right")}
        out.append(_mk(rule, i, cell_id(t, b, rule.get("at"), col.key), "eq", left, right, marks=left + tuple(right)))
    return out


def _not_greater(ed: Edition, rule: Rule) -> list[Instance]:
    t, b, block = _place(ed, rule)
    out = []
    for row in block.rows:
        right = cell_id(t, b, row.key, rule.get("right"))
        for key in rule.get("left"):
            left = cell_id(t, b, row.key, key)
            out.append(_mk(rule, len(out), left, "le", (left,), {right: 1.0}))
    return out


def _carry(ed: Edition, rule: Rule, every_column: bool = False) -> list[Instance]:
    # input columns only: a 总计 that differs only repeats the differing columns it sums
    t, b, block = _place(ed, rule)
    columns = [col for col in block.columns
               if every_column or ed.cell(cell_id(t, b, rule.get("row"), col.key)).role == "input"]
    out = []
    for i, col in enumerate(columns):
        this = cell_id(t, b, rule.get("row"), col.key)
        out.append(_mk(rule, i, this, "eq", (this,), {}, {cell_id(t, b, rule.get("previous_row"), col.key): 1.0}))
    return out


def _stock(ed: Edition, rule: Rule) -> list[Instance]:
    t, b, block = _place(ed, rule)
    out = []
    for i, row in enumerate(block.rows):
        stock = cell_id(t, b, row.key, rule.get("stock"))
        expected = {cell_id(t, b, row.key, rule.get("plus")): 1.0, cell_id(t, b, row.key, rule.get("minus")): -1.0}
        out.append(_mk(rule, i, stock, "eq", (stock,), expected, {stock: 1.0}))
    return out


def _zero_for_types(ed: Edition, rule: Rule) -> list[Instance]:
    t, b, block = _place(ed, rule)
    out = []
    for i, col in enumerate(block.columns):
        c = cell_id(t, b, rule.get("row"), col.key)
        out.append(_mk(rule, i, c, "zero_if_type", (c,), {}))
    return out


def _implies_positive(ed: Edition, rule: Rule) -> list[Instance]:
    t, b, block = _place(ed, rule)
    row = block.rows[0].key
    a, then = cell_id(t, b, row, rule.get("if_positive")), cell_id(t, b, row, rule.get("then_positive"))
    return [_mk(rule, 0, a, "implies", (a,), {then: 1.0}, marks=(a, then))]


COMPILERS: Mapping[str, Callable[[Edition, Rule], list[Instance]]] = MappingProxyType({
    "sum": _sum,
    "balance": _balance,
    "not_greater": _not_greater,
    "carry": _carry,
    "stock": _stock,
    "zero_for_types": _zero_for_types,
    "implies_positive": _implies_positive,
})


def compile_rule(ed: Edition, rule: Rule) -> list[Instance]:
    """The places one rule applies (none for a rule that is not about table cells)."""
    compiler = COMPILERS.get(rule.kind)
    return compiler(ed, rule) if compiler else []


def every_place(ed: Edition, rule: Rule) -> list[Instance]:
    """Like ``compile_rule``, but a cross-year carry also at its derived 总计 column, which the
    checks leave out (it only repeats the columns it sums) and a year-on-year comparison shows."""
    return _carry(ed, rule, every_column=True) if rule.kind == "carry" else compile_rule(ed, rule)


@cache
def instances(edition_key: str) -> tuple[Instance, ...]:
    """All table-rule instances of an edition, in rule order."""
    ed = load_edition(edition_key)
    return tuple(inst for rule in ed.rules for inst in compile_rule(ed, rule))


@cache
def rule_instances(edition_key: str, rule_id: str) -> tuple[Instance, ...]:
    """The instances of one rule, in order."""
    return tuple(i for i in instances(edition_key) if i.rule.id == rule_id)


__all__ = ["COMPILERS", "Instance", "Op", "TOLERANCE", "compile_rule", "every_place", "instances", "rule_instances"]
