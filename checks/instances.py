"""Every rule of the spec compiled into the places it applies, in a form numpy can evaluate.

A *linear* instance compares ``found = Σ found_cells`` with ``expected = Σ coef·cell (+ Σ coef·
last year's cell)`` — sums, balances, ≤ comparisons and the cross-year rules are all of this form,
so a whole county is checked with a few matrix products. The few rules that are not linear
(R2.4, R4.5) are *predicates* over the same matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal, Mapping

from workbook.spec import Edition, Line, Rule, cell_id, load_edition, select, sum_instances

Op = Literal["eq", "le", "zero_if_type", "implies"]


@dataclass(frozen=True)
class Instance:
    """One place a table rule applies."""

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
        return bool(self.previous)


def _mk(rule: Rule, i: int, anchor: str, op: Op, found: tuple[str, ...], expected: dict[str, float],
        previous: dict[str, float] | None = None, marks: tuple[str, ...] = ()) -> Instance:
    return Instance(f"{rule.id}#{i}", rule, anchor, op, found, expected, previous or {}, marks or (anchor,))


def _compile(ed: Edition, rule: Rule) -> list[Instance]:
    kind = rule.kind
    out: list[Instance] = []
    if kind == "sum":
        for i, (target, items) in enumerate(sum_instances(ed.tables, rule)):
            out.append(_mk(rule, i, target, "eq", (target,), {c: 1.0 for c in items}))
        return out
    if kind not in {"balance", "not_greater", "carry", "stock", "zero_for_types", "implies_positive"}:
        return out
    table = ed.table(rule.get("table"))
    block = table.block(rule.get("block")) if rule.get("block") else table.blocks[0]
    t, b = table.key, block.key
    if kind == "balance":
        for i, col in enumerate(block.columns):
            left = tuple(cell_id(t, b, r, col.key) for r in rule.get("left"))
            right = {cell_id(t, b, r, col.key): 1.0 for r in rule.get("right")}
            out.append(_mk(rule, i, cell_id(t, b, rule.get("at"), col.key), "eq", left, right, marks=left + tuple(right)))
    elif kind == "not_greater":
        i = 0
        for row in block.rows:
            for key in rule.get("left"):
                left = cell_id(t, b, row.key, key)
                right = cell_id(t, b, row.key, rule.get("right"))
                out.append(_mk(rule, i, left, "le", (left,), {right: 1.0}))
                i += 1
    elif kind == "carry":
        # input columns only: a 总计 that differs only repeats the differing columns it sums
        columns = [col for col in block.columns if ed.cell(cell_id(t, b, rule.get("row"), col.key)).role == "input"]
        for i, col in enumerate(columns):
            this = cell_id(t, b, rule.get("row"), col.key)
            out.append(_mk(rule, i, this, "eq", (this,), {}, {cell_id(t, b, rule.get("previous_row"), col.key): 1.0}))
    elif kind == "stock":
        for i, row in enumerate(block.rows):
            stock = cell_id(t, b, row.key, rule.get("stock"))
            expected = {cell_id(t, b, row.key, rule.get("plus")): 1.0, cell_id(t, b, row.key, rule.get("minus")): -1.0}
            out.append(_mk(rule, i, stock, "eq", (stock,), expected, {stock: 1.0}))
    elif kind == "zero_for_types":
        for i, col in enumerate(block.columns):
            c = cell_id(t, b, rule.get("row"), col.key)
            out.append(_mk(rule, i, c, "zero_if_type", (c,), {}))
    elif kind == "implies_positive":
        row = block.rows[0].key
        a, bb = cell_id(t, b, row, rule.get("if_positive")), cell_id(t, b, row, rule.get("then_positive"))
        out.append(_mk(rule, 0, a, "implies", (a,), {bb: 1.0}, marks=(a, bb)))
    return out


@cache
def instances(edition_key: str) -> tuple[Instance, ...]:
    """All table-rule instances of an edition, in rule order."""
    ed = load_edition(edition_key)
    return tuple(inst for rule in ed.rules for inst in _compile(ed, rule))


def _unique_suffix(line: Line, lines: tuple[Line, ...]) -> str:
    """The shortest tail of a header path that no other line of the block shares.

    Part 四 prints 结果维持 three times (under 行政复议, 未经复议直接起诉, 复议后起诉): a finding
    that said only “结果维持” would not tell the clerk which one, so it names the group too.
    """
    for n in range(1, len(line.path) + 1):
        tail = line.path[-n:]
        if sum(1 for other in lines if other.path[-n:] == tail) == 1:
            break
    else:
        tail = line.path
    return " · ".join((*tail[:-1], line.header)) if tail else line.header


@cache
def display_labels(edition_key: str, cid: str) -> tuple[str, str]:
    """(row, column) of a cell as a finding names them: the printed labels, qualified where the
    printed label alone is ambiguous or meaningless (“3.其他” under （六）其他处理, the three
    “结果维持” of Part 四). Part 四's single row has no label (empty string)."""
    ed = load_edition(edition_key)
    c = ed.cell(cid)
    block = ed.table(c.table).block(c.block)
    row = block.row(c.row)
    row_label = row.label if len(row.path) < 3 else f"{row.path[-2]} {row.label}"
    return row_label, _unique_suffix(block.column(c.col), block.columns)


def row_col(ed: Edition, cid: str) -> tuple[str, str]:
    """The (row, column) labels a finding uses for a cell of ``ed``."""
    return display_labels(ed.key, cid)


__all__ = ["Instance", "display_labels", "instances", "row_col", "select"]
