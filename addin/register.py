"""Who is who: the county's unit register (单位名单), which file stands for which unit, which
files belong to the year being summed, and each unit's numbers of last year.

The register is kept as an Excel sheet or exported as CSV — from Excel on a Chinese Windows PC a
CSV is usually GBK, from WPS or a web system UTF-8 with or without a BOM — so both encodings are
tried. It decides who is *missing*, which files come from units *not on the list*, and each unit's
type (the register wins over what a clerk typed on the cover: the chart and ``--scope self`` must
not depend on a typo). A register that cannot be trusted (unreadable, no 单位名称 column, two rows
with one code) raises ``RegisterError``: the consolidation must not run against it.

Units are the same when their credit codes agree, or — when one side has no code — their names;
two different codes are two units even under one name (every county has a “教育局”). Decisions
that refuse the whole run raise ``ConsolidationError`` (exit 2).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, Iterable, Sequence, TypeVar

from python_calamine import CalamineWorkbook

from checks.files import expand
from workbook.codes import credit_code_problem
from workbook.layout import layout_for
from workbook.read import ReadError, read_report
from workbook.report import Report
from workbook.spec import CURRENT_EDITION, load_edition
from workbook.values import clean_text

if TYPE_CHECKING:
    from workbook.spec import Edition

    from .consolidate import ConsolidationResult, Source

T = TypeVar("T")

#: Column titles as the issue names them, with the variants offices actually use.
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("单位名称", "名称", "单位"),
    "code": ("统一社会信用代码", "信用代码", "社会信用代码", "代码"),
    "unit_type": ("单位类型", "类型"),
    "parent": ("上级单位", "上级", "主管单位"),
}
HEADER_SEARCH_ROWS = 10


class ConsolidationError(Exception):
    """The consolidation cannot run at all (exit 2); the message says why, in Chinese."""


class RegisterError(Exception):
    """The register cannot be used; the message says why, in Chinese."""


@dataclass(frozen=True)
class RegisterEntry:
    """One expected unit; ``line`` is the row number a person sees in the register file."""

    name: str
    code: str
    unit_type: str
    parent: str
    line: int


def county_government_type(edition_key: str = CURRENT_EDITION) -> str:
    """The unit type of the county government itself (本级): the first choice the spec's cover
    field 单位类型 offers. ``--scope self`` keeps the units of this type, and an audit takes a
    report of this type as the parent of the others."""
    field = next(f for f in load_edition(edition_key).cover if f.key == "unit_type")
    return field.choices[0]


def norm_name(name: str) -> str:
    """A unit name as compared: full-width folded, all spaces removed (people type both)."""
    return "".join(unicodedata.normalize("NFKC", name or "").split())


def norm_code(code: str) -> str:
    return "".join(unicodedata.normalize("NFKC", code or "").split()).upper()


@dataclass
class Register:
    """The entries of a register and the two ways to find one: by credit code, else by name."""

    path: Path
    entries: list[RegisterEntry]
    warnings: list[str]

    def __post_init__(self) -> None:
        self.by_code = {norm_code(e.code): e for e in self.entries if e.code}
        self.by_name = {norm_name(e.name): e for e in self.entries}

    def find(self, name: str, code: str) -> tuple[RegisterEntry | None, str]:
        """The entry for a unit, and a note when the match is not clean (name matched, code differs)."""
        if code and norm_code(code) in self.by_code:
            entry = self.by_code[norm_code(code)]
            note = "" if norm_name(entry.name) == norm_name(name) else f"封面单位名称“{name}”与名单中的“{entry.name}”不同（按信用代码对应）"
            return entry, note
        entry = self.by_name.get(norm_name(name))
        if entry is None:
            return None, ""
        if code and entry.code and norm_code(entry.code) != norm_code(code):
            return entry, f"封面信用代码 {code} 与名单中的 {entry.code} 不同（按单位名称对应）"
        return entry, ""

    def entry_for(self, name: str) -> RegisterEntry | None:
        return self.by_name.get(norm_name(name))


def _decode(data: bytes, path: Path) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise RegisterError(f"单位名单 {path.name} 的编码无法识别（请另存为 UTF-8 或 Excel 工作簿）")


def _csv_rows(path: Path, data: bytes) -> list[list[str]]:
    text = _decode(data, path)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;，")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _excel_rows(path: Path, data: bytes) -> list[list[str]]:
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception:  # calamine raises several kinds for damaged or foreign files
        raise RegisterError(f"单位名单 {path.name} 无法读取：文件已损坏、加密或不是 Excel 工作簿（可另存为 .xlsx 或 .csv 后重试）") from None
    for name in wb.sheet_names:
        rows = [[clean_text(v) for v in row] for row in wb.get_sheet_by_name(name).to_python(skip_empty_area=False)]
        if _header_index(rows) is not None:
            return rows
    return []


def _header_index(rows: Sequence[Sequence[str]]) -> int | None:
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if any(norm_name(c) in COLUMNS["name"] for c in row):
            return i
    return None


def _columns(header: Sequence[str]) -> dict[str, int]:
    cols: dict[str, int] = {}
    titles = [norm_name(c) for c in header]
    for key, names in COLUMNS.items():
        for wanted in names:  # the exact title first, then the variants
            if wanted in titles:
                cols[key] = titles.index(wanted)
                break
    return cols


def parse_rows(path: Path, rows: Iterable[Sequence[str]]) -> Register:
    """Entries from rows of cells (header row found among the first ten); checks uniqueness."""
    rows = [list(r) for r in rows]
    head = _header_index(rows)
    if head is None:
        raise RegisterError(f"单位名单 {path.name} 中找不到“单位名称”列（前 {HEADER_SEARCH_ROWS} 行中应有标题行：单位名称、统一社会信用代码、单位类型、上级单位）")
    cols = _columns(rows[head])
    get = lambda row, key: clean_text(row[cols[key]]) if key in cols and cols[key] < len(row) else ""  # noqa: E731
    entries: list[RegisterEntry] = []
    warnings: list[str] = []
    seen_codes: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for i, row in enumerate(rows[head + 1:], start=head + 2):
        name = get(row, "name")
        if not name:
            continue
        code = norm_code(get(row, "code"))
        if code and code in seen_codes:
            raise RegisterError(f"单位名单 {path.name} 第 {seen_codes[code]} 行和第 {i} 行的统一社会信用代码相同（{code}），无法区分单位")
        if norm_name(name) in seen_names:
            raise RegisterError(f"单位名单 {path.name} 第 {seen_names[norm_name(name)]} 行和第 {i} 行的单位名称相同（{name}）")
        if code and (why := credit_code_problem(code)):
            warnings.append(f"名单第 {i} 行“{name}”的统一社会信用代码 {code} 有误：{why}")
        seen_codes[code] = i
        seen_names[norm_name(name)] = i
        entries.append(RegisterEntry(name.strip(), code, get(row, "unit_type"), get(row, "parent"), i))
    if not entries:
        raise RegisterError(f"单位名单 {path.name} 中没有任何单位")
    if "code" not in cols:
        warnings.append("单位名单没有“统一社会信用代码”列，只能按单位名称对应")
    return Register(path, entries, warnings)


def load_register(path: Path | str) -> Register:
    """Read a register from .csv/.txt or an Excel workbook (.xlsx/.xlsm/.xls via calamine)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RegisterError(f"单位名单 {path} 无法打开（{exc.strerror}）") from None
    if not data:
        raise RegisterError(f"单位名单 {path.name} 是空文件")
    if path.suffix.lower() in {".csv", ".txt"}:
        rows = _csv_rows(path, data)
    elif path.suffix.lower() in {".xlsx", ".xlsm", ".xls", ".et"}:
        rows = _excel_rows(path, data)
    else:
        raise RegisterError(f"单位名单 {path.name} 应为 .xlsx 或 .csv 文件")
    return parse_rows(path, rows)


