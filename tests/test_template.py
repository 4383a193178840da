"""The protected template (issue 2, first two “Done when” items).

Each template is built by the real ``nianbao template`` command and reopened with openpyxl — a
reader independent of the xlsxwriter-based builder. Where the official report format fixes
something (labels, which cells are totals), the expectation is hard-coded here from
``report-format.md`` rather than taken from the spec, so that a wrong spec fails too. LibreOffice,
a real spreadsheet application, recalculates a randomly filled template; the expected totals are
computed in the test by walking the spec's items.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openpyxl
import pytest
from openpyxl.cell.cell import MergedCell
from openpyxl.utils.cell import range_boundaries
from openpyxl.utils.protection import hash_password
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from workbook.build import DEFAULT_PASSWORD, legacy_password_hash
from workbook.layout import META_SHEET, NOTES_ROWS, NOTES_SHEET, RESULTS_SHEET, TEMPLATE_VERSION, a1, layout_for
from workbook.spec import EDITIONS, Edition, load_edition

if TYPE_CHECKING:  # fixture types only; the fixtures themselves come from conftest.py
    from conftest import BuiltTemplate, CliFn, OfficeRun, TotalFn

CJK = re.compile(r"[\u4e00-\u9fff]")

# ----- official wording, copied from report-format.md (not from the spec) -------------------------
TITLES = ("二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况", "四、政府信息公开行政复议、行政诉讼情况")
PART3_CORNER = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
PART3_LEAVES_HEAD = (
    "一、本年新收政府信息公开申请数量", "二、上年结转政府信息公开申请数量", "（一）予以公开",
    "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
    "1.属于国家秘密", "2.其他法律行政法规禁止公开", "3.危及“三安全一稳定”", "4.保护第三方合法权益",
    "5.属于三类内部事务信息", "6.属于四类过程性信息", "7.属于行政执法案卷", "8.属于行政查询事项",
    "1.本机关不掌握相关政府信息", "2.没有现成信息需要另行制作", "3.补正后申请内容仍不明确",
    "1.信访举报投诉类申请", "2.重复申请", "3.要求提供公开出版物", "4.无正当理由大量反复申请",
    "5.要求行政机关确认或重新出具已获取信息",
)
PART3_LEAVES_OTHER = {
    "2019": ("（六）其他处理",),
    "2021": ("1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
             "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", "3.其他"),
}
PART3_LEAVES_TAIL = ("（七）总计", "四、结转下年度继续办理")
PART3_ROW_COUNT = {"2019": 23, "2021": 25}
PART3_GROUPS = {"2019": ("三、本年度办理结果", "（三）不予公开", "（四）无法提供", "（五）不予处理"),
                "2021": ("三、本年度办理结果", "（三）不予公开", "（四）无法提供", "（五）不予处理", "（六）其他处理")}
ORG = ("申请人情况", "法人或其他组织")
PART3_COLUMNS = (("申请人情况", "自然人"), (*ORG, "商业企业"), (*ORG, "科研机构"), (*ORG, "社会公益组织"),
                 (*ORG, "法律服务机构"), (*ORG, "其他"), ("申请人情况", "总计"))
RESULTS = ("结果维持", "结果纠正", "其他结果", "尚未审结", "总计")
PART4_COLUMNS = (tuple(("行政复议", r) for r in RESULTS)
                 + tuple(("行政诉讼", "未经复议直接起诉", r) for r in RESULTS)
                 + tuple(("行政诉讼", "复议后起诉", r) for r in RESULTS))
PART2_BLOCKS: dict[str, tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]] = {
    "2021": (
        ("第二十条第（一）项", ("规章", "行政规范性文件"), ("本年制发件数", "本年废止件数", "现行有效件数")),
        ("第二十条第（五）项", ("行政许可",), ("本年处理决定数量",)),
        ("第二十条第（六）项", ("行政处罚", "行政强制"), ("本年处理决定数量",)),
        ("第二十条第（八）项", ("行政事业性收费",), ("本年收费金额（单位：万元）",)),
    ),
    "2019": (
        ("第二十条第（一）项", ("规章", "规范性文件"), ("本年新制作数量", "本年新公开数量", "对外公开总数量")),
        ("第二十条第（五）项", ("行政许可", "其他对外管理服务事项"), ("上一年项目数量", "本年增/减", "处理决定数量")),
        ("第二十条第（六）项", ("行政处罚", "行政强制"), ("上一年项目数量", "本年增/减", "处理决定数量")),
        ("第二十条第（八）项", ("行政事业性收费",), ("上一年项目数量", "本年增/减")),
        ("第二十条第（九）项", ("政府集中采购",), ("采购项目数量", "采购总金额")),
    ),
}
SIGNED_HEADERS = ("本年增/减",)
MONEY_HEADERS = ("采购总金额", "本年收费金额（单位：万元）")
COVER_FIELDS = ("单位名称", "统一社会信用代码", "行政区划代码", "单位类型", "上级单位", "报告年度", "填报人", "联系电话", "填报日期")
UNIT_TYPES = ("县级人民政府", "县级政府部门", "乡镇人民政府", "街道办事处", "其他")
TEXT_PARTS = ("一、总体情况", "五、存在的主要问题及改进情况", "六、其他需要报告的事项")


# ----- helpers: reading what openpyxl sees -------------------------------------------------------

def expand(ref: str) -> set[str]:
    """All A1 coordinates of a reference like ``$D$6:$I$28`` or ``B9``."""
    min_col, min_row, max_col, max_row = range_boundaries(ref.replace("$", ""))
    return {a1(r - 1, c - 1) for r in range(min_row, max_row + 1) for c in range(min_col, max_col + 1)}


def merged_values(ws: Worksheet) -> dict[tuple[int, int], Any]:
    """(row, col) → the value shown there (a merged rectangle shows its top-left value everywhere)."""
    out: dict[tuple[int, int], Any] = {}
    for row in ws.iter_rows():
        for cell in row:
            if not isinstance(cell, MergedCell):
                out[(cell.row, cell.column)] = cell.value
    for mr in ws.merged_cells.ranges:
        top = ws.cell(mr.min_row, mr.min_col).value
        for r in range(mr.min_row, mr.max_row + 1):
            for c in range(mr.min_col, mr.max_col + 1):
                out[(r, c)] = top
    return out


def find(ws: Worksheet, text: str) -> list[tuple[int, int]]:
    """Where a text is written (top-left cells only), as 1-based (row, col)."""
    return [(c.row, c.column) for row in ws.iter_rows() for c in row
            if not isinstance(c, MergedCell) and c.value == text]


def strings(ws: Worksheet) -> set[str]:
    return {c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)}


def validations_at(ws: Worksheet, coord: str) -> list[DataValidation]:
    return [dv for dv in ws.data_validations.dataValidation if coord in dv.sqref]


def admits(dv: DataValidation, value: float) -> bool:
    """Whether a data validation lets a clerk type ``value`` (whole/decimal with its operator)."""
    if dv.type == "whole" and value != int(value):
        return False
    f1 = float(dv.formula1) if dv.formula1 is not None else None
    f2 = float(dv.formula2) if dv.formula2 is not None else None
    op = dv.operator or "between"
    checks = {
        "between": lambda: f1 <= value <= f2, "notBetween": lambda: not f1 <= value <= f2,
        "equal": lambda: value == f1, "notEqual": lambda: value != f1,
        "greaterThan": lambda: value > f1, "lessThan": lambda: value < f1,
        "greaterThanOrEqual": lambda: value >= f1, "lessThanOrEqual": lambda: value <= f1,
    }
    return bool(checks[op]())


def meta_of(wb: Workbook) -> dict[str, str]:
    return {str(r[0]): str(r[1]) for r in wb[META_SHEET].iter_rows(values_only=True) if r and r[0]}


def same_hash(stored: str | None, password: str) -> bool:
    """Compare 16-bit Excel password verifiers as numbers (LibreOffice writes them lower-case)."""
    return stored is not None and int(stored, 16) == int(hash_password(password), 16)


def unlocked_allowed(wb: Workbook, key: str) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(cells that must be unlocked, cells that may be unlocked) per sheet.

    Must: every spec input cell, every cover field and text value cell, the 说明 sheet's rows.
    May: additionally the rest of a merged rectangle whose top-left is such a cell.
    """
    lay = layout_for(key)
    ed = lay.edition
    must: dict[str, set[str]] = {name: set() for name in wb.sheetnames}
    for cell in ed.input_cells:
        must[lay.sheet_of(cell.id)].add(a1(*lay.pos(cell.id)))
    for pos in [*lay.cover.fields.values(), *lay.cover.texts.values()]:
        must[ed.cover_sheet].add(a1(*pos))
    for r in range(2, 2 + NOTES_ROWS):
        must[NOTES_SHEET] |= {a1(r, c) for c in range(3)}
    may = {name: set(coords) for name, coords in must.items()}
    for name in wb.sheetnames:
        for mr in wb[name].merged_cells.ranges:
            if a1(mr.min_row - 1, mr.min_col - 1) in must[name]:
                may[name] |= expand(mr.coord)
    return must, may


