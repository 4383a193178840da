"""From a ``Document`` to a ``Report``: outline, title, edition, tables, text parts, and the log.

The edition is told from the labels only one edition prints and checked against the report year
(from the title, and the statistical period “统计日期自2020年1月1日”); a mismatch is imported as
published and logged, so that validation reports it (R0.2) instead of the import hiding it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbook.report import Report
from workbook.spec import CURRENT_EDITION, EDITIONS, Edition, edition_for_year, load_edition

from .labels import edition_votes
from .model import Document, Image, Note, Para, Table
from .normalise import simplify
from .place import Placer
from .sections import Outline, find_title, images_in, outline, part_text

# Unit types that a name states beyond doubt: (ending of the name, the spec's choice).
_TYPE_BY_NAME = ((re.compile(r"街道办事处$"), "街道办事处"), (re.compile(r"[镇乡]人民政府$"), "乡镇人民政府"),
                 (re.compile(r"[县区旗]人民政府$"), "县级人民政府"))


@dataclass
class Imported:
    """A published report read into the spec's cells, with everything the import did to it."""

    path: Path
    kind: str
    report: Report
    notes: list[Note] = field(default_factory=list)

    @property
    def problems(self) -> list[Note]:
        return [n for n in self.notes if n.problem]

    @property
    def normalised(self) -> list[Note]:
        return [n for n in self.notes if not n.problem]

    @property
    def cells(self) -> int:
        """How many table cells the report's edition has."""
        return len(self.report.edition.cells)

    @property
    def placed(self) -> int:
        """How many of them the import placed (the others are unknown, see ``Report.unknown``)."""
        return self.cells - len(self.report.unknown)

    def unplaced(self) -> list[str]:
        """The cells not placed, named as a person finds them (“三、… · 自然人”), grouped by row
        when a whole row (or table) is missing."""
        return describe_cells(self.report.edition, self.report.unknown)

    def to_json(self) -> dict[str, Any]:
        rep = self.report
        return {"path": str(self.path), "kind": self.kind, "unit": rep.unit, "year": rep.year, "edition": rep.edition_key,
                "cells": self.cells, "placed": self.placed,
                "unknown_cells": sorted(rep.unknown, key=rep.edition.cell_index.__getitem__),
                "normalised": [n.to_json() for n in self.normalised], "problems": [n.to_json() for n in self.problems]}


def describe_cells(ed: Edition, cells: frozenset[str] | set[str]) -> list[str]:
    """Cells named for a person: a whole table by its title, a whole row by its label, else
    “row · column” (the labels the checks use)."""
    from workbook.spec import cell_id

    out: list[str] = []
    for table in ed.tables:
        ids = [c.id for c in ed.cells if c.table == table.key]
        if ids and all(i in cells for i in ids):
            out.append(f"{table.title}（整张表）")
            continue
        for block in table.blocks:
            for row in block.rows:
                row_ids = [cell_id(table.key, block.key, row.key, c.key) for c in block.columns]
                missing = [c for c, i in zip(block.columns, row_ids) if i in cells]
                name = row.label or block.title or table.title
                if len(missing) == len(block.columns) and len(missing) > 1:
                    out.append(f"{name}（整行）")
                else:
                    out += [f"{name} · {c.header}" if name else c.header for c in missing]
    return out


def _tokens(out: Outline) -> list[str]:
    texts: list[str] = []
    for s in out.sections:
        for item in out.parts[s.key]:
            if isinstance(item, Table):
                texts += [c.text for row in item.rows for c in row.cells]
            elif isinstance(item, Para) and s.kind == "table":
                texts.append(item.text)
    texts += [c.text for item in out.before if isinstance(item, Table) for row in item.rows for c in row.cells]
    return texts


def _edition(out: Outline, year: int | None, notes: list[Note]) -> Edition:
    votes = edition_votes(_tokens(out))
    counts = {k: len(v) for k, v in votes.items()}
    ranked = sorted(EDITIONS, key=lambda k: counts[k], reverse=True)
    by_year = edition_for_year(year) if year else None
    if counts[ranked[0]] > counts[ranked[1]]:
        ed = load_edition(ranked[0])
        shown = "、".join(list(dict.fromkeys("".join(v.split()) for v in votes[ed.key]))[:4])
        notes.append(Note("edition", "表格", shown, f"据表格标签判断为 {ed.name}"))
        if by_year is not None and by_year.key != ed.key:
            rule = ed.rules_of("edition_year")[0].id
            notes.append(Note("edition", "表格", ed.name,
                              f"{_label(ed, 'year')} {year} 应使用 {by_year.name}，但发布的表格是 {ed.name}；按发布的版本录入，校验时报 {rule}",
                              problem=True))
        return ed
    if by_year is not None:
        notes.append(Note("edition", "表格", str(year), f"表格中没有能区分版本的标签，按{_label(by_year, 'year')}选用 {by_year.name}"))
        return by_year
    ed = load_edition(CURRENT_EDITION)
    notes.append(Note("edition", "全文", "", f"既无法从表格判断版本，也找不到{_label(ed, 'year')}，按 {ed.name} 录入", problem=True))
    return ed


