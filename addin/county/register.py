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
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Iterable, Sequence, TypeVar

from python_calamine import CalamineWorkbook

from workbook.codes import credit_code_problem
from workbook.spec import CURRENT_EDITION, load_edition
from workbook.values import clean_text

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
# already contains. Works on ``addin.county.model.Source`` records.
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










# --------------------------------------------------------------------------------------------
# Which year, which files: decisions that need every file (raise ConsolidationError to refuse)
# --------------------------------------------------------------------------------------------



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










# --------------------------------------------------------------------------------------------
# Last year: each unit's numbers, from last year's summary (its 明细) or last year's inbox
# --------------------------------------------------------------------------------------------





__all__ = ["ConsolidationError", "Register", "RegisterEntry", "RegisterError", "UnitIndex", "county_government_type",
           "load_register", "norm_code", "norm_name", "parse_date", "parse_rows"]
