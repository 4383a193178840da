"""Every workbook the tool hands out prints right (issue 12 §2).

Each workbook is made by the real command (template, consolidate, audit, compare), and every
visible sheet is printed on its own by LibreOffice — a copy with the other sheets hidden and their
print areas removed (LibreOffice prints a hidden sheet that has one) — then read back with poppler:
``pdfinfo`` for the number and the size/orientation of the pages, ``pdftotext`` for the text. A
label cut by a narrow column loses its last characters in the PDF (LibreOffice does not print
what a cell clips), so every label is looked for whole. One page of each workbook is kept as PNG
in tests/output/ for a person to look at.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from workbook.spec import EDITIONS, load_edition

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
OUTPUT = Path(__file__).resolve().parent / "output"
INBOX_2026 = SAMPLES / "青禾县-2026" / "收文"
INBOX_2025 = SAMPLES / "青禾县-2025" / "收文"
REGISTER = SAMPLES / "青禾县-2026" / "单位名单.csv"
COUNTY = "青禾县人民政府"
A4 = (595, 842)  # points, portrait
_SHEET = re.compile(rb"<sheet\b[^>]*/>")
_PRINT_AREA = re.compile(rb'<definedName name="_xlnm.Print_Area" localSheetId="(\d+)">[^<]*</definedName>')


def visible_sheets(path: Path) -> list[tuple[int, str]]:
    with zipfile.ZipFile(path) as z:
        book = z.read("xl/workbook.xml")
    out = []
    for i, m in enumerate(_SHEET.finditer(book)):
        tag = m.group(0)
        if b'state="hidden"' not in tag and b'state="veryHidden"' not in tag:
            name = re.search(rb'name="([^"]*)"', tag)
            assert name is not None
            out.append((i, name.group(1).decode("utf-8").replace("&amp;", "&")))
    return out


def only_sheet(path: Path, index: int, target: Path) -> Path:
    """A copy of ``path`` that prints only sheet ``index``: the others hidden, their print areas
    and tab selections removed, the sheet made the active one."""
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            body = zin.read(item.filename)
            if item.filename == "xl/workbook.xml":
                k = iter(range(10_000))

                def state(m: re.Match[bytes]) -> bytes:
                    tag = re.sub(rb'\sstate="[^"]*"', b"", m.group(0))
                    return tag if next(k) == index else tag[:-2] + b' state="hidden"/>'

                body = _SHEET.sub(state, body)
                body = _PRINT_AREA.sub(lambda m: m.group(0) if int(m.group(1)) == index else b"", body)
                body = re.sub(rb'\s(activeTab|firstSheet)="\d+"', b"", body)
                body = body.replace(b"<workbookView ", b'<workbookView activeTab="%d" firstSheet="%d" ' % (index, index), 1)
            elif item.filename.startswith("xl/worksheets/") or item.filename.startswith("xl/chartsheets/"):
                body = body.replace(b' tabSelected="1"', b"")
            zout.writestr(item, body)
    return target


@dataclass(frozen=True)
class Printed:
    """One sheet printed on its own: its PDF, page sizes (width, height in points) and text."""

    workbook: str
    sheet: str
    pdf: Path
    pages: list[tuple[float, float]]

    def text(self, page: int | None = None, layout: bool = False) -> str:
        args = ["pdftotext", *(["-layout"] if layout else []), *(["-f", str(page), "-l", str(page)] if page else []),
                str(self.pdf), "-"]
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout

    def flat(self, page: int | None = None) -> str:
        """The text without any white space: a label wrapped over two lines reads whole."""
        return re.sub(r"\s+", "", self.text(page))

    def whole(self, label: str) -> bool:
        """Whether ``label`` is printed whole: in one piece, or wrapped in its cell over lines
        that follow one another (三、本年度 / 办理结果 in a narrow column). Each next line (or the
        one after) must
        carry the longest next piece of the label (two characters at least, but the last); a label
        cut by its column never ends."""
        label = label.replace(" ", "")
        if label in self.flat():
            return True
        lines = [line.replace(" ", "") for line in self.text(layout=True).splitlines()]
        for n in range(len(lines)):
            rest, k = label, n
            while rest and k < len(lines):
                # the next piece on the next line, or the one after it (a one-line label of the
                # same row, vertically centred, prints between the lines of a wrapped one)
                for j in (k, k + 1)[: 1 if k == n else 2]:
                    piece = next((rest[:i] for i in range(len(rest), 0, -1) if j < len(lines) and rest[:i] in lines[j]), "")
                    if len(piece) >= min(2, len(rest)):  # a stray character elsewhere is no piece
                        rest, k = rest[len(piece):], j + 1
                        break
                else:
                    break
            if not rest:
                return True
        return False

    @property
    def landscape(self) -> bool:
        return all(w > h for w, h in self.pages)

    @property
    def portrait(self) -> bool:
        return all(w < h for w, h in self.pages)


def page_sizes(pdf: Path) -> list[tuple[float, float]]:
    out = subprocess.run(["pdfinfo", "-f", "1", "-l", "9999", str(pdf)], capture_output=True, text=True, check=True).stdout
    return [(float(w), float(h)) for w, h in re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", out)]


@pytest.fixture(scope="module")
def printed(templates: dict[str, Any], soffice: str, cli: Any,
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Printed]]:
    """Every visible sheet of every kind of workbook, printed by LibreOffice (one run)."""
    from workbook.office import convert_many

    if shutil.which("pdfinfo") is None or shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdfinfo, pdftotext) is not installed: apt-get install poppler-utils")
    work = tmp_path_factory.mktemp("paper")
    books = {f"模板-{k}": templates[k].path for k in EDITIONS}
    proc = cli(["consolidate", str(INBOX_2026), "--units", str(REGISTER), "--name", COUNTY, "--strict",
                "-o", str(work / "汇总.xlsx")], work)
    assert proc.returncode in (0, 1) and (work / "汇总.xlsx").exists(), proc.stdout + proc.stderr
    books["汇总"] = work / "汇总.xlsx"
    proc = cli(["consolidate", str(INBOX_2025), "--name", COUNTY, "-o", str(work / "汇总2025.xlsx")], work)
    assert (work / "汇总2025.xlsx").exists(), proc.stdout + proc.stderr
    proc = cli(["audit", str(SAMPLES / "published"), str(INBOX_2025), str(work / "汇总2025.xlsx"),
                "--parent", str(work / "汇总2025.xlsx"), "--xlsx", str(work / "核查.xlsx")], work)
    assert (work / "核查.xlsx").exists(), proc.stdout + proc.stderr
    books["核查"] = work / "核查.xlsx"
    proc = cli(["compare", str(INBOX_2025), str(INBOX_2026), "-o", str(work / "对比.xlsx")], work)
    assert (work / "对比.xlsx").exists(), proc.stdout + proc.stderr
    books["对比"] = work / "对比.xlsx"
    copies: list[tuple[str, str, Path]] = []
    (work / "copies").mkdir()
    for name, path in books.items():
        for index, sheet in visible_sheets(path):
            copies.append((name, sheet, only_sheet(path, index, work / "copies" / f"{name}--{index}.xlsx")))
    pdfs = convert_many([c for _, _, c in copies], "pdf", work / "pdf", timeout=600)
    out: dict[str, dict[str, Printed]] = {}
    for (name, sheet, _), pdf in zip(copies, pdfs):
        out.setdefault(name, {})[sheet] = Printed(name, sheet, pdf, page_sizes(pdf))
    return out


def keep_png(p: Printed, page: int, name: str) -> Path:
    """A page as PNG in tests/output/ (small: 60 dpi), for a person to look at."""
    OUTPUT.mkdir(exist_ok=True)
    target = OUTPUT / name
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", str(page), "-l", str(page), "-singlefile", str(p.pdf),
                    str(target)], check=True)
    return target.with_suffix(".png")


def is_a4(p: Printed) -> bool:
    return all(sorted((round(w), round(h))) == list(A4) for w, h in p.pages)


# ------------------------------------------------------------------------------------------------
# Every sheet: A4, page numbers, the orientation its shape needs
# ------------------------------------------------------------------------------------------------

def test_every_sheet_of_every_workbook_prints_on_a4_with_page_numbers(printed: dict[str, dict[str, Printed]]) -> None:
    assert set(printed) == {"模板-2021", "模板-2019", "汇总", "核查", "对比"}
    for book, sheets in printed.items():
        for sheet, p in sheets.items():
            assert p.pages and is_a4(p), (book, sheet, p.pages)
            n = len(p.pages)
            assert f"第1页，共{n}页" in p.flat(1) and f"第{n}页，共{n}页" in p.flat(n), (book, sheet)


# ------------------------------------------------------------------------------------------------
# The template
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("edition", EDITIONS)
def test_template_sheets_each_print_on_one_page(printed: dict[str, dict[str, Printed]], edition: str) -> None:
    sheets = printed[f"模板-{edition}"]
    ed = load_edition(edition)
    assert sheets[ed.cover_sheet].portrait and len(sheets[ed.cover_sheet].pages) == 1
    for table in ed.tables:
        p = sheets[table.sheet]
        assert p.landscape and len(p.pages) == 1, (table.sheet, p.pages)
    # 说明: its rows for notes on one portrait page, not a second page of empty rows
    assert sheets["说明"].portrait and len(sheets["说明"].pages) == 1
    # the empty 校验结果: one landscape page with its whole header, not portrait slices of it
    results = sheets["校验结果"]
    assert results.landscape and len(results.pages) == 1
    assert all(h in results.flat() for h in ("严重程度", "规则", "位置", "填写值", "应为", "问题说明", "说明（保留提示的理由）"))


@pytest.mark.parametrize("edition", EDITIONS)
def test_template_part3_is_whole_on_its_page_and_no_label_is_cut(printed: dict[str, dict[str, Printed]], edition: str) -> None:
    ed = load_edition(edition)
    for table in ed.tables:
        p = printed[f"模板-{edition}"][table.sheet]
        labels = {label for block in table.blocks for line in (*block.rows, *block.columns) for label in line.path}
        labels |= {table.title, table.corner} - {""}
        labels |= {col.header for block in table.blocks for col in block.columns}
        missing = [label for label in labels if not p.whole(label)]
        assert not missing, (table.sheet, missing)
    part3 = printed[f"模板-{edition}"][ed.table("part3").sheet]
    assert "（七）总计" in part3.flat(1) and "四、结转下年度继续办理" in part3.flat(1)
    keep_png(part3, 1, f"paper-template-{edition}-part3")


# ------------------------------------------------------------------------------------------------
# The county summary
# ------------------------------------------------------------------------------------------------

def test_summary_speaks_chinese_not_command_line(printed: dict[str, dict[str, Printed]]) -> None:
    from addin.county.model import STATUS

    text = "".join(p.flat() for p in printed["汇总"].values())
    assert not re.search(r"--[a-z]", text), re.findall(r".{10}--[a-z]+.{10}", text)
    assert "汇总范围：全部单位" in text
    assert "有错误、按要求未汇总" in text and STATUS["strict"] == "有错误、按要求未汇总"


def test_summary_status_board_labels_whole_on_landscape_pages(printed: dict[str, dict[str, Printed]]) -> None:
    from addin.county.model import STATUS
    from addin.county.summary import BOARD_HEADER, chart_series

    board = printed["汇总"]["报送情况"]
    assert board.landscape and len(board.pages) <= 2, board.pages
    assert BOARD_HEADER[-1] == "文件 sha256" and BOARD_HEADER[-1] not in board.flat()
    text = board.flat()
    # the first column's labels (“已汇总单位中有错误的”, the statuses counted), the header of the
    # type table (“一、本年新收政府信息公开申请数量” in column C) and the list's header, all whole
    wanted = [*(label for key, label in STATUS.items() if key in ("summed", "missing", "duplicate", "unreadable", "strict")),
              "已汇总单位中有错误的", "提示（其中已说明）", *BOARD_HEADER[:-1]]  # the digest is not printed
    received, disposed = chart_series(load_edition("2021"))
    wanted += [label for label, _ in received + disposed]
    missing = [w for w in wanted if not board.whole(w)]
    assert not missing, missing
    # the header of C wraps in its own cell instead of running into D: its first line is
    # shorter than the whole label
    first_line = next(line for line in board.text(layout=True).splitlines() if "一、本年新收" in line)
    assert "一、本年新收政府信息公开申请数量" not in first_line.replace(" ", "")
    keep_png(board, 1, "paper-summary-board")


def test_summary_detail_prints_landscape_pages_with_names_and_headers(printed: dict[str, dict[str, Printed]]) -> None:
    from addin.county.summary import detail_columns

    detail = printed["汇总"]["明细"]
    assert detail.landscape
    # 13 units × 6 + 150 + 12 number columns: about a dozen landscape pages (it was ~30 portrait
    # slices), each with the unit names and the header rows
    assert len(detail.pages) <= 20, len(detail.pages)
    for page in range(1, len(detail.pages) + 1):
        text = detail.flat(page)
        assert "单位名称" in text and "青禾县教育局" in text, page
    # every Part 三 row label under which its six columns stand is printed whole on some page
    rows = {row for _, part, row, *_ in detail_columns(load_edition("2021")) if part.startswith("三")}
    missing = [r for r in rows if not detail.whole(r)]
    assert not missing, missing[:5]
    keep_png(detail, 2, "paper-summary-detail-page2")


def test_summary_results_and_chart(printed: dict[str, dict[str, Printed]]) -> None:
    results = printed["汇总"]["校验结果"]
    assert results.landscape
    assert all(h in results.flat(1) for h in ("严重程度", "问题说明", "单位名称", "统一社会信用代码", "转到"))
    for page in range(1, len(results.pages) + 1):  # the header row on every page
        assert "问题说明" in results.flat(page)
    assert printed["汇总"]["图表"].landscape and len(printed["汇总"]["图表"].pages) == 1
    keep_png(results, 1, "paper-summary-results")


# ------------------------------------------------------------------------------------------------
# The audit and the comparison
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("book", ["核查", "对比"])
def test_audit_and_comparison_sheets_are_landscape_with_whole_headers(printed: dict[str, dict[str, Printed]],
                                                                     book: str) -> None:
    sheets = printed[book]
    expected = {"核查": {"单位×规则", "问题清单", "未能录入", "上下级核对"},
                "对比": {"各单位", "变化", "跨年度核对", "考核比率", "行的变化"}}[book]
    assert set(sheets) == expected
    headers = {"单位×规则": ["单位", "年度", "版本", "文件", "结论", "未能录入"],
               "问题清单": ["单位", "文件", "级别", "规则", "位置", "问题", "说明"],
               "未能录入": ["单位", "文件", "位置", "内容", "原因"],
               "上下级核对": ["上级报告", "下级合计", "差额"],
               "变化": ["单位", "上年", "本年", "变化", "变化率"],
               "跨年度核对": ["单位", "规则", "位置", "按上年推算", "结论", "说明"],
               "考核比率": ["单位", "比率", "分母", "变化（百分点）"],
               "行的变化": ["单位", "变化", "行"], "各单位": ["单位"]}
    for sheet, p in sheets.items():
        assert p.landscape, (sheet, p.pages)
        for page in range(1, len(p.pages) + 1):
            missing = [h for h in headers[sheet] if h not in p.flat(page)]
            assert not missing, (sheet, page, missing)
    # the units' names are never cut (the first column is as wide as the longest)
    names = [line.split(",")[0] for line in REGISTER.read_text(encoding="utf-8-sig").splitlines()[1:] if line]
    changes = "".join(p.flat() for p in sheets.values())
    if book == "对比":
        assert all(n in changes for n in names if n and "跃龙" not in n), [n for n in names if n not in changes]
        assert len(sheets["变化"].pages) < 26  # 26 portrait slices before
    keep_png(sheets["问题清单" if book == "核查" else "变化"], 1, f"paper-{'audit' if book == '核查' else 'compare'}")