def _label(ed: Edition, key: str) -> str:
    """A cover field's label, as the spec prints it."""
    return next(f.label for f in ed.cover if f.key == key)


def _unit_type(ed: Edition, unit: str) -> str:
    choices = next(f.choices for f in ed.cover if f.key == "unit_type")
    for pattern, choice in _TYPE_BY_NAME:
        if choice in choices and pattern.search(unit):
            return choice
    return ""


def _from_elsewhere(placer: Placer, tables: list[Table]) -> None:
    """Tables outside the table parts (no heading found, or under a text part) fill only a table
    that nothing was placed into — so a small table inside part 一 never overwrites part 二."""
    ed = placer.ed
    empty = [t.key for t in ed.tables if not any(c.table == t.key and c.id in placer.origin for c in ed.cells)]
    if not tables or not empty:
        return
    extra = Placer(ed)
    extra.enter(None)
    extra.feed(tables)
    taken = [cid for cid in extra.origin if cid.split(".", 1)[0] in empty]
    for cid in taken:
        placer.raw[cid], placer.origin[cid] = extra.raw[cid], extra.origin[cid]
    if taken:
        seen = {(n.kind, n.found, n.detail) for n in placer.notes}
        placer.notes += [n for n in extra.notes if (n.kind, n.found, n.detail) not in seen
                         and (n.cell.split(".", 1)[0] in empty if n.cell else n.kind in ("label", "blank", "header"))]
        names = "、".join(ed.table(k).title for k in dict.fromkeys(c.split(".", 1)[0] for c in taken))
        placer.notes.append(Note("header", extra.origin[taken[0]], names, "表格不在其标题之下（或没有标题），按表中标签录入"))


def build_report(doc: Document) -> Imported:
    """Place ``doc`` into a report of the edition its labels show; log every decision."""
    notes: list[Note] = []
    out = outline(doc)
    title = find_title(doc, out.before, out.parts.get("overview", []))
    year = title.year or title.period_year
    if title.year and title.period_year and title.year != title.period_year:
        notes.append(Note("title", title.period_where, str(title.period_year),
                          f"标题写 {title.year} 年度，统计日期写 {title.period_year} 年，按标题录入（请核实）", problem=True))
    elif not title.year and title.period_year:
        notes.append(Note("title", title.period_where, str(title.period_year), "标题中没有年度，按统计日期录入"))
    ed = _edition(out, year, notes)
    unit = simplify(title.unit)
    cover: dict[str, str] = {"unit_name": unit, "year": str(year) if year else ""}
    if unit:
        changed = "（繁体字已转为简体）" if unit != title.unit else ""
        notes.append(Note("title", title.where, title.text[:60], f"{_label(ed, 'unit_name')}“{unit}”、{_label(ed, 'year')} {year or '（无）'}{changed}"))
        if kind := _unit_type(ed, unit):
            cover["unit_type"] = kind
            notes.append(Note("title", title.where, unit, f"{_label(ed, 'unit_type')}据名称定为“{kind}”"))
    else:
        notes.append(Note("title", "开头", title.text[:60], f"找不到{_label(ed, 'unit_name')}（标题应为“××单位{ed.heading.format(year='××')}”）",
                          problem=True))
    if not year:
        notes.append(Note("title", "开头", title.text[:60], f"找不到{_label(ed, 'year')}", problem=True))
    placer = Placer(ed)
    images: dict[str, list[Image]] = {}
    elsewhere: list[Table] = [i for i in out.before if isinstance(i, Table)]
    texts: dict[str, str] = {}
    for s in out.sections:
        items = out.parts[s.key]
        if s.kind == "table":
            placer.enter(s.key)
            placer.feed(items)
            images[s.key] = images_in(items)
            continue
        elsewhere += [i for i in items if isinstance(i, Table)]
        text, cut = part_text(items, unit)
        texts[s.key] = text
        if s.key not in out.headings:
            notes.append(Note("missing", "全文", s.label, "找不到这一部分的标题，正文留空", problem=True))
        for p in cut:
            notes.append(Note("ignored", p.where, p.text.strip(), f"落款，未录入“{s.label}”"))
    _from_elsewhere(placer, elsewhere)
    placer.finish(images, out.headings)
    notes += placer.notes
    unknown = frozenset(c.id for c in ed.cells if c.id not in placer.origin)
    report = Report(ed.key, cover=cover, texts=texts, raw=dict(placer.raw), source="published", path=doc.path,
                    unknown=unknown, published=dict(placer.published))
    return Imported(doc.path, doc.kind, report, notes)


__all__ = ["Imported", "build_report"]
