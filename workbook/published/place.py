"""Put published table cells into the spec's cells — by label, never by position alone.

A row is read as: label cells (a block title, header labels, group labels, the row's own label),
then its values. The row's label, checked against the groups printed before it (in the row, or
in earlier rows — a text dump loses merged cells), names the spec row. Columns come from the
header: on a real grid (HTML, Word) each value sits under its header cells, whose labels name the
column (Part 四 prints “结果维持” three times; the group above tells them apart); a text dump
loses the header's geometry, so its values are taken in the spec's order — after checking that
the header's labels are the spec's and that the row has exactly as many values as columns.
Anything that does not fit is written to the log with its place, never guessed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from workbook.spec import Block, Edition, cell_id
from workbook.values import Status, parse_number

from .labels import FUZZY, Target, describe, index_for
from .model import Image, Note, Para, Table, TCell
from .normalise import cell_value, is_blank, is_value, unit_of
from .wrapped import join_wrapped


@dataclass
class Tok:
    """A classified cell: empty, value, label (with what it may be) or unknown text."""

    cell: TCell
    kind: str
    targets: list[Target] = field(default_factory=list)
    level: int = -1


@dataclass
class HeaderEntry:
    tok: Tok
    targets: list[Target]
    row: int


@dataclass
class Header:
    """Header labels seen since the last data row (several rows for Parts 三 and 四)."""

    entries: list[HeaderEntry] = field(default_factory=list)
    rows: set[int] = field(default_factory=set)

    def add(self, tok: Tok, targets: list[Target], row: int) -> None:
        # a merged cell repeats in the rows it spans (same place, same grid column): kept once;
        # the cells of a text row share their line and have no column, so each is its own
        def key(cell: TCell) -> tuple[object, ...]:
            return (cell.where, cell.col) if cell.col is not None else (id(cell),)

        if all(key(e.tok.cell) != key(tok.cell) for e in self.entries):
            self.entries.append(HeaderEntry(tok, targets, row))
            self.rows.add(row)

    def leaves(self, block: Block, table: str) -> list[tuple[HeaderEntry, list[Target]]]:
        out = []
        for e in self.entries:
            cols = [t for t in e.targets if t.role == "column" and t.table == table and t.block == block.key]
            if cols:
                out.append((e, cols))
        return out

    def at(self, c0: int, c1: int, block: Block, table: str) -> tuple[str | None, HeaderEntry | None]:
        """The column whose header cells stand over grid columns c0..c1."""
        over = [e for e in self.entries if e.tok.cell.col is not None
                and e.tok.cell.col <= c1 and (e.tok.cell.last_col or 0) >= c0]
        leaves = [(e, [t for t in e.targets if t.role == "column" and t.table == table and t.block == block.key]) for e in over]
        leaves = [(e, ts) for e, ts in leaves if ts]
        if not leaves:
            return None, None
        entry, cands = max(leaves, key=lambda x: x[0].row)
        # the groups above the leaf header's first column (a merge that straddles two groups —
        # LibreOffice splits columns so — must not pull the leaf into both)
        anchor = entry.tok.cell.col if entry.tok.cell.col is not None else c0
        groups = [{t.label for t in e.targets if t.role == "colgroup"} for e in over
                  if e.tok.cell.col is not None and e.tok.cell.col <= anchor <= (e.tok.cell.last_col or anchor)]
        keys = {t.key for t in cands if all(not g or g & set(block.column(t.key).path) for g in groups)}
        return (keys.pop(), entry) if len(keys) == 1 else (None, entry)

    def flat_order(self, block: Block, table: str) -> list[str] | None:
        """Column keys in the order a single-level header prints them (a text dump keeps that
        order); None when the header has levels, whose order a dump does not keep."""
        if any(t.role == "colgroup" for e in self.entries for t in e.targets):
            return None
        leaves = self.leaves(block, table)
        if len({e.row for e, _ in leaves}) != 1 or any(len(c) != 1 for _, c in leaves):
            return None
        order = [c[0].key for _, c in leaves]
        if len(order) == len(block.columns) and set(order) == {c.key for c in block.columns}:
            return order
        return None

    def units(self, block: Block, table: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for e, cols in self.leaves(block, table):
            unit = unit_of(e.tok.cell.text)
            if unit and len(cols) == 1:
                out[cols[0].key] = unit
        return out


class Placer:
    """Reads rows (from tables or rebuilt from paragraphs) into ``raw``, logging every decision."""

    def __init__(self, edition: Edition) -> None:
        self.ed = edition
        self.index = index_for(edition.key)
        self.raw: dict[str, Any] = {}
        self.origin: dict[str, str] = {}
        self.notes: list[Note] = []
        self.table: str | None = None
        self.block: str | None = None
        self.strict = False
        self.pending = Header()
        self.headers: dict[tuple[str, str], Header] = {}
        self.groups: dict[str, set[str]] = defaultdict(set)
        self.after_data = False
        self.row_no = 0
        self._labels_noted: set[tuple[str, str]] = set()
        self._order_noted: set[tuple[str, str]] = set()
        self.reported: set[tuple[str, str, str]] = set()  # rows already logged as not placed
        self.implied: set[str] = set()  # cells set to 0 by their group's one-row 0 (a row of their own wins)
        self.published: dict[str, str] = {}  # cell → its published writing, where a number was normalised

    # --- entry points ---------------------------------------------------------------------------

    def enter(self, table_key: str | None) -> None:
        """A new part begins; ``table_key`` is its table (None in a text part: rows there are
        placed only when their labels are the spec's, and nothing else is reported)."""
        self.table, self.block, self.strict = table_key, None, table_key is not None
        self.pending, self.after_data = Header(), False

    def feed(self, items: list[Any]) -> None:
        run: list[Para] = []
        for item in items:
            if isinstance(item, Para):
                run.append(item)
                continue
            if run:
                self.feed_stream(run)
                run = []
            if isinstance(item, Table):
                for row in (item.rows if item.grid else join_wrapped(item.rows, self.index)):
                    self.feed_row(list(row.cells), row.where, item.grid)
        if run:
            self.feed_stream(run)

    def feed_stream(self, paras: list[Para]) -> None:
        """One cell per line: a row ends where a label follows a value."""
        if not self.strict:
            return
        row: list[TCell] = []
        seen_value = False
        for p in paras:
            text = p.text
            labelish = not is_blank(text) and not is_value(text)
            if labelish and seen_value:
                self.feed_row(row, row[0].where, False)
                row, seen_value = [], False
            row.append(TCell(text, p.where))
            seen_value = seen_value or (not is_blank(text) and not labelish)
        if row:
            self.feed_row(row, row[0].where, False)

    # --- one row ------------------------------------------------------------------------------

    def _classify(self, cell: TCell) -> Tok:
        text = cell.text
        if is_blank(text):
            return Tok(cell, "empty")
        if is_value(text):
            return Tok(cell, "value")
        targets, level = self.index.lookup(text)
        if not targets:
            targets, _ = self.index.nearest(text)
            level = FUZZY if targets else -1
        return Tok(cell, "label" if targets else "unknown", targets, level)

    def _row_table(self, toks: list[Tok]) -> str | None:
        votes: dict[str, int] = defaultdict(int)
        for t in toks:
            for table in {x.table for x in t.targets}:
                votes[table] += 1
        if not votes:
            return self.table
        if self.strict and self.table is not None and self.table not in votes and not any(
                x.is_row or x.role == "block" for t in toks for x in t.targets):
            return self.table  # header words another table also prints (“其他”) do not leave this one
        best = max(votes.values())
        winners = [k for k, v in votes.items() if v == best]
        return self.table if self.table in winners else winners[0]

    def feed_row(self, cells: list[TCell], where: str, grid: bool) -> None:
        toks = [self._classify(c) for c in cells]
        if all(t.kind == "empty" for t in toks):
            return
        table = self._row_table(toks)
        labelled = [i for i, t in enumerate(toks) if t.kind in ("label", "unknown")]
        last = labelled[-1] if labelled else -1
        values = [t for t in toks[last + 1:] if not grid or t.cell.origin_row]
        has_values = any(t.kind == "value" for t in values)
        stray = [t for t in toks[: last + 1] if t.kind == "value" and t.cell.origin_row]
        row_toks: list[tuple[Tok, list[Target]]] = []
        header_toks: list[tuple[Tok, list[Target]]] = []
        unknown = [t for t in toks[: last + 1] if t.kind == "unknown"]
        for t in toks[: last + 1]:
            if t.kind != "label":
                continue
            ts = [x for x in t.targets if x.table == table] or t.targets
            blocks = [x for x in ts if x.role == "block"]
            rows = [x for x in ts if x.is_row]
            heads = [x for x in ts if x.is_header]
            if blocks:
                self._set_block(blocks[0], t)
            elif rows and (not heads or has_values):
                row_toks.append((t, rows))
            elif heads:
                header_toks.append((t, heads))
        if header_toks:
            if self.after_data:
                self.pending, self.after_data = Header(), False
            self.row_no += 1
            for t, ts in header_toks:
                self.pending.add(t, ts, self.row_no)
                if len({x.label for x in ts}) == 1:
                    self._note_label(t, ts[0])
        if table is not None:
            self.table = table
        for t in stray:
            self._problem("unplaced", t.cell.where, t.cell.text, "数字出现在行标签之前，无法对应到单元格，未录入")
        if row_toks:
            self._data_row(table, row_toks, values, grid, where)
        elif has_values:
            self._unlabelled_row(table, values, unknown, grid, where)
        elif unknown and self.strict and not header_toks:
            text = " ".join(" ".join(t.cell.text.split()) for t in unknown)
            self.notes.append(Note("ignored", where, text[:60], "表格中未识别的文字（没有数字），未录入"))

    def _set_block(self, target: Target, tok: Tok) -> None:
        """A Part 二 block title: its own header follows (a title repeated by a merged cell in
        the rows below changes nothing)."""
        if (self.table, self.block) != (target.table, target.block):
            self.table, self.block = target.table, target.block
            self.pending, self.after_data = Header(), False
        self._note_label(tok, target)

    def _unlabelled_row(self, table: str | None, values: list[Tok], unknown: list[Tok], grid: bool, where: str) -> None:
        t = self.ed.table(table) if table else None
        single = t is not None and len(t.blocks) == 1 and len(t.blocks[0].rows) == 1 and not t.blocks[0].rows[0].path
        if single and not unknown and t is not None:
            block = t.blocks[0]
            self._assign(t.key, block, block.rows[0].key, values, grid, where)
            return
        if not self.strict and not any(x.targets for x in unknown):
            return
        label = " ".join(" ".join(u.cell.text.split()) for u in unknown)
        count = sum(1 for v in values if v.kind == "value")
        why = f"行“{label[:40]}”不是标准表格中的行（或写法无法识别）" if label else "本行没有行标签"
        self._problem("unplaced", where, label[:60] or values[0].cell.text, f"{why}，{count} 个数字未录入")

    def _data_row(self, table: str | None, row_toks: list[tuple[Tok, list[Target]]], values: list[Tok],
                  grid: bool, where: str) -> None:
        leaf_tok, leaf_targets = row_toks[-1]
        context = row_toks[:-1]
        leaves = [x for x in leaf_targets if x.role == "row"]
        if not leaves:
            if any(v.kind == "value" for v in values):
                self._group_row(leaf_targets[0], leaf_tok, values, grid, where)
            self.groups[leaf_targets[0].table] = {leaf_targets[0].label}
            return
        cands = self._narrow(leaves, context)
        if len(cands) != 1:
            names = "、".join(f"{c.table}.{c.block}.{c.key}" for c in cands or leaves)
            self._problem("ambiguous", where, leaf_tok.cell.text.strip(), f"行标签有多种可能（{names}），未录入")
            return
        target = cands[0]
        block = self.ed.table(target.table).block(target.block)
        row = block.row(target.key)
        self.groups[target.table] = set(row.path[:-1])
        self.table, self.block = target.table, target.block
        self._note_label(leaf_tok, target)
        for t, ts in context:
            match = [x for x in ts if x.label in row.path or x.role == "block"]
            if match:
                self._note_label(t, match[0])
        if not values:
            self.reported.add((target.table, target.block, target.key))
            self._problem("count", where, leaf_tok.cell.text.strip(), "本行没有数字，未录入")
            return
        self._assign(target.table, block, row.key, values, grid, where)

    def _narrow(self, leaves: list[Target], context: list[tuple[Tok, list[Target]]]) -> list[Target]:
        def path(t: Target) -> tuple[str, ...]:
            return self.ed.table(t.table).block(t.block).row(t.key).path

        cands = list(leaves)
        for _, ts in context:
            labels = {x.label for x in ts if x.role in ("group", "row")}
            kept = [c for c in cands if labels & set(path(c)[:-1])]
            cands = kept or cands
        if len(cands) > 1 and self.block:
            cands = [c for c in cands if c.block == self.block] or cands
        if len(cands) > 1 and self.groups.get(cands[0].table):
            kept = [c for c in cands if self.groups[c.table] & set(path(c)[:-1])]
            cands = kept or cands
        return cands

    # --- columns and values ------------------------------------------------------------------

    def _header(self, table: str, block: Block) -> Header | None:
        key = (table, block.key)
        if self.pending.entries and self.pending.leaves(block, table):
            self.headers[key] = self.pending
            self.pending = Header()
        return self.headers.get(key)

    def _assign(self, table: str, block: Block, row_key: str, values: list[Tok], grid: bool, where: str) -> None:
        pairs = self._pairs(table, block, row_key, values, grid, where)
        if pairs is not None:
            header = self.headers.get((table, block.key))
            units = header.units(block, table) if header else {}
            self._store(table, block, row_key, pairs, units, where)

    def _pairs(self, table: str, block: Block, row_key: str | None, values: list[Tok], grid: bool,
               where: str, label: str = "") -> list[tuple[str, Tok]] | None:
        """Which column each value of a row belongs to (None when that cannot be told)."""
        self.after_data = True
        header = self._header(table, block)
        n = len(block.columns)
        pairs: list[tuple[str, Tok]] = []
        if grid and header is not None:
            for v in values:
                c0 = v.cell.col if v.cell.col is not None else -1
                key, entry = header.at(c0, v.cell.last_col if v.cell.last_col is not None else c0, block, table)
                if key is None:
                    if v.kind == "value":
                        head = f"（表头“{' '.join(entry.tok.cell.text.split())}”）" if entry else "（上方没有表头）"
                        self._problem("unplaced", v.cell.where, v.cell.text.strip(), f"无法确定此数字属于哪一列{head}，未录入")
                    continue
                pairs.append((key, v))
            return pairs
        vals = list(values)
        while len(vals) > n and vals[-1].kind == "empty":
            vals.pop()
        while len(vals) > n and vals[0].kind == "empty":
            vals.pop(0)
        if len(vals) != n:
            if row_key is not None:
                self.reported.add((table, block.key, row_key))
            shown = " ".join(" ".join(v.cell.text.split()) or "□" for v in vals)
            name = label or (block.row(row_key).label if row_key else "") or self.ed.table(table).title
            self._problem("count", where, f"{name}：{shown}",
                          f"本行有 {len(vals)} 个数，表格应有 {n} 列；无法确定对应关系，未录入")
            return None
        order = header.flat_order(block, table) if header else None
        if order is None:
            order = [c.key for c in block.columns]
            if header is None and (table, block.key) not in self._order_noted:
                self._order_noted.add((table, block.key))
                title = block.title or self.ed.table(table).title
                self.notes.append(Note("header", where, title, "未见表头，按标准表格的列序录入"))
        return list(zip(order, vals))

    def _store(self, table: str, block: Block, row_key: str, pairs: list[tuple[str, Tok]], units: dict[str, str],
               where: str) -> None:
        blanks: list[str] = []
        for col_key, tok in pairs:
            cid = cell_id(table, block.key, row_key, col_key)
            col = block.column(col_key)
            stored = cell_value(tok.cell.text, col.kind == "money", units.get(col_key))
            if cid in self.origin and cid not in self.implied:
                if self.raw[cid] != stored.raw:
                    self._problem("conflict", tok.cell.where, tok.cell.text.strip(),
                                  f"该单元格已在{self.origin[cid]}录入为“{self.raw[cid]}”，此处不同，未采用", cid)
                continue
            if cid in self.implied:  # a row printed on its own beats what its group's row implied
                self.implied.discard(cid)
                if self.raw[cid] != stored.raw:
                    self._problem("conflict", tok.cell.where, tok.cell.text.strip(),
                                  f"与{self.origin[cid]}合并一行发布的数字不一致（据合并行推定为 0），按本行录入", cid)
            self.raw[cid] = stored.raw
            self.origin[cid] = tok.cell.where
            if stored.published:
                self.published[cid] = stored.published
            if stored.status == Status.BLANK:
                blanks.append(col.label)
            elif stored.status != Status.OK or stored.how:
                self.notes.append(Note("value", tok.cell.where, tok.cell.text.strip(), stored.how, cid))
        if blanks:
            label = block.row(row_key).label or self.ed.table(table).title
            which = "整行" if len(blanks) == len(block.columns) else "、".join(blanks)
            self.notes.append(Note("blank", where, f"{label}：空白 {len(blanks)} 格",
                                   f"空白（{which}）按 0 计，校验时提示 {self.ed.rules_of('blank')[0].id}"))

    def _group_row(self, group: Target, tok: Tok, values: list[Tok], grid: bool, where: str) -> None:
        """A group printed as one row of numbers — 2021's （六）其他处理 in the 2019 layout.
        Counts are never negative, so a 0 under a column makes every item of the group 0 there;
        any other number cannot be split among the items, and those cells stay unknown."""
        block = self.ed.table(group.table).block(group.block)
        items = [r for r in block.rows if len(r.path) > group.depth + 1 and r.path[group.depth] == group.label]
        found = " ".join(tok.cell.text.split())
        pairs = self._pairs(group.table, block, None, values, grid, where, found)
        if pairs is None or not items:
            return
        self.table, self.block = group.table, group.block
        zero: list[str] = []
        split: list[str] = []
        for col_key, v in pairs:
            col = block.column(col_key)
            stored = cell_value(v.cell.text, col.kind == "money")
            number = parse_number(stored.raw, col.kind == "money")
            if stored.status in (Status.OK, Status.NORMALISED, Status.PLACEHOLDER) and number.value == 0:
                zero.append(col_key)
                for row in items:
                    cid = cell_id(group.table, block.key, row.key, col_key)
                    if cid not in self.origin:
                        self.raw[cid], self.origin[cid] = 0, v.cell.where
                        self.implied.add(cid)
            elif stored.status != Status.BLANK:
                split.append(f"{col.header} {' '.join(v.cell.text.split())}")
        for row in items:
            self.reported.add((group.table, block.key, row.key))
        names = "、".join(r.label for r in items)
        if zero:
            cols = "各列" if len(zero) == len(block.columns) else "、".join(block.column(k).header for k in zero)
            self.notes.append(Note("hybrid", where, found, f"按一行发布（旧版格式），{cols}为 0：其下 {len(items)} 项（{names}）均为 0，已录入"))
        if split:
            self._problem("hybrid", where, f"{found}：{'；'.join(split)}",
                          f"按一行发布（旧版格式），这些数字无法拆分到其下 {len(items)} 项（{names}），相应单元格未能录入（不按 0 计）")

    # --- log ------------------------------------------------------------------------------------

    def _note_label(self, tok: Tok, target: Target) -> None:
        found = tok.cell.text.strip()
        if found == target.label or found == self._header_text(target):
            return
        key = (" ".join(found.split()), target.label)
        if key in self._labels_noted:
            return
        self._labels_noted.add(key)
        self.notes.append(Note("label", tok.cell.where, key[0], f"按“{target.label}”识别（{describe(found, target.label, max(tok.level, 0))}）"))

    def _header_text(self, target: Target) -> str:
        if target.role != "column":
            return target.label
        return self.ed.table(target.table).block(target.block).column(target.key).header

    def _problem(self, kind: str, where: str, found: str, detail: str, cell: str = "") -> None:
        self.notes.append(Note(kind, where, found, detail, cell, True))

    def finish(self, images: dict[str, list[Image]], headings: dict[str, str]) -> None:
        """Report every table, block, row or cell that nothing was placed into."""
        for table in self.ed.tables:
            placed = [c for c in self.ed.cells if c.table == table.key and c.id in self.origin]
            if not placed:
                pics = images.get(table.key, [])
                if pics:
                    self._problem("image", pics[0].where, pics[0].what,
                                  f"“{table.title}”以图片形式发布（或注明略去），无法录入，表格留空")
                else:
                    where = headings.get(table.key, "全文")
                    why = "有标题，但标题下没有表格" if table.key in headings else "找不到这张表格（也没有它的标题）"
                    self._problem("missing", where, table.title, f"{why}，表格留空")
                continue
            for block in table.blocks:
                self._finish_block(table.key, block)

    def _finish_block(self, table: str, block: Block) -> None:
        ids = [cell_id(table, block.key, r.key, c.key) for r in block.rows for c in block.columns]
        if not any(i in self.origin for i in ids):
            self._problem("missing", "全文", block.title or table, f"找不到“{block.title}”这一部分，留空")
            return
        for row in block.rows:
            row_ids = [cell_id(table, block.key, row.key, c.key) for c in block.columns]
            missing = [c for c, i in zip(block.columns, row_ids) if i not in self.origin]
            if (table, block.key, row.key) in self.reported:
                continue
            if len(missing) == len(block.columns):
                self._problem("missing", "全文", " ".join(row.path) or self.ed.table(table).title, "找不到这一行，留空")
            elif missing:
                for c in missing:
                    self._problem("missing", "全文", f"{row.label} · {c.header}", "找不到这一单元格，留空",
                                  cell_id(table, block.key, row.key, c.key))


__all__ = ["Placer", "Header", "Tok"]
