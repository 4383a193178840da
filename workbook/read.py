"""Read any filled report workbook into a ``Report``, fast and forgivingly.

python-calamine reads the values (about 20× faster than openpyxl, see the project's measurements)
and never runs macros. Cells are found by the spec's layout; sheets by name, or — when someone
renamed one — by the table title in its first row. Whatever is not a readable report gets a
``ReadError`` with a Chinese reason naming the file, never a traceback.

The file is untrusted: before calamine sees it, ``workbook.limits`` checks the package (sizes,
compression ratio, the parts calamine loads at opening), and each sheet just before calamine turns
it into a grid. An exception nobody expected is logged (type and where, not its message, which
may quote the file) so that a bug is found, and the office still gets a Chinese reason.
"""

from __future__ import annotations

import hashlib
import io
import logging
import traceback
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from python_calamine import CalamineError, CalamineWorkbook

from .errors import os_error_reason
from .formulas import settle_unsaved_totals
from .limits import MAX_SHEETS, LimitError, Package, check_directory, check_package
from .layout import META_SHEET, NOTES_ROWS, NOTES_SHEET, TEMPLATE_VERSION, layout_for
from .report import Explanation, Member, Report
from .spec import EDITIONS, load_edition
from .values import clean_text

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_BYTES = 50 * 1024 * 1024
Grid = list[list[Any]]
DAMAGED = "文件内容已损坏，无法读取。请在 Excel/WPS 中打开后重新保存，或重新发送"
TOO_MUCH_MEMORY = "文件内容异常（读取需要的内存过多），不是正常的年报工作簿"
log = logging.getLogger(__name__)


@dataclass
class ReadError(Exception):
    """A file that is not a readable report; ``reason`` is what the office is told."""

    path: Path
    reason: str
    code: str = "unreadable"

    def __str__(self) -> str:
        return f"{self.path.name}：{self.reason}"


def _sniff(path: Path, data: bytes) -> zipfile.ZipFile:
    """Recognise what a file is before parsing it, to give the right reason; the opened package."""
    name = path.name
    if name.startswith("~$"):
        raise ReadError(path, "这是 Excel/WPS 打开文件时留下的临时锁定文件，不是报表", "lock_file")
    if not data:
        raise ReadError(path, "文件为空（0 字节）", "empty")
    if data[:8] == OLE_MAGIC:
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise ReadError(path, "文件设置了打开密码（已加密），无法读取。请去掉密码后另存为 .xlsx 再报送", "encrypted")
        raise ReadError(path, "这是旧版 .xls 格式。请在 Excel/WPS 中“另存为”Excel 工作簿（.xlsx）后再报送", "xls")
    if data[:2] != b"PK":
        raise ReadError(path, "不是 Excel 工作簿（.xlsx）文件", "not_xlsx")
    try:
        check_directory(data)  # before zipfile builds an object per listed part
    except LimitError as exc:
        raise ReadError(path, exc.reason, exc.code) from None
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, OSError, ValueError):
        raise ReadError(path, "文件已损坏（不是完整的 .xlsx 文件），请重新导出或重新发送", "damaged") from None
    # Members are not CRC-checked here (that would inflate every part); a damaged member makes
    # calamine fail below, which is reported as damage too.
    if "xl/workbook.xml" not in set(z.namelist()):
        raise ReadError(path, "不是 Excel 工作簿（可能是 Word 或其他 Office 文件）", "not_xlsx")
    return z


class GridSource(Protocol):
    """Where sheets come from: a calamine workbook, or the values grids an Excel client posted."""

    @property
    def sheet_names(self) -> list[str]: ...

    def grid(self, name: str) -> Grid: ...


class _CalamineSource:
    """A calamine workbook whose sheets are checked (``Package.check_sheet``) before each becomes
    a grid: the grid is what costs memory, and only the sheets actually read pay for the check."""

    def __init__(self, wb: CalamineWorkbook, package: Package, path: Path) -> None:
        self.wb = wb
        self.package = package
        self.path = path
        self.sheet_names = list(wb.sheet_names)
        if len(self.sheet_names) > MAX_SHEETS:  # each may be turned into a grid when a table was renamed
            raise ReadError(path, f"文件内容异常（包含 {len(self.sheet_names)} 个工作表），不是正常的年报工作簿", "abnormal")

    def grid(self, name: str) -> Grid:
        try:
            self.package.check_sheet(name)
        except LimitError as exc:
            raise ReadError(self.path, exc.reason, exc.code) from None
        return self.wb.get_sheet_by_name(name).to_python(skip_empty_area=False)


