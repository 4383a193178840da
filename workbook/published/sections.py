"""The outline of a published report: its title (unit and year) and its six parts.

The six part headings come from the spec (the text parts' labels and the tables' titles) and are
recognised in the ways reports really write them — “一、总体情况”, “1、 总体情况” (the seed),
“（一）总体情况”, or a near wording under the right number. A heading is only accepted after the
previous one, so a sub-heading such as “（二）依申请公开” inside part 一 never starts part 二.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from workbook.spec import CURRENT_EDITION, Edition, load_edition

from .model import Document, Image, Para, Table, TRow
from .normalise import chinese_number, core, fold, loose, simplify, split_numbering

_TITLE = re.compile(r"(?P<a>[^。，,；;：:]*?)(?P<y>(?:19|20)\d{2})年度?(?P<b>[^。，,；;：:]*?)政府信息公开(?:工作)?(?:年度)?(?:工作)?报告")
_PERIOD = re.compile(r"(?:统计|数据|期限|时间|日期)[^。；]{0,24}?((?:19|20)\d{2})年0?1月0?1日")
_DATE_LINE = re.compile(r"^(?:19|20)\d{2}年\d{1,2}月\d{1,2}日$")
_FOOTER = re.compile(r"^(?:【?打印(?:本页)?】?|【?关闭(?:窗口|本页)?】?|分享到|主办单位|主办[:：]|承办单位|版权所有|网站标识码|"
                     r"相关链接|相关文件|上一篇|下一篇|扫一扫|附件[:：]?$|【字体|字号[:：])")
_NAME_NOISE = re.compile(r"^(?:关于|《)|》$")
_BREADCRUMB = re.compile(r"[>＞|｜_]")
HEADING_MAX = 60


@dataclass(frozen=True)
class Section:
    key: str  # a text part key (overview/problems/other) or a table key (part2/3/4)
    kind: str  # text | table
    number: int
    label: str

    @property
    def rest(self) -> str:
        return split_numbering(self.label)[1]


def sections_of(ed: Edition) -> list[Section]:
    """The six parts in order, numbered by the numeral that opens each label in the spec."""
    out = [Section(t.key, "text", split_numbering(t.label)[0] or 0, t.label) for t in ed.texts]
    out += [Section(t.key, "table", split_numbering(t.title)[0] or 0, t.title) for t in ed.tables]
    return sorted(out, key=lambda s: s.number)


def heading_matches(text: str, sections: list[Section]) -> list[tuple[int, int]]:
    """(part index, score) for every part ``text`` could open. Score 2: numbered as a part is
    (“二、”, “2、”) or unnumbered; 1: numbered like a sub-heading (“（二）”), which a part
    heading only is when nothing better follows."""
    bare = text.strip()
    if not bare or len(bare) > HEADING_MAX:
        return []
    n, rest = split_numbering(text)
    score = 1 if fold(bare).startswith("(") else 2
    out = []
    for i, s in enumerate(sections):
        if n is not None and n != s.number:
            continue
        if rest in (s.rest, core(s.rest)) or loose(rest) == loose(s.rest) or core(rest) == s.rest:
            out.append((i, score))
        elif n is not None and SequenceMatcher(None, loose(rest), loose(s.rest)).ratio() >= 0.7:
            out.append((i, score))
    return out


def match_heading(text: str, sections: list[Section], start: int = 0) -> int | None:
    """Index of the first part after ``start`` that ``text`` could open; else None."""
    return next((i for i, _ in heading_matches(text, sections) if i >= start), None)


@dataclass
class Outline:
    """A document cut into its parts; ``before`` holds what precedes part 一 (title, preface)."""

    sections: list[Section]
    before: list[Any] = field(default_factory=list)
    parts: dict[str, list[Any]] = field(default_factory=dict)
    headings: dict[str, str] = field(default_factory=dict)


def _row_text(row: TRow) -> str | None:
    texts = {c.text.strip() for c in row.cells if c.text.strip()}
    return texts.pop() if len(texts) == 1 else None


def _choose(marks: list[tuple[int, int, int]], count: int) -> dict[int, int]:
    """Position → part: for each part in order, its best-scored candidate after the previous part
    (the earliest among equals), so a sub-heading “（二）主动公开…” in part 一 loses to “二、…”."""
    chosen: dict[int, int] = {}
    last = -1
    for part in range(count):
        cands = [(score, -pos) for pos, i, score in marks if i == part and pos > last]
        if cands:
            _, neg = max(cands)
            chosen[-neg] = part
            last = -neg
    return chosen


def outline(doc: Document, ed: Edition | None = None) -> Outline:
    """Cut ``doc`` at the part headings (paragraphs, or a table row holding only a heading)."""
    sections = sections_of(ed or load_edition(CURRENT_EDITION))
    out = Outline(sections, parts={s.key: [] for s in sections})
    units: list[tuple[Any, TRow | None]] = []
    for item in doc.items:
        if isinstance(item, Table):
            units += [(item, row) for row in item.rows]
        else:
            units.append((item, None))
    marks: list[tuple[int, int, int]] = []
    for pos, (item, row) in enumerate(units):
        text = item.text if isinstance(item, Para) else (_row_text(row) if row is not None else None)
        if text:
            marks += [(pos, i, score) for i, score in heading_matches(text, sections)]
    chosen = _choose(marks, len(sections))
    current = -1
    rows: list[TRow] = []
    table: Table | None = None

    def put(thing: Any) -> None:
        (out.before if current < 0 else out.parts[sections[current].key]).append(thing)

    def close() -> None:
        nonlocal rows, table
        if table is not None and rows:
            put(table if len(rows) == len(table.rows) else Table(rows, table.grid, rows[0].where))
        rows, table = [], None

    for pos, (item, row) in enumerate(units):
        if row is None or item is not table:
            close()
        if pos in chosen:
            close()
            current = chosen[pos]
            out.headings[sections[current].key] = row.where if row is not None else item.where
            continue
        if row is None:
            put(item)
        elif (current < 0 or sections[current].kind == "text") and (text := _row_text(row)) is not None:
            close()  # a one-cell row outside the tables is a paragraph (a page laid out as one table)
            put(Para(text, row.where))
        else:
            if item is not table:
                close()
            table = item
            rows.append(row)
    close()
    return out


@dataclass(frozen=True)
class Title:
    unit: str
    year: int | None
    text: str
    where: str
    period_year: int | None
    period_where: str


_CN_YEAR = re.compile(r"[〇○零一二三四五六七八九]{4}(?=年)")
_CN_DIGIT = str.maketrans("〇○零一二三四五六七八九", "000123456789")


def _title_match(text: str) -> re.Match[str] | None:
    squeezed = simplify("".join(text.split()))
    squeezed = squeezed.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    squeezed = _CN_YEAR.sub(lambda m: m.group(0).translate(_CN_DIGIT), squeezed)  # 二〇二〇年
    return _TITLE.search(squeezed)


def _unit_from(m: re.Match[str]) -> str:
    unit = m["a"] or m["b"]
    unit = _BREADCRUMB.split(unit)[-1].split("《")[-1]
    return _NAME_NOISE.sub("", unit).strip("“”\"《》【】[]()（） ")


def find_title(doc: Document, before: list[Any], overview: list[Any]) -> Title:
    """Unit and year from the title (page title, heading, or the first lines, which may be split
    over two lines as in the seed); the statistical period's year separately, to check them."""
    paras = [p for p in before if isinstance(p, Para) and p.text.strip()]
    candidates: list[tuple[str, str]] = [(t, "标题") for t in doc.titles if t]
    for i, p in enumerate(paras[:30]):
        candidates.append((p.text, p.where))
        # a title split over two lines — unless the next line is a whole title on its own (the
        # line before it is then something else: a sheet's name, a column heading)
        if i + 1 < len(paras) and not ((m := _title_match(paras[i + 1].text)) and _unit_from(m)):
            candidates.append((p.text + paras[i + 1].text, p.where))
    candidates.append((doc.path.stem, "文件名"))
    unit, year, text, where = "", None, "", ""
    for cand, w in candidates:
        m = _title_match(cand)
        if m and _unit_from(m):
            unit, year, text, where = _unit_from(m), int(m["y"]), " ".join(cand.split()), w
            break
        if m and year is None:
            year, text, where = int(m["y"]), " ".join(cand.split()), w
    period, pwhere = None, ""
    for p in [*paras, *[q for q in overview if isinstance(q, Para)]][:40]:
        m = _PERIOD.search(fold(p.text).replace(",", ""))
        if m:
            period, pwhere = int(m.group(1)), p.where
            break
    return Title(unit, year, text, where, period, pwhere)


def part_text(items: list[Any], unit: str) -> tuple[str, list[Para]]:
    """A text part as published (lines kept, blank lines inside kept), without a page footer or
    the sign-off (unit name, date) that ends the last part; returns the text and what was cut."""
    paras = [p for p in items if isinstance(p, Para)]
    for i, p in enumerate(paras):
        if _FOOTER.match(p.text.strip()):
            paras = paras[:i]
            break
    cut: list[Para] = []
    while paras and (not paras[-1].text.strip() or _is_signoff(paras[-1].text, unit)):
        if paras[-1].text.strip():
            cut.insert(0, paras[-1])
        paras.pop()
        if len(cut) >= 2:
            break
    while paras and not paras[0].text.strip():
        paras.pop(0)
    return "\n".join(p.text if p.text.strip() else "" for p in paras), cut


def _is_signoff(text: str, unit: str) -> bool:
    t = "".join(text.split())
    return bool(_DATE_LINE.match(t)) or (bool(unit) and t == unit)


def images_in(items: list[Any]) -> list[Image]:
    return [i for i in items if isinstance(i, Image)]


__all__ = ["Outline", "Section", "Title", "chinese_number", "find_title", "images_in", "match_heading",
           "outline", "part_text", "sections_of", "Path"]