def assert_inputs_unlocked_rest_locked(wb: Workbook, key: str) -> None:
    must, may = unlocked_allowed(wb, key)
    wrong: list[str] = []
    for ws in wb.worksheets:
        if ws.title == RESULTS_SHEET:
            continue
        for coord in must[ws.title]:
            if ws[coord].protection.locked:
                wrong.append(f"{ws.title}!{coord} should be unlocked")
        for row in ws.iter_rows(min_row=1, max_row=ws.max_row, min_col=1, max_col=ws.max_column):
            for cell in row:
                if cell.coordinate not in may[ws.title] and not cell.protection.locked:
                    wrong.append(f"{ws.title}!{cell.coordinate} should be locked")
    assert not wrong, wrong[:20]


def assert_validation_by_kind(wb: Workbook, ed: Edition) -> None:
    lay = layout_for(ed.key)
    wrong: list[str] = []
    for cell in ed.cells:
        ws = wb[lay.sheet_of(cell.id)]
        coord = a1(*lay.pos(cell.id))
        dvs = validations_at(ws, coord)
        where = f"{ws.title}!{coord} ({cell.id}, {cell.kind})"
        if cell.role == "derived":
            if dvs:
                wrong.append(f"{where}: a derived cell has a data validation")
            continue
        if len(dvs) != 1:
            wrong.append(f"{where}: {len(dvs)} validations")
            continue
        dv = dvs[0]
        if not dv.showErrorMessage or dv.errorStyle not in (None, "stop") or not CJK.search(dv.error or ""):
            wrong.append(f"{where}: no blocking Chinese error message ({dv.error!r})")
        if cell.kind == "count":
            ok = dv.type == "whole" and admits(dv, 0) and admits(dv, 7) and not admits(dv, -1) and not admits(dv, 1.5)
        elif cell.kind == "signed":
            ok = dv.type == "whole" and admits(dv, -8) and admits(dv, 0) and admits(dv, 8) and not admits(dv, 0.5)
        else:
            ok = dv.type == "decimal" and admits(dv, 0) and admits(dv, 1.2678) and not admits(dv, -0.01)
        if not ok:
            wrong.append(f"{where}: validation {dv.type} {dv.operator} {dv.formula1} {dv.formula2} does not fit")
    assert not wrong, wrong[:20]