@dataclass
class GridsSource:
    """Sheets given as values grids from A1 (e.g. an xlwings payload's ``sheets[].values``)."""

    grids: dict[str, Grid]

    @property
    def sheet_names(self) -> list[str]:
        return list(self.grids)

    def grid(self, name: str) -> Grid:
        return self.grids[name]


def _grid(wb: GridSource, name: str) -> Grid:
    return wb.grid(name)


def _at(grid: Grid, r: int, c: int) -> Any:
    if r < len(grid) and c < len(grid[r]):
        v = grid[r][c]
        return None if v == "" else v
    return None


def _meta(wb: GridSource) -> dict[str, list[str]]:
    if META_SHEET not in wb.sheet_names:
        return {}
    out: dict[str, list[str]] = {}
    for row in _grid(wb, META_SHEET):
        if len(row) >= 2 and row[0]:
            out.setdefault(str(row[0]), []).append(clean_text(row[1]))
    return out


def _find_sheets(wb: GridSource, edition_key: str, path: Path) -> dict[str, str]:
    """Map each table (and the cover) to the sheet that holds it: by name, else by title."""
    ed = load_edition(edition_key)
    found: dict[str, str] = {}
    titles: dict[str, str] | None = None
    wanted = [(t.key, t.sheet, t.title) for t in ed.tables] + [("cover", ed.cover_sheet, ed.heading.split("{year}")[-1])]
    for key, sheet, title in wanted:
        if sheet in wb.sheet_names:
            found[key] = sheet
            continue
        if titles is None:
            titles = {}
            for name in wb.sheet_names:
                try:
                    grid = _grid(wb, name)
                except ReadError as exc:
                    if exc.code != "abnormal":
                        raise
                    grid = []  # a sheet too large to be a table (a summary's 明细): not the one sought
                titles[name] = clean_text(_at(grid, 0, 0))
        match = [n for n, t in titles.items() if t and (t == title or t.endswith(title))]
        if not match:
            raise ReadError(path, f"找不到“{sheet}”工作表（也没有标题为“{title}”的工作表）。请使用下发的模板填报", "not_template")
        found[key] = match[0]
    return found


def _guess_edition(wb: GridSource) -> str | None:
    """For a workbook without our marker: the edition whose Part 二 labels sit where expected."""
    for key in EDITIONS:
        lay = layout_for(key)
        table = lay.edition.table("part2")
        if table.sheet not in wb.sheet_names:
            continue
        grid = _grid(wb, table.sheet)
        block = table.blocks[0]
        r, c = lay.tables["part2"].cells[f"part2.{block.key}.{block.rows[1].key}.{block.columns[0].key}"]
        if clean_text(_at(grid, r, 0)) == block.rows[1].label and clean_text(_at(grid, r - 2, 1)) == block.columns[0].header:
            return key
    return None


@cache
def _usual_sheets() -> tuple[str, ...]:
    """The sheets a report is read from, by their template names (every edition's)."""
    names = [META_SHEET, NOTES_SHEET]
    for key in EDITIONS:
        ed = load_edition(key)
        names += [ed.cover_sheet, *(t.sheet for t in ed.tables)]
    return tuple(dict.fromkeys(names))


