"""The declarative report spec: one TOML file per edition, loaded into immutable objects.

Everything that knows about the report's tables — the template, the reader, the checks, the
add-in, the exports — takes labels, cell kinds and rules from here, so that a label or a rule is
written exactly once (in ``specs/*.toml``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal, Mapping

CellKind = Literal["count", "signed", "money"]
Role = Literal["input", "derived"]
Severity = Literal["hard", "soft"]

EDITIONS: tuple[str, ...] = ("2021", "2019")
CURRENT_EDITION = "2021"
KIND_LABELS: Mapping[str, str] = MappingProxyType(
    {"count": "非负整数", "signed": "整数（减少用负数，如 -8）", "money": "非负数（单位：万元）"}
)


@dataclass(frozen=True)
class Line:
    """A row or a column of a table: its key and its label path as printed (outermost first)."""

    key: str
    path: tuple[str, ...]
    kind: CellKind = "count"
    unit: str | None = None

    @property
    def label(self) -> str:
        """The innermost printed label (what a finding names)."""
        return self.path[-1] if self.path else ""

    @property
    def header(self) -> str:
        """The label with its unit, as the template prints it."""
        if self.unit and self.unit not in self.label:
            return f"{self.label}（单位：{self.unit}）"
        return self.label


@dataclass(frozen=True)
class Block:
    """A rectangular group of rows × columns; Part 二 has several, Parts 三 and 四 one each."""

    key: str
    title: str | None
    rows: tuple[Line, ...]
    columns: tuple[Line, ...]

    def row(self, key: str) -> Line:
        return next(r for r in self.rows if r.key == key)

    def column(self, key: str) -> Line:
        return next(c for c in self.columns if c.key == key)


@dataclass(frozen=True)
class Table:
    """One of the three statistical tables, on a sheet of its own."""

    key: str
    sheet: str
    title: str
    corner: str
    blocks: tuple[Block, ...]

    def block(self, key: str) -> Block:
        return next(b for b in self.blocks if b.key == key)


@dataclass(frozen=True)
class Cell:
    """A number cell of a table. ``items`` lists the cells a derived cell sums."""

    table: str
    block: str
    row: str
    col: str
    kind: CellKind
    role: Role
    items: tuple[str, ...] = ()
    rule: str | None = None

    @property
    def id(self) -> str:
        return cell_id(self.table, self.block, self.row, self.col)


def cell_id(table: str, block: str, row: str, col: str) -> str:
    """The stable identifier of a cell, used as a column name in frames and in JSON."""
    return f"{table}.{block}.{row}.{col}"


@dataclass(frozen=True)
class Rule:
    """A rule as the spec states it; ``params`` holds its kind-specific settings."""

    id: str
    severity: Severity
    kind: str
    title: str
    message: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


@dataclass(frozen=True)
class CoverField:
    key: str
    label: str
    required: bool
    format: str | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class TextPart:
    key: str
    label: str


@dataclass(frozen=True)
class Edition:
    """One edition of the report format, complete: tables, cells, cover, texts and rules."""

    key: str
    document: str
    first_year: int
    last_year: int
    cover_sheet: str
    heading: str
    cover: tuple[CoverField, ...]
    texts: tuple[TextPart, ...]
    tables: tuple[Table, ...]
    rules: tuple[Rule, ...]
    cells: tuple[Cell, ...]

    @property
    def name(self) -> str:
        """How a person names the edition, e.g. “2021 版（国办公开办函〔2021〕30号）”."""
        return f"{self.key} 版（{self.document}）"

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)

    def rules_of(self, kind: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.kind == kind)

    @property
    def cell_index(self) -> Mapping[str, int]:
        return _cell_index(self.key)

    def cell(self, cid: str) -> Cell:
        return self.cells[self.cell_index[cid]]

    @property
    def input_cells(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if c.role == "input")

    @property
    def derived_cells(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if c.role == "derived")

    def labels(self, cid: str) -> tuple[str, str]:
        """(row label, column label) of a cell as printed, for messages and headers."""
        c = self.cell(cid)
        block = self.table(c.table).block(c.block)
        return block.row(c.row).label, block.column(c.col).header

    def covers_year(self, year: int) -> bool:
        return self.first_year <= year <= self.last_year


@cache
def _cell_index(key: str) -> Mapping[str, int]:
    return MappingProxyType({c.id: i for i, c in enumerate(load_edition(key).cells)})


def select(lines: tuple[Line, ...], selector: str | list[str]) -> tuple[str, ...]:
    """Resolve a row/column selector of the spec ("a..<b", "a..b", a key or a list of keys)."""
    keys = [ln.key for ln in lines]
    if isinstance(selector, list):
        return tuple(selector)
    if "..<" in selector or ".." in selector:
        exclusive = "..<" in selector
        first, last = selector.split("..<" if exclusive else "..")
        i, j = keys.index(first), keys.index(last)
        return tuple(keys[i : j if exclusive else j + 1])
    return (selector,)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _line(d: Mapping[str, Any]) -> Line:
    path = tuple(d["path"]) if "path" in d else (d["label"],)
    return Line(key=d["key"], path=path, kind=d.get("kind", "count"), unit=d.get("unit"))


def _read(name: str) -> dict[str, Any]:
    text = resources.files("workbook").joinpath("specs", name).read_text(encoding="utf-8")
    return tomllib.loads(text)


def _tables(common: dict[str, Any], ed: dict[str, Any]) -> tuple[Table, ...]:
    p2 = ed["part2"]
    part2 = Table(
        key="part2",
        sheet=p2["sheet"],
        title=p2["title"],
        corner=p2["corner"],
        blocks=tuple(
            Block(b["key"], b["title"], tuple(map(_line, b["rows"])), tuple(map(_line, b["columns"])))
            for b in p2["blocks"]
        ),
    )
    p3 = common["part3"]
    rows3 = [*p3["rows_head"], *ed["part3"]["rows_other"], *p3["rows_tail"]]
    part3 = Table(
        "part3", p3["sheet"], p3["title"], p3["corner"],
        (Block("main", None, tuple(map(_line, rows3)), tuple(map(_line, p3["columns"]))),),
    )
    p4 = common["part4"]
    part4 = Table(
        "part4", p4["sheet"], p4["title"], "",
        (Block("main", None, tuple(map(_line, p4["rows"])), tuple(map(_line, p4["columns"]))),),
    )
    return part2, part3, part4


def sum_instances(tables: tuple[Table, ...], rule: Rule) -> list[tuple[str, tuple[str, ...]]]:
    """(target cell, cells it must equal the sum of) for every place a ``sum`` rule applies."""
    table = next(t for t in tables if t.key == rule.get("table"))
    block = table.blocks[0]
    if rule.get("axis") == "column":
        items = select(block.rows, rule.get("items"))
        return [(cell_id(table.key, block.key, rule.get("target"), col.key),
                 tuple(cell_id(table.key, block.key, r, col.key) for r in items)) for col in block.columns]
    items = select(block.columns, rule.get("items"))
    return [(cell_id(table.key, block.key, row.key, rule.get("target")),
             tuple(cell_id(table.key, block.key, row.key, c) for c in items)) for row in block.rows]


def _derivations(tables: tuple[Table, ...], rules: tuple[Rule, ...]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Map each derived cell to (rule id, cells it sums), from the ``sum`` rules.

    A cell that two sum rules define (the corner of Part 三) keeps the first rule's items; both
    give the same number when the report is consistent.
    """
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for rule in rules:
        if rule.kind == "sum":
            for target, items in sum_instances(tables, rule):
                out.setdefault(target, (rule.id, items))
    return out