def assert_protected(wb: Workbook, password: str, structure: bool = True) -> None:
    wrong: list[str] = []
    for ws in wb.worksheets:
        if ws.title == RESULTS_SHEET:
            continue
        p = ws.protection
        if not p.sheet:
            wrong.append(f"{ws.title}: not protected")
        if p.formatCells is not False:  # OOXML formatCells="0": formatting is NOT prevented
            wrong.append(f"{ws.title}: formatting cells is not allowed under protection")
        if not same_hash(p.password, password):
            wrong.append(f"{ws.title}: password hash {p.password!r}")
    if structure:
        if not wb.security or not wb.security.lockStructure:
            wrong.append("workbook structure is not locked")
        elif not same_hash(wb.security.workbookPassword, password):
            wrong.append(f"workbook password hash {wb.security.workbookPassword!r}")
    assert not wrong, wrong


def name_cells(wb: Workbook, tag: str) -> list[tuple[str, str]]:
    """Every (sheet, coordinate) the NB_PART*_<tag>_* defined names cover (with repeats)."""
    out: list[tuple[str, str]] = []
    for name, dn in wb.defined_names.items():
        if re.fullmatch(rf"NB_PART\d_{tag}_\d+", name):
            for sheet, ref in dn.destinations:
                out += [(sheet, c) for c in sorted(expand(ref))]
    return out