# --------------------------------------------------------------------------------------------
# Unit identity: which files are the same unit, which file stands for it, and what a summary
# already contains. Works on ``addin.consolidate.Source`` records.
# --------------------------------------------------------------------------------------------

class UnitIndex(Generic[T]):
    """Find a unit among known ones: by credit code, or by name when one side has no code.

    Two records with different codes are different units even when their names agree (every
    county has a “教育局”); a record without a code is matched by name, so that a clerk who left
    the code blank cannot get a unit counted twice."""

    def __init__(self) -> None:
        self.by_code: dict[str, T] = {}
        self.by_name: dict[str, list[tuple[str, T]]] = {}

    def add(self, name: str, code: str, value: T) -> None:
        code = norm_code(code)
        if code:
            self.by_code.setdefault(code, value)
        if name:
            self.by_name.setdefault(norm_name(name), []).append((code, value))

    def find(self, name: str, code: str) -> T | None:
        code = norm_code(code)
        if code and code in self.by_code:
            return self.by_code[code]
        for other, value in self.by_name.get(norm_name(name), []):
            if not code or not other:
                return value
        return None


def check_hierarchy(candidates: Sequence[Source]) -> list[str]:
    """Why these files cannot be summed together: a summary and one of its units, or two summaries
    sharing a unit (each problem names both files). The caller refuses the consolidation."""
    owner: UnitIndex[Source] = UnitIndex()
    problems: list[str] = []
    for s in sorted((s for s in candidates if s.origin == "summary"), key=lambda s: -len(s.members)):
        shared: dict[int, list[str]] = {}
        others: dict[int, Source] = {}
        for m in s.members:
            other = owner.find(m.name, m.code)
            if other is not None:
                shared.setdefault(id(other), []).append(m.name)
                others[id(other)] = other
        for key, names in shared.items():
            problems.append(f"汇总 {s.label()} 与汇总 {others[key].label()} 都包含 {'、'.join(names[:3])}"
                            + (f" 等 {len(names)} 个单位" if len(names) > 3 else ""))
        for m in s.members:
            owner.add(m.name, m.code, s)
    for s in candidates:
        holder = owner.find(s.name, s.code) if s.origin != "summary" else None
        if holder is not None:
            problems.append(f"汇总 {holder.label()} 已包含单位“{s.name}”，又单独给出了该单位的文件 {s.path.name}")
    return problems