@cache
def load_edition(key: str = CURRENT_EDITION) -> Edition:
    """Load an edition ("2021" or "2019") from its TOML files; cached, immutable."""
    if key not in EDITIONS:
        raise ValueError(f"未知的表格版本：{key}（可选：{'、'.join(EDITIONS)}）")
    common, ed, shared_rules = _read("common.toml"), _read(f"{key}.toml"), _read("rules.toml")
    rules = tuple(
        Rule(
            id=r["id"], severity=r["severity"], kind=r["kind"], title=r["title"], message=r["message"],
            params=_freeze({k: v for k, v in r.items() if k not in {"id", "severity", "kind", "title", "message"}}),
        )
        for r in [*shared_rules["rules"], *ed.get("rules", [])]
    )
    tables = _tables(common, ed)
    derived = _derivations(tables, rules)
    cells: list[Cell] = []
    for table in tables:
        for block in table.blocks:
            for row in block.rows:
                for col in block.columns:
                    cid = cell_id(table.key, block.key, row.key, col.key)
                    rule_id, items = derived.get(cid, (None, ()))
                    cells.append(Cell(table.key, block.key, row.key, col.key, col.kind,
                                      "derived" if rule_id else "input", items, rule_id))
    cov = common["cover"]
    return Edition(
        key=key,
        document=ed["document"],
        first_year=ed["first_year"],
        last_year=ed["last_year"],
        cover_sheet=cov["title"],
        heading=cov["heading"],
        cover=tuple(
            CoverField(f["key"], f["label"], f["required"], f.get("format"), tuple(f.get("choices", ())))
            for f in cov["fields"]
        ),
        texts=tuple(TextPart(t["key"], t["label"]) for t in cov["texts"]),
        tables=tables,
        rules=rules,
        cells=tuple(cells),
    )


def edition_for_year(year: int) -> Edition:
    """The edition a report of ``year`` must use (R0.2): ≤2020 → 2019 edition, else 2021."""
    for key in EDITIONS:
        ed = load_edition(key)
        if ed.covers_year(year):
            return ed
    return load_edition("2019") if year < 2019 else load_edition(CURRENT_EDITION)