# ----- the command ---------------------------------------------------------------------------------

@pytest.mark.parametrize("key", EDITIONS)
def test_template_command_builds_each_edition(templates: dict[str, BuiltTemplate], key: str) -> None:
    """`nianbao template --edition K` exits 0, says so in Chinese and marks the file with edition K."""
    t = templates[key]
    assert t.returncode == 0, t.stderr
    assert t.path.is_file() and t.path.stat().st_size > 0
    assert "已生成模板" in t.stdout and "Traceback" not in t.stderr
    wb = openpyxl.load_workbook(t.path, read_only=True)
    assert meta_of(wb)["edition"] == key


@pytest.mark.parametrize(("year", "edition"), [(2020, "2019"), (2026, "2021")])
def test_year_alone_selects_the_edition_of_that_year(cli: CliFn, tmp_path: Path, year: int, edition: str) -> None:
    """`--year 2020` builds the 2019 edition (R0.2), `--year 2026` the 2021 one, with the year on the cover."""
    out = tmp_path / f"模板-{year}.xlsx"
    proc = cli(["template", "--year", str(year), "-o", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    wb = openpyxl.load_workbook(out)
    assert meta_of(wb)["edition"] == edition
    cover = wb[load_edition(edition).cover_sheet]
    (row, col), = [(r, c) for r, c in find(cover, "报告年度（必填）")] or find(cover, "报告年度")
    assert cover.cell(row, col + 1).value == year
    assert str(year) in str(cover["A1"].value)


def test_year_and_wrong_edition_are_refused_in_chinese(cli: CliFn, tmp_path: Path) -> None:
    """`--year 2020 --edition 2021` exits 2 with a Chinese reason naming the right edition, no traceback, no file."""
    out = tmp_path / "错版.xlsx"
    proc = cli(["template", "--year", "2020", "--edition", "2021", "-o", str(out)], tmp_path)
    said = re.sub(r"\s+", "", proc.stdout + proc.stderr)
    assert proc.returncode == 2, said
    assert "Traceback" not in said
    assert "应使用" in said and "2019版" in said and "国办公开办函〔2019〕60号" in said, said
    assert not out.exists()


def test_password_option_protects_every_sheet_and_the_structure(cli: CliFn, tmp_path: Path) -> None:
    """`--password` replaces the default: every sheet and the workbook carry that password's hash."""
    out = tmp_path / "密码.xlsx"
    proc = cli(["template", "--edition", "2021", "--password", "county-2026", "-o", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_protected(openpyxl.load_workbook(out), "county-2026")


# ----- protection, locks, validation, names --------------------------------------------------------

@pytest.mark.parametrize("key", EDITIONS)
def test_only_input_cells_are_unlocked(template_books: dict[str, Workbook], key: str) -> None:
    """Every spec input cell is unlocked; every other cell in every sheet's used range is locked
    (only cover fields/texts and the 说明 rows may also be typed into)."""
    assert_inputs_unlocked_rest_locked(template_books[key], key)


@pytest.mark.parametrize("key", EDITIONS)
def test_every_sheet_protected_with_default_password_and_structure_locked(
        template_books: dict[str, Workbook], key: str) -> None:
    """All sheets but 校验结果 are protected (formatting allowed so marks can be applied), the
    structure is locked, and the stored hash is the default password's (checked with openpyxl's
    own hash and with the project's)."""
    assert int(legacy_password_hash(DEFAULT_PASSWORD), 16) == int(hash_password(DEFAULT_PASSWORD), 16)
    assert_protected(template_books[key], DEFAULT_PASSWORD)


@pytest.mark.parametrize("key", EDITIONS)
def test_every_input_cell_has_validation_for_its_kind(template_books: dict[str, Workbook], key: str) -> None:
    """count: whole ≥ 0; signed: whole, negatives allowed; money: decimal ≥ 0; each with a
    blocking Chinese error message; no validation on derived cells."""
    assert_validation_by_kind(template_books[key], load_edition(key))


@pytest.mark.parametrize("key", EDITIONS)
def test_derived_cells_hold_sum_formulas_over_their_spec_items(template_books: dict[str, Workbook], key: str) -> None:
    """Each derived cell is `=SUM(...)` over exactly the cells its spec items name (same sheet)."""
    wb = template_books[key]
    lay = layout_for(key)
    wrong: list[str] = []
    for cell in lay.edition.derived_cells:
        ws = wb[lay.sheet_of(cell.id)]
        coord = a1(*lay.pos(cell.id))
        formula = ws[coord].value
        m = re.fullmatch(r"=SUM\(([A-Z$0-9:,]+)\)", str(formula))
        if not m:
            wrong.append(f"{coord}: {formula!r}")
            continue
        got = set().union(*(expand(part) for part in m[1].split(",")))
        want = {a1(*lay.pos(i)) for i in cell.items}
        if got != want or any(lay.sheet_of(i) != ws.title for i in cell.items):
            wrong.append(f"{coord}: {formula} sums {sorted(got)} instead of {sorted(want)}")
    assert not wrong, wrong


@pytest.mark.parametrize("key", EDITIONS)
def test_defined_names_cover_exactly_inputs_and_totals(template_books: dict[str, Workbook], key: str) -> None:
    """NB_PART*_INPUT_* cover exactly the input cells and NB_PART*_TOTAL_* exactly the derived
    ones, each cell once; the cover and text names point at their fields."""
    wb = template_books[key]
    lay = layout_for(key)
    ed = lay.edition
    inputs, totals = name_cells(wb, "INPUT"), name_cells(wb, "TOTAL")
    assert len(inputs) == len(set(inputs)) and len(totals) == len(set(totals))
    assert set(inputs) == {(lay.sheet_of(c.id), a1(*lay.pos(c.id))) for c in ed.input_cells}
    assert set(totals) == {(lay.sheet_of(c.id), a1(*lay.pos(c.id))) for c in ed.derived_cells}
    cover = wb[ed.cover_sheet]
    for f in ed.cover:
        (sheet, ref), = wb.defined_names[f"NB_COVER_{f.key.upper()}"].destinations
        row = range_boundaries(ref.replace("$", ""))[1]
        assert sheet == ed.cover_sheet and str(cover.cell(row, 1).value).startswith(f.label)
    for t in ed.texts:
        (sheet, ref), = wb.defined_names[f"NB_TEXT_{t.key.upper()}"].destinations
        row = range_boundaries(ref.replace("$", ""))[1]
        assert sheet == ed.cover_sheet and cover.cell(row - 1, 1).value == t.label


@pytest.mark.parametrize("key", EDITIONS)
def test_table_sheets_print_on_a4_landscape_fit_to_width(template_books: dict[str, Workbook], key: str) -> None:
    """Parts 二–四 print A4 landscape, each on one page (fitted to the width and to one page tall,
    as the exported PDF prints them), with repeated title rows and page numbers."""
    wb = template_books[key]
    for table in load_edition(key).tables:
        ws = wb[table.sheet]
        ps = ws.page_setup
        assert ps.orientation == "landscape", table.sheet
        assert int(ps.paperSize) == 9, table.sheet  # 9 = A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage, table.sheet
        assert ps.fitToWidth in (None, 1), table.sheet  # absent = 1 (ECMA-376 default)
        assert ps.fitToHeight in (None, 1), table.sheet  # one page tall (absent = 1)
        assert ws.print_title_rows, table.sheet
        assert "&P" in (ws.oddFooter.center.text or ""), table.sheet


@pytest.mark.parametrize("key", EDITIONS)
def test_meta_sheet_marks_edition_and_template_version(template_books: dict[str, Workbook], key: str) -> None:
    """The hidden _meta sheet (and NB_EDITION) say which edition and template version this is."""
    wb = template_books[key]
    meta = meta_of(wb)
    assert meta["edition"] == key
    assert meta["template_version"] == TEMPLATE_VERSION and meta["template_version"]
    assert wb[META_SHEET].sheet_state in ("hidden", "veryHidden")
    (sheet, ref), = wb.defined_names["NB_EDITION"].destinations
    assert wb[sheet][ref.replace("$", "")].value == key


# ----- labels and structure as officially published -----------------------------------------------

@pytest.mark.parametrize("key", EDITIONS)
def test_official_labels_appear_verbatim(template_books: dict[str, Workbook], key: str) -> None:
    """Titles, row labels, group labels, column headers and the 勾稽关系 corner text appear exactly
    as in the official tables (full-width brackets and the quotes of “三安全一稳定” included)."""
    wb = template_books[key]
    ed = load_edition(key)
    found = set().union(*(strings(wb[t.sheet]) for t in ed.tables))
    wanted = {*TITLES, PART3_CORNER, *PART3_LEAVES_HEAD, *PART3_LEAVES_OTHER[key], *PART3_LEAVES_TAIL,
              *PART3_GROUPS[key], *(p for path in PART3_COLUMNS + PART4_COLUMNS for p in path)}
    for title, rows, cols in PART2_BLOCKS[key]:
        wanted |= {title, *rows, *(c for c in cols if c != "采购总金额")}
    missing = sorted(wanted - found)
    assert not missing, missing
    assert "3.危及“三安全一稳定”" in strings(wb[ed.table("part3").sheet])
    if key == "2019":
        assert not any("申请人无正当理由逾期不补正" in s for s in found)


def part3_frame(ws: Worksheet) -> tuple[int, int, int, list[int]]:
    """(first number column, 总计 column, last header row, data rows) found from the labels alone."""
    (_, first_col), = find(ws, "自然人")
    (hdr_last, _), = find(ws, "商业企业")
    (_, total_col), = [(r, c) for r, c in find(ws, "总计") if r <= hdr_last]
    return first_col, total_col, hdr_last, list(range(hdr_last + 1, ws.max_row + 1))


@pytest.mark.parametrize("key", EDITIONS)
def test_part3_rows_follow_official_order_and_only_totals_are_locked(
        template_books: dict[str, Workbook], key: str) -> None:
    """Part 三 has 23 (2019) / 25 (2021) number rows in the official order; in each row the six
    applicant columns are empty unlocked inputs and 总计 a locked SUM — the whole （七）总计 row is
    locked SUMs (report-format.md: derived cells)."""
    ws = template_books[key][load_edition(key).table("part3").sheet]
    first_col, total_col, _, rows = part3_frame(ws)
    leaves: list[str] = []
    for r in rows:
        labels = [ws.cell(r, c).value for c in range(1, first_col)
                  if not isinstance(ws.cell(r, c), MergedCell) and ws.cell(r, c).value]
        leaves.append(labels[-1])
        for c in range(first_col, total_col + 1):
            cell = ws.cell(r, c)
            derived = c == total_col or labels[-1] == "（七）总计"
            assert cell.protection.locked == derived, (labels[-1], cell.coordinate)
            if derived:
                assert str(cell.value).startswith("=SUM("), (labels[-1], cell.coordinate)
            else:
                assert cell.value is None, cell.coordinate
    assert leaves == [*PART3_LEAVES_HEAD, *PART3_LEAVES_OTHER[key], *PART3_LEAVES_TAIL]
    assert len(leaves) == PART3_ROW_COUNT[key]
    assert total_col - first_col + 1 == 7


@pytest.mark.parametrize("key", EDITIONS)
def test_part3_and_part4_headers_are_merged_as_published(template_books: dict[str, Workbook], key: str) -> None:
    """Reading each number column's header top-down through the merged cells gives the official
    grouping (申请人情况 › 法人或其他组织 › 商业企业; 行政诉讼 › 复议后起诉 › 总计 …)."""
    wb = template_books[key]
    ed = load_edition(key)
    ws3 = wb[ed.table("part3").sheet]
    shown = merged_values(ws3)
    first_col, total_col, hdr_last, _ = part3_frame(ws3)
    (hdr_first, _), = find(ws3, "申请人情况")
    paths3 = [tuple(dict.fromkeys(shown[(r, c)] for r in range(hdr_first, hdr_last + 1) if shown.get((r, c))))
              for c in range(first_col, total_col + 1)]
    assert paths3 == list(PART3_COLUMNS)
    assert any(v == PART3_CORNER for (r, c), v in shown.items() if c < first_col and hdr_first <= r <= hdr_last)

    ws4 = wb[ed.table("part4").sheet]
    shown = merged_values(ws4)
    (top, left), = find(ws4, "行政复议")
    data_row = max(r for r, _ in find(ws4, "结果维持")) + 1
    cols = range(left, ws4.max_column + 1)
    paths4 = [tuple(dict.fromkeys(shown[(r, c)] for r in range(top, data_row) if shown.get((r, c)))) for c in cols]
    assert paths4 == list(PART4_COLUMNS)
    for c, path in zip(cols, paths4):
        cell = ws4.cell(data_row, c)
        derived = path[-1] == "总计"
        assert cell.protection.locked == derived, path
        assert str(cell.value).startswith("=SUM(") if derived else cell.value is None, path
    assert data_row == ws4.max_row


@pytest.mark.parametrize("key", EDITIONS)
def test_part2_blocks_follow_the_official_table_with_kinds(template_books: dict[str, Workbook], key: str) -> None:
    """Part 二: each 第二十条 block has its official rows and headers; the cells under them are
    unlocked inputs whose validation fits the column (本年增/减 takes −8, amounts take 1.2678)."""
    ws = template_books[key][load_edition(key).table("part2").sheet]
    shown = merged_values(ws)
    for title, rows, cols in PART2_BLOCKS[key]:
        (r, _), = find(ws, title)
        assert shown[(r + 1, 1)] == "信息内容"
        headers = [(c, ws.cell(r + 1, c).value) for c in range(2, ws.max_column + 1)
                   if not isinstance(ws.cell(r + 1, c), MergedCell)]
        assert len(headers) == len(cols)
        for (c, got), want in zip(headers, cols):
            assert got == want or (want == "采购总金额" and str(got).startswith("采购总金额")), (got, want)
        for i, label in enumerate(rows):
            assert ws.cell(r + 2 + i, 1).value == label
            for c, header in headers:
                cell = ws.cell(r + 2 + i, c)
                assert not cell.protection.locked and cell.value is None, (label, header)
                (dv,) = validations_at(ws, cell.coordinate)
                if header in SIGNED_HEADERS:
                    assert admits(dv, -8), (label, header)
                elif any(str(header).startswith(m) for m in MONEY_HEADERS):
                    assert dv.type == "decimal" and admits(dv, 1.2678) and not admits(dv, -1), (label, header)
                else:
                    assert dv.type == "whole" and not admits(dv, -1), (label, header)


@pytest.mark.parametrize("key", EDITIONS)
def test_cover_has_fields_unit_type_dropdown_and_wrapped_text_parts(
        template_books: dict[str, Workbook], key: str) -> None:
    """The cover asks for every field (value cell unlocked), offers the five unit types as a
    dropdown, and gives 一/五/六 wrapped unlocked long-text cells."""
    ws = template_books[key][load_edition(key).cover_sheet]
    for label in COVER_FIELDS:
        (r, c), = [(r, c) for r, c in (find(ws, label) + find(ws, label + "（必填）"))]
        value = ws.cell(r, c + 1)
        assert not value.protection.locked, label
        if label == "单位类型":
            (dv,) = validations_at(ws, value.coordinate)
            assert dv.type == "list"
            assert [s.strip() for s in dv.formula1.strip('"').split(",")] == list(UNIT_TYPES)
            assert CJK.search(dv.error or "")
    for label in TEXT_PARTS:
        (r, c), = find(ws, label)
        box = ws.cell(r + 1, c)
        assert not box.protection.locked and box.alignment.wrap_text, label


# ----- LibreOffice: the real spreadsheet application -----------------------------------------------

@pytest.mark.office
@pytest.mark.parametrize("key", EDITIONS)
def test_libreoffice_recalculates_random_inputs_to_the_spec_sums(
        office_run: OfficeRun, total_of: TotalFn, key: str) -> None:
    """Random valid inputs, recalculated by LibreOffice (forced), give every derived cell the sum
    computed in the test from the spec's items; the inputs come back as typed."""
    _, recalculated, values = office_run.fills[key]
    lay = layout_for(key)
    ed = lay.edition
    wb = openpyxl.load_workbook(recalculated, data_only=True)
    wrong: list[str] = []
    for cell in ed.cells:
        got = wb[lay.sheet_of(cell.id)][a1(*lay.pos(cell.id))].value
        want = values[cell.id] if cell.role == "input" else total_of(ed, cell.id, lambda c: float(values[c]))
        if not isinstance(got, (int, float)) or got != pytest.approx(want, abs=1e-9):
            wrong.append(f"{cell.id} ({cell.role}): LibreOffice {got!r}, expected {want!r}")
    assert not wrong, wrong[:20]
    assert any(total_of(ed, c.id, lambda x: float(values[x])) > 0 for c in ed.derived_cells)


@pytest.mark.office
@pytest.mark.parametrize("key", EDITIONS)
def test_protection_locks_validation_and_names_survive_libreoffice(office_run: OfficeRun, key: str) -> None:
    """After LibreOffice saved the file: sheets still protected with the same hash and formatting
    allowed, inputs unlocked and totals locked SUMs, validations intact, defined names intact.

    Workbook *structure* protection is not asserted: LibreOffice 7.4 writes an empty
    <workbookProtection/> on xlsx export, for any file (measured; not the template's doing).
    """
    _, recalculated, _ = office_run.fills[key]
    wb = openpyxl.load_workbook(recalculated)
    lay = layout_for(key)
    ed = lay.edition
    assert_protected(wb, DEFAULT_PASSWORD, structure=False)
    for cell in ed.cells:
        c = wb[lay.sheet_of(cell.id)][a1(*lay.pos(cell.id))]
        assert c.protection.locked == (cell.role == "derived"), cell.id
        if cell.role == "derived":
            assert str(c.value).upper().startswith("=SUM("), (cell.id, c.value)
    assert_validation_by_kind(wb, ed)
    assert set(name_cells(wb, "INPUT")) == {(lay.sheet_of(c.id), a1(*lay.pos(c.id))) for c in ed.input_cells}
    assert set(name_cells(wb, "TOTAL")) == {(lay.sheet_of(c.id), a1(*lay.pos(c.id))) for c in ed.derived_cells}
    assert meta_of(wb)["edition"] == key


@pytest.mark.office
def test_libreoffice_recalculation_is_forced_over_stale_cached_results(office_run: OfficeRun, total_of: TotalFn) -> None:
    """A workbook whose input changed behind stale cached totals (一/自然人 raised by 100 in the
    XML) comes back from ``workbook.office.recalculate`` with every total recomputed — LibreOffice
    by default would keep the stale results."""
    from python_calamine import CalamineWorkbook

    stale, recalculated = office_run.saved["stale"]
    lay = layout_for("2021")
    ed = lay.edition

    def grid(path: Path, sheet: str) -> list[list[Any]]:
        return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)

    sheets = {t.sheet: (grid(stale, t.sheet), grid(recalculated, t.sheet)) for t in ed.tables}

    def value(which: int, cid: str) -> Any:
        r, c = lay.pos(cid)
        g = sheets[lay.sheet_of(cid)][which]
        return g[r][c] if r < len(g) and c < len(g[r]) else ""

    number = lambda cid: float(value(1, cid)) if isinstance(value(1, cid), (int, float)) else 0.0  # noqa: E731
    assert value(1, "part3.main.new.total") == value(0, "part3.main.new.total") + 100
    for cell in ed.derived_cells:
        assert value(1, cell.id) == pytest.approx(total_of(ed, cell.id, number)), cell.id