def _why_newer(a: Source, b: Source) -> str:
    da, db = a.date, b.date
    if da and db and da != db:
        return f"填报日期 {da.isoformat()} 晚于 {db.isoformat()}"
    if a.sha256 == b.sha256:
        return "两份文件内容完全相同"
    when = lambda s: dt.datetime.fromtimestamp(s.mtime).strftime("%Y-%m-%d %H:%M:%S")  # noqa: E731
    basis = "填报日期相同" if da and db else "填报日期未填或无法识别"
    if a.mtime != b.mtime:
        return f"{basis}，文件修改时间 {when(a)} 晚于 {when(b)}"
    return f"{basis}，修改时间也相同，取排序在前的文件"


def dedupe(candidates: Sequence[Source]) -> list[Source]:
    """One file per unit: the newest 填报日期, then the newest file modification time."""
    groups: dict[tuple[str, str], list[Source]] = defaultdict(list)
    for s in candidates:
        if s.entry is not None:
            key = ("entry", str(s.entry.line))
        elif s.code:
            key = ("code", s.code)
        else:
            key = ("name", norm_name(s.name))
        groups[key].append(s)
    named = defaultdict(list)
    for key, group in groups.items():
        if key[0] != "name":
            named[norm_name(group[0].name)].append(key)
    for key in [k for k in groups if k[0] == "name"]:
        if len(named.get(key[1], [])) == 1:
            groups[named[key[1]][0]] += groups.pop(key)
    chosen: list[Source] = []
    for group in groups.values():
        best = max(group, key=lambda s: (s.date is not None, s.date or dt.date.min, s.mtime, -s.order))
        chosen.append(best)
        if len(group) > 1:
            others = [s for s in group if s is not best]
            best.reason = f"共收到 {len(group)} 份，采用本文件（" + "；".join(
                f"较 {o.path.name}：{_why_newer(best, o)}" for o in others) + "）"
            for o in others:
                o.status, o.reason = "duplicate", f"同一单位报送了多份，采用 {best.path.name}（{_why_newer(best, o)}）"
    return sorted(chosen, key=lambda s: s.order)


