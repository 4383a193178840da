"""Every printed label of an edition, folded into lookup keys, generated from the spec.

A published cell's text is looked up here to learn what it is: a row label (or a group above
rows, like “（三）不予公开”), a column header (or a header group, like “法人或其他组织”), a Part 二
block title, or a table's corner. No label list is written here — the index is built from
``workbook.spec`` — so a wording fixed in the spec is recognised in published reports at once.
The labels that only one edition prints tell the edition apart.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache, lru_cache
from typing import Iterable

from workbook.spec import EDITIONS, Edition, load_edition

from .normalise import LEVEL_WORDS, fold, label_variants, loose, simplify, split_numbering

FUZZY = len(LEVEL_WORDS) - 1  # the level of a near match (a published typo)
NEAR = 0.8  # least similarity of a near match …
MARGIN = 0.08  # … and how much nearer it must be than the next label


@dataclass(frozen=True)
class Target:
    """What a label can be. ``key`` is the row or column key (for a leaf) or the block key."""

    role: str  # row | group | column | colgroup | block | corner
    table: str
    block: str
    key: str
    label: str
    depth: int

    @property
    def is_header(self) -> bool:
        return self.role in ("column", "colgroup", "corner")

    @property
    def is_row(self) -> bool:
        return self.role in ("row", "group")


class LabelIndex:
    """Four dictionaries (strict → loose, see ``normalise.label_variants``) from key to targets."""

    def __init__(self, edition: Edition) -> None:
        self.edition = edition
        self.levels: list[dict[str, list[Target]]] = [defaultdict(list) for _ in LEVEL_WORDS]
        near: dict[tuple[int | None, str], list[Target]] = defaultdict(list)
        for target, texts in _targets(edition):
            for text in texts:
                for level, key in enumerate(label_variants(text)):
                    bucket = self.levels[level][key]
                    if target not in bucket:
                        bucket.append(target)
                n, rest = split_numbering(text)
                if target not in near[(n, loose(rest))]:
                    near[(n, loose(rest))].append(target)
        self.near = [(n, rest, targets) for (n, rest), targets in near.items()]

    def lookup(self, text: str) -> tuple[list[Target], int]:
        """(targets, level) for the strictest level that knows ``text``; ([], -1) when none does."""
        if not text.strip():
            return [], -1
        for level, key in enumerate(label_variants(text)):
            found = self.levels[level].get(key)
            if found:
                return list(found), level
        return [], -1

    def nearest(self, text: str) -> tuple[list[Target], float]:
        """The spec label nearest a label no exact level knows — a published typo such as
        “2.其他法律行政止公开” — and how near (0–1). Only a clear winner counts: at least
        ``NEAR`` alike, ``MARGIN`` nearer than any other label, with the same item number when
        both are numbered; ([], 0) otherwise."""
        return _nearest(self.edition.key, text)


@lru_cache(maxsize=4096)
def _nearest(edition_key: str, text: str) -> tuple[list[Target], float]:
    n, rest = split_numbering(text)
    probe = loose(rest)
    if not 4 <= len(probe) <= 60:
        return [], 0.0
    scored: list[tuple[float, str, list[Target]]] = []
    for num, cand, targets in index_for(edition_key).near:
        if n is not None and num is not None and n != num:
            continue
        if abs(len(cand) - len(probe)) > 0.3 * max(len(cand), len(probe)):
            continue
        matcher = SequenceMatcher(None, probe, cand, autojunk=False)
        if matcher.real_quick_ratio() < NEAR or matcher.quick_ratio() < NEAR:
            continue
        scored.append((matcher.ratio(), cand, targets))
    scored.sort(key=lambda x: -x[0])
    if not scored or scored[0][0] < NEAR:
        return [], 0.0
    rivals = [r for r, cand, _ in scored[1:] if cand != scored[0][1]]
    if rivals and scored[0][0] - rivals[0] < MARGIN:
        return [], 0.0
    return list(scored[0][2]), scored[0][0]


def _targets(ed: Edition) -> Iterable[tuple[Target, tuple[str, ...]]]:
    for table in ed.tables:
        if table.corner:
            yield Target("corner", table.key, "", "", table.corner, 0), (table.corner,)
        for block in table.blocks:
            if block.title:
                yield Target("block", table.key, block.key, block.key, block.title, 0), (block.title,)
            for row in block.rows:
                for depth, label in enumerate(row.path):
                    leaf = depth == len(row.path) - 1
                    yield (Target("row" if leaf else "group", table.key, block.key, row.key if leaf else "", label, depth),
                           (label,))
            for col in block.columns:
                for depth, label in enumerate(col.path):
                    leaf = depth == len(col.path) - 1
                    texts = (label, col.header) if leaf and col.header != label else (label,)
                    yield (Target("column" if leaf else "colgroup", table.key, block.key, col.key if leaf else "", label, depth),
                           texts)


@cache
def index_for(edition_key: str) -> LabelIndex:
    return LabelIndex(load_edition(edition_key))


def label_roles(text: str) -> set[str]:
    """What ``text`` is as a label in any edition: row, group, column, colgroup, block, corner."""
    return {t.role for key in EDITIONS for t in index_for(key).lookup(text)[0]}


def known_label(text: str) -> bool:
    """Whether any edition prints ``text`` as a label (exactly, up to the folding levels)."""
    return any(index_for(key).lookup(text)[0] for key in EDITIONS)


@cache
def distinctive(edition_key: str) -> frozenset[str]:
    """Strict keys of the labels only this edition prints (e.g. 2021 “本年制发件数”, 2019 “政府集中采购”)."""
    mine = _strict_keys(edition_key)
    others = set().union(*(_strict_keys(k) for k in EDITIONS if k != edition_key))
    return frozenset(mine - others)


def _strict_keys(edition_key: str) -> set[str]:
    index = index_for(edition_key)
    return set(index.levels[0]) | set(index.levels[1])


def edition_votes(texts: Iterable[str]) -> dict[str, list[str]]:
    """For each edition, the published labels that only it prints (in order of appearance)."""
    votes: dict[str, list[str]] = {k: [] for k in EDITIONS}
    for text in texts:
        if not text.strip() or len(text) > 80:
            continue
        strict = label_variants(text)[:2]
        for key in EDITIONS:
            if any(s in distinctive(key) for s in strict):
                votes[key].append(" ".join(text.split()))
    return votes


def describe(found: str, spec_label: str, level: int) -> str:
    """What had to be normalised for ``found`` to be read as ``spec_label`` (Chinese, for the log)."""
    reasons: list[str] = []
    squeezed = "".join(found.split())
    if squeezed != found.strip() or "\n" in found:
        reasons.append("空格或换行")
    if simplify(found) != found:
        reasons.append("繁体字")
    if any(ch in found for ch in "()（）"):
        if ("(" in found or ")" in found) != ("(" in spec_label or ")" in spec_label):
            reasons.append("半角/全角括号")
    if ("、" in found) != ("、" in spec_label) or ("，" in found) != ("，" in spec_label):
        reasons.append("“、”与“，”")
    if any(q in found for q in "\"'「」『』") or (("“" in spec_label) and "“" not in found):
        reasons.append("引号")
    n_found, _ = split_numbering(found)
    if level < 2 and n_found is not None and fold(found)[:3] != fold(spec_label)[:3]:
        reasons.append("序号写法")
    if LEVEL_WORDS[level]:
        reasons.append(LEVEL_WORDS[level])
    if not reasons and fold(found) != fold(spec_label):
        reasons.append("全角/半角字符")
    return "、".join(dict.fromkeys(reasons)) or "写法略有不同"


__all__ = ["FUZZY", "LabelIndex", "Target", "describe", "distinctive", "edition_votes", "index_for", "known_label",
           "label_roles"]