def read_report(path: Path | str) -> Report:
    """Read one workbook. Raises ``ReadError`` with a Chinese reason for anything unreadable."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReadError(path, f"无法打开文件（{os_error_reason(exc)}）", "unreadable") from None
    if size > MAX_BYTES:
        raise ReadError(path, f"文件过大（{size // 1024 // 1024} MB），不是正常的年报工作簿", "too_large")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReadError(path, f"无法打开文件（{os_error_reason(exc)}）", "unreadable") from None
    with _sniff(path, data) as z:
        try:
            package = check_package(data, z)
            package.check_sheets(_usual_sheets())
        except LimitError as exc:
            raise ReadError(path, exc.reason, exc.code) from None
        try:
            wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
            report = report_from_grids(_CalamineSource(wb, package, path), path, hashlib.sha256(data).hexdigest())
            # totals kept as formulas without results (openpyxl, web exports) are computed, not blank
            return settle_unsaved_totals(report, data)
        except ReadError:
            raise
        except MemoryError:
            raise ReadError(path, TOO_MUCH_MEMORY, "abnormal") from None
        except CalamineError:  # calamine's own kinds for malformed parts: a damaged file, not a bug
            raise ReadError(path, DAMAGED, "damaged") from None
        except BaseException as exc:  # anything else may be a bug: logged, then reported
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise  # KeyboardInterrupt, SystemExit: not the file's doing
            log_unexpected(path, exc)
            raise ReadError(path, DAMAGED, "damaged") from None


def log_unexpected(path: Path, exc: BaseException) -> None:
    """Log an exception nobody expected while reading ``path``: its type and the code it came
    from, not its message (a message may quote the file's contents)."""
    where = "".join(traceback.format_tb(exc.__traceback__))
    log.error("reading %s failed with %s (message omitted: it may quote the file)\n%s",
              path.name, type(exc).__qualname__, where)


def report_from_grids(wb: GridSource, path: Path, sha: str = "") -> Report:
    """Build a report from sheets' value grids; raises ``ReadError`` when it is not our workbook.

    The file reader and the add-in (which receives the grids from Excel) share this, so a
    workbook is understood the same way whether it arrives as a file or from an Excel click.
    """
    meta = _meta(wb)
    edition_key = (meta.get("edition") or [None])[0] or _guess_edition(wb)
    if edition_key not in EDITIONS:
        raise ReadError(path, "不是政府信息公开年报模板（找不到表格版本标记，表格标签也对不上）。请使用下发的模板填报", "not_template")
    version = (meta.get("template_version") or [""])[0]
    if version.isdigit() and int(version) > int(TEMPLATE_VERSION):
        raise ReadError(path, f"工作簿由较新版本的模板（第 {version} 版）生成，请升级本工具后再读取", "newer_template")
    lay = layout_for(edition_key)
    ed = lay.edition
    sheets = _find_sheets(wb, edition_key, path)
    report = Report(edition_key, path=path, sha256=sha, sheet_names=sheets,
                    source=(meta.get("source") or ["template"])[0] or "template",
                    scope=(meta.get("scope") or [""])[0])
    cover = _grid(wb, sheets["cover"])
    for f in ed.cover:
        report.cover[f.key] = clean_text(_at(cover, *lay.cover.fields[f.key]))
    for t in ed.texts:
        report.texts[t.key] = clean_text(_at(cover, *lay.cover.texts[t.key]))
    for table in ed.tables:
        grid = _grid(wb, sheets[table.key])
        for cid, (r, c) in lay.tables[table.key].cells.items():
            report.raw[cid] = _at(grid, r, c)
    if NOTES_SHEET in wb.sheet_names:
        notes = _grid(wb, NOTES_SHEET)
        found = []
        for r in range(2, 2 + NOTES_ROWS):
            rule, cell, text = (clean_text(_at(notes, r, j)) for j in range(3))
            if rule and text:
                found.append(Explanation(rule, cell, text))
        report.notes = tuple(found)
    members = []
    for line in meta.get("member", []):
        code, name, digest = (line.split("\t") + ["", "", ""])[:3]
        members.append(Member(name, code, digest))
    report.members = tuple(members)
    # an imported report's cells that could not be placed, and the published writing of numbers
    # stored normalised (``build._write_meta``): unknown stays unknown once written to a file
    index = ed.cell_index
    report.unknown = frozenset(c for c in meta.get("unknown", []) if c in index)
    published = (line.split("\t", 1) for line in meta.get("published", []))
    report.published = {p[0]: p[1] for p in published if len(p) == 2 and p[0] in index}
    return report