def match_register(candidates: Sequence[Source], register: Register | None) -> None:
    if register is None:
        return
    for s in candidates:
        s.entry, note = register.find(s.name, s.code)
        if note:
            s.reason = note


# --------------------------------------------------------------------------------------------
# Which year, which files: decisions that need every file (raise ConsolidationError to refuse)
# --------------------------------------------------------------------------------------------

STATUS = {
    "summed": "已汇总", "out_of_scope": "范围外（本级汇总不含）", "duplicate": "重复报送（未采用）",
    "unreadable": "无法读取", "wrong_year": "报告年度不符（未汇总）", "wrong_edition": "表格版本不符（未汇总）",
    "strict": "有错误（--strict，未汇总）", "unlisted": "不在单位名单中（未汇总）",
    "missing": "未报送", "covered": "已含在下级汇总中",
}
USED = frozenset({"summed", "out_of_scope"})


def parse_date(text: str) -> dt.date | None:
    """A cover's 填报日期 as typed (2027-01-15, 2027/1/15, 2027年1月15日) or an Excel serial day."""
    text = (text or "").strip()
    m = re.fullmatch(r"(\d{4})\D{1,2}(\d{1,2})\D{1,2}(\d{1,2})\D?", text)
    try:
        if m:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        if re.fullmatch(r"\d{5}(\.\d+)?", text):
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(float(text)))
    except ValueError:
        return None
    return None


def _set(src: Source, status: str, reason: str = "") -> None:
    src.status, src.reason = status, reason


def target_year(sources: Sequence[Source], year: int | None) -> int:
    if year is not None:
        return year
    years = Counter(s.year for s in sources if not s.error and s.year)
    if not years:
        raise ConsolidationError("没有读到任何填写了报告年度的年报，无法确定汇总年度（请用 --year 指定）")
    (best, n), *rest = years.most_common()
    if rest and rest[0][1] == n:
        listing = "、".join(f"{y} 年度 {c} 份" for y, c in sorted(years.items()))
        raise ConsolidationError(f"收到的年报分属多个年度（{listing}），无法确定汇总哪一年：请用 --year 指定")
    return best


def check_year(sources: Sequence[Source], year: int, ed: Edition) -> None:
    for s in sources:
        if s.error:
            _set(s, "unreadable", s.error)
        elif s.year is None:
            _set(s, "wrong_year", f"封面未填写或填错报告年度（“{s.cover.get('year', '')}”），无法确认是 {year} 年度的报告")
        elif s.year != year:
            _set(s, "wrong_year", f"是 {s.year} 年度的报告，本次汇总 {year} 年度")
        elif s.edition != ed.key:
            _set(s, "wrong_edition", f"使用的是{load_edition(s.edition).name}，{year} 年度应使用{ed.name}；"
                                     "不同版本的表格不能直接相加，请该单位改用正确的模板重新填报")


