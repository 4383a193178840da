"""How findings name the cells of a rule instance; the instances themselves are compiled once,
in ``workbook.rulesets`` (the template's live checks render the same ones as formulas).

A rule's message is a template (``rules.toml``); the labels it uses are filled in here from the
spec, never written into the message: ``{row}``, ``{column}``, ``{where}`` name the cell a
finding is reported at, ``{column_path}`` its column with every group above it, and ``{left}``,
``{right}``, ``{last_year}`` the cells the instance compares — named by the part of their
printed labels that tells them apart (“结果维持 + 结果纠正 + …” under 行政复议, but
“复议后起诉 · 总计” against “行政复议 · 总计”).
"""

from __future__ import annotations

from functools import cache
from typing import Mapping

from workbook.rulesets import Instance, instances
from workbook.spec import Edition, Line, load_edition


def _unique_suffix(line: Line, lines: tuple[Line, ...]) -> str:
    """The shortest tail of a header path that no other line of ``lines`` shares.

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


def where(row: str, column: str) -> str:
    """“row · column”, without an empty part (Part 四 has no row label)."""
    return " · ".join(x for x in (row, column) if x)


def cell_fields(edition_key: str, cid: str) -> dict[str, str]:
    """The placeholders that name the cell a finding is reported at."""
    ed = load_edition(edition_key)
    row, column = display_labels(edition_key, cid)
    c = ed.cell(cid)
    col = ed.table(c.table).block(c.block).column(c.col)
    return {"row": row, "column": column, "where": where(row, column),
            "column_path": " · ".join((*col.path[:-1], col.header))}


def _names(ed: Edition, cells: tuple[str, ...]) -> dict[str, str]:
    """Each cell named by what tells it apart from the others: its column when all share a row,
    its row when all share a column, both otherwise."""
    cs = [ed.cell(c) for c in cells]
    block = ed.table(cs[0].table).block(cs[0].block)
    same_block = all((c.table, c.block) == (cs[0].table, cs[0].block) for c in cs)
    if same_block and len({c.row for c in cs}) == 1:
        lines = tuple(dict.fromkeys(block.column(c.col) for c in cs))
        return {c.id: _unique_suffix(block.column(c.col), lines) for c in cs}
    if same_block and len({c.col for c in cs}) == 1:
        lines = tuple(dict.fromkeys(block.row(c.row) for c in cs))
        return {c.id: _unique_suffix(block.row(c.row), lines) for c in cs}
    return {c.id: where(*display_labels(ed.key, c.id)) for c in cs}


def _trimmed(names: list[str]) -> list[str]:
    """Names added up together, without a long tail they all share: “一、本年新收政府信息公开申请
    数量 + 二、上年结转政府信息公开申请数量” says “一、本年新收 + 二、上年结转” — the shared tail
    is dropped only when it is longer than what tells the names apart (“本年制发件数 − 本年废止件数”
    keeps its “件数”)."""
    if len(names) < 2:
        return names
    n = 0
    while n < min(map(len, names)) and len({x[len(x) - n - 1] for x in names}) == 1:
        n += 1
    if n == 0 or n <= max(len(x) - n for x in names):
        return names
    return [x[:-n] for x in names]


def _signed(terms: list[tuple[str, float]]) -> str:
    terms = list(zip(_trimmed([t for t, _ in terms]), (w for _, w in terms)))
    out = ""
    for i, (name, w) in enumerate(terms):
        if i == 0:
            out = name if w >= 0 else f"−{name}"
        else:
            out += f" {'+' if w >= 0 else '−'} {name}"
    return out


_FIELDS: dict[tuple[str, str, str], Mapping[str, str]] = {}


def _instance_fields(edition_key: str, inst: Instance) -> Mapping[str, str]:
    """Cached by instance key and anchor (an instance of ``every_place`` that the checks leave
    out shares a rule with the checked ones but not an anchor)."""
    key = (edition_key, inst.key, inst.anchor)
    if key not in _FIELDS:
        ed = load_edition(edition_key)
        names = _names(ed, tuple(dict.fromkeys((inst.anchor, *inst.found, *inst.expected, *inst.previous))))
        _FIELDS[key] = {**cell_fields(edition_key, inst.anchor),
                        "left": " + ".join(_trimmed([names[c] for c in inst.found])),
                        "right": _signed([(names[c], w) for c, w in inst.expected.items()]),
                        "last_year": _signed([(names[c], w) for c, w in inst.previous.items()])}
    return _FIELDS[key]


def instance_fields(edition_key: str, inst: Instance) -> dict[str, str]:
    """The placeholders of a finding at ``inst``: its cell's, and the names of the cells it
    compares (``left`` = found, ``right`` = expected, ``last_year`` = last year's cells)."""
    return dict(_instance_fields(edition_key, inst))


def constant_fields(ed: Edition, rule_id: str) -> dict[str, str]:
    """The label placeholders that are the same at every place a rule applies (for the rule's
    documentation, where a message is shown before any finding exists)."""
    keyed = [_instance_fields(ed.key, i) for i in instances(ed.key) if i.rule.id == rule_id]
    if not keyed:
        return {}
    out = {k: v for k, v in keyed[0].items() if all(f.get(k) == v for f in keyed[1:])}
    if "where" not in out:  # “（七）总计 · {column}”: the part of the place that does not vary
        out["where"] = where(out.get("row", "{row}"), out.get("column", "{column}"))
    return out


__all__ = ["Instance", "cell_fields", "constant_fields", "display_labels", "instance_fields", "instances", "where"]