def register_status(result: ConsolidationResult, self_entry: RegisterEntry | None) -> None:
    """Which register entries sent nothing usable (missing) or are inside a lower-level summary."""
    assert result.register is not None
    submitted = {id(s.entry) for s in result.sources if s.entry is not None and s.status in USED | {"strict", "duplicate"}}
    inside: UnitIndex[Source] = UnitIndex()
    for s in result.included:
        if s.origin == "summary":
            for m in s.members:
                inside.add(m.name, m.code, s)
    for e in result.register.entries:
        if id(e) in submitted or e is self_entry:
            continue
        holder = inside.find(e.name, e.code)
        if holder is not None:
            result.covered.append((e, holder))
            continue
        other = [s for s in result.sources if s.entry is e]
        unreadable = sum(1 for s in result.sources if s.status == "unreadable")
        why = "；".join(f"{s.path.name}：{s.reason}" for s in other) if other else "没有收到该单位的文件" + (
            f"（另有 {unreadable} 个文件无法读取，其中可能有该单位的）" if unreadable else "")
        result.missing.append((e, why))


# --------------------------------------------------------------------------------------------
# Last year: each unit's numbers, from last year's summary (its 明细) or last year's inbox
# --------------------------------------------------------------------------------------------

def load_previous(path: Path) -> tuple[Report | None, UnitIndex[Report]]:
    """Last year's summary (for the summary's own cross-year checks) and, from its 明细 sheet or
    from a folder of last year's unit files, each unit's last-year numbers by code and name."""
    index: UnitIndex[Report] = UnitIndex()
    summary: Report | None = None
    if path.is_dir():
        reports = []
        for p in expand([path]):
            try:
                reports.append(read_report(p))
            except ReadError:
                continue
    else:
        try:
            summary = read_report(path)
        except ReadError as exc:
            raise ConsolidationError(f"上年汇总表无法读取：{exc}") from None
        if summary.source != "summary":
            raise ConsolidationError(f"--previous 给出的 {path.name} 不是汇总表（应为上年用本工具生成的汇总表，或上年收文文件夹）")
        reports = read_detail(path)
    for rep in reports:
        index.add(rep.unit, rep.cover.get("credit_code", ""), rep)
    return summary, index


def read_detail(path: Path) -> list[Report]:
    """The units of a summary as last-year reports, from its 明细 sheet (for cross-year checks)."""
    from .summary import DETAIL_FIXED, DETAIL_HEAD_ROWS, DETAIL_SHEET

    summary = read_report(path)
    ed = load_edition(summary.edition_key)
    by_address = {layout_for(ed.key).address(c.id): c.id for c in ed.cells}
    wb = CalamineWorkbook.from_path(str(path))
    if DETAIL_SHEET not in wb.sheet_names:
        return []
    grid = wb.get_sheet_by_name(DETAIL_SHEET).to_python(skip_empty_area=False)
    if len(grid) <= DETAIL_HEAD_ROWS or clean_text(grid[0][1]) != DETAIL_FIXED[1]:
        return []
    fixed = len(DETAIL_FIXED)
    cids = [by_address.get(clean_text(v)) for v in grid[DETAIL_HEAD_ROWS - 1][fixed:]]
    out = []
    for row in grid[DETAIL_HEAD_ROWS:]:
        if clean_text(row[0]) == "合计" or not clean_text(row[1]):
            continue
        raw = {cid: (None if v == "" else v) for cid, v in zip(cids, row[fixed:]) if cid}
        cover = {"unit_name": clean_text(row[1]), "credit_code": clean_text(row[2]), "unit_type": clean_text(row[3]),
                 "year": summary.cover.get("year", "")}
        out.append(Report(ed.key, cover=cover, raw=raw, source="summary-detail"))
    return out


__all__ = ["STATUS", "USED", "ConsolidationError", "Register", "RegisterEntry", "RegisterError", "check_year",
           "county_government_type", "parse_date",
           "load_previous", "read_detail", "register_status", "target_year", "check_hierarchy", "dedupe", "load_register", "match_register",
           "norm_code", "norm_name", "parse_rows", "UnitIndex"]
