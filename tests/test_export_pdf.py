"""The PDF export, printed by the real LibreOffice and read back with poppler (pdfinfo, pdftotext,
pdftoppm): a county summary's three tables on A4 landscape pages, every row label and every summed
number on them, the table as wide as the page, two exports at once, and the refusal / notice for a
workbook with errors.

The summary is made here the way a consolidation makes one: the bundled county's 2026 unit
workbooks (minus the two with errors) are read with openpyxl — not with the project's reader —
and summed cell by cell, then written with ``write_report(source="summary", derived="value")``.
Every expected number is that test-side sum.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from addin.publish.data import ExportRefused
from addin.publish.pdf import export_pdf
from workbook.build import BuildOptions, write_report
from workbook.layout import layout_for
from workbook.report import Member, Report
from workbook.spec import load_edition

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "samples" / "青禾县-2026" / "收文"
SEED = ROOT / "samples" / "宁海县交通运输局2020年政府信息公开工作年度报告.xlsx"
WITH_ERRORS = {"青禾县公安局.xlsx", "青禾县西溪乡人民政府.xlsx"}
OUTPUT = Path(__file__).resolve().parent / "output"
A4_LONG, A4_SHORT = 841.89, 595.28


def number(value: Any) -> float:
    """A unit's cell as a number, as a person reads it: blank, “-” or “/” is 0, “０” is 0."""
    if value is None:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    try:
        return float(text)
    except ValueError:
        return 0.0


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    """A summary-like workbook of the bundled county and the sums it must show."""
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui fonts-noto-cjk")
    lay = layout_for("2021")
    sums = {c.id: 0.0 for c in lay.edition.cells}
    files = sorted(p for p in UNITS.glob("*.xlsx") if p.name not in WITH_ERRORS and not p.name.startswith("~$")
                   and p.name != "附件1.xlsx")
    assert len(files) == 11
    for path in files:
        wb = openpyxl.load_workbook(path, data_only=True, read_only=True)
        sheets = {name: [list(r) for r in wb[name].iter_rows(values_only=True)] for name in wb.sheetnames}
        wb.close()
        for cid in sums:
            r, c = lay.pos(cid)
            sums[cid] += number(sheets[lay.sheet_of(cid)][r][c])
    assert sums["part3.main.new.total"] > 0
    report = Report("2021", cover={"unit_name": "青禾县", "year": "2026"}, raw=dict(sums), source="summary",
                    scope="全县各单位合计", members=tuple(Member(p.stem, "") for p in files),
                    texts={"overview": "2026年，全县政务公开工作稳步推进。",
                           "problems": "一是部分单位公开不够及时；二是答复规范性有待提高。下一步加强培训和督促检查。",
                           "other": "本年度未收取信息处理费。"})
    path = tmp_path_factory.mktemp("summary") / "青禾县2026年汇总.xlsx"
    write_report(report, path, BuildOptions(derived="value"))
    return path, sums


@pytest.fixture(scope="module")
def summary_pdf(summary: tuple[Path, dict[str, float]]) -> Path:
    path, _ = summary
    return export_pdf(path, path.with_suffix(".pdf"))


def pdfinfo(pdf: Path) -> tuple[int, list[tuple[float, float]]]:
    out = subprocess.run(["pdfinfo", "-f", "1", "-l", "99", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]
    sizes = [(float(w), float(h)) for w, h in re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", out, re.M)]
    return pages, sizes


def page_text(pdf: Path, page: int, layout: bool) -> str:
    args = ["pdftotext", "-f", str(page), "-l", str(page), *(["-layout"] if layout else []), str(pdf), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def numeric_tokens(text: str) -> list[float]:
    """Every whitespace-separated token that is a number, page header and footer lines left out."""
    out = []
    for line in text.splitlines():
        if "页" in line or "年度报告" in line:
            continue
        out += [float(t) for t in line.split() if re.fullmatch(r"-?\d+(\.\d+)?", t)]
    return out


@pytest.mark.office
def test_pdf_is_one_a4_landscape_page_per_table(summary_pdf: Path) -> None:
    pages, sizes = pdfinfo(summary_pdf)
    assert pages == 3, "each of the three tables fits one landscape page at the page width"
    assert len(sizes) == 3
    for w, h in sizes:
        assert w == pytest.approx(A4_LONG, abs=1) and h == pytest.approx(A4_SHORT, abs=1)


@pytest.mark.office
def test_pdf_shows_every_row_label_and_the_summed_numbers(summary: tuple[Path, dict[str, float]], summary_pdf: Path) -> None:
    _, sums = summary
    ed = load_edition("2021")
    lay = layout_for("2021")
    for page, table in enumerate(ed.tables, start=1):
        flat = re.sub(r"\s+", "", page_text(summary_pdf, page, layout=False))
        assert table.title in flat
        assert "青禾县2026年政府信息公开工作年度报告" in flat, "the page header names the unit and year"
        assert f"第{page}页，共3页" in flat
        for block in table.blocks:
            if block.title:
                assert block.title in flat
            for row in block.rows:
                for label in row.path:
                    assert label in flat, f"row label {label!r} missing on page {page}"
            for col in block.columns:
                assert col.header in flat
        cells = sorted(lay.tables[table.key].cells.items(), key=lambda kv: kv[1])
        expected = [round(sums[cid], 4) for cid, _ in cells]
        found = numeric_tokens(page_text(summary_pdf, page, layout=True))
        assert found == pytest.approx(expected), f"numbers of {table.title} differ from the county sums"


def _pgm(path: Path) -> tuple[int, int, bytes]:
    data = path.read_bytes()
    magic, w, h, maxval, pixels = re.match(rb"(P5)\s+(\d+)\s+(\d+)\s+(\d+)\s(.*)", data, re.DOTALL).groups()  # type: ignore[union-attr]
    return int(w), int(h), pixels


@pytest.mark.office
def test_first_page_png_shows_the_table_fitted_to_the_width(summary_pdf: Path, tmp_path: Path) -> None:
    """Keep the first page as PNG (tests/output/) for a person to look at, and measure the table's
    width on a greyscale rendering: its outer vertical borders span most of the page width."""
    OUTPUT.mkdir(exist_ok=True)
    png = OUTPUT / "export-summary-page1"
    subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", str(summary_pdf), str(png)], check=True)
    assert png.with_suffix(".png").stat().st_size > 10_000
    gray = tmp_path / "page1"
    subprocess.run(["pdftoppm", "-gray", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(summary_pdf), str(gray)],
                   check=True)
    w, h, px = _pgm(gray.with_suffix(".pgm"))
    dark = [sum(1 for y in range(h) if px[y * w + x] < 128) for x in range(w)]
    borders = [x for x, n in enumerate(dark) if n > 0.25 * h]
    assert borders, "no table border found on the rendered page"
    assert (borders[-1] - borders[0]) / w > 0.85, "the table does not span the page width"


@pytest.mark.office
def test_two_pdf_exports_at_the_same_time_both_succeed(summary: tuple[Path, dict[str, float]], tmp_path: Path) -> None:
    path, _ = summary
    outs = [tmp_path / f"并发{i}.pdf" for i in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda out: export_pdf(path, out), outs))
    assert done == outs
    texts = [page_text(out, 2, layout=True) for out in outs]
    for out in outs:
        assert pdfinfo(out)[0] == 3
    assert texts[0] == texts[1] and "三、收到和处理政府信息公开申请情况" in texts[0]


@pytest.mark.office
def test_pdf_refuses_errors_unless_forced_and_then_says_so_on_page_one(tmp_path: Path) -> None:
    if shutil.which("soffice") is None:
        pytest.skip("LibreOffice (soffice) is not installed")
    out = tmp_path / "seed.pdf"
    with pytest.raises(ExportRefused) as refused:
        export_pdf(SEED, out)
    assert {f.rule for f in refused.value.hard} == {"R3.1", "R3.2", "R3.3", "R4.3"}
    assert not out.exists()
    export_pdf(SEED, out, force=True)
    first = re.sub(r"\s+", "", page_text(out, 1, layout=False))
    assert "4处未解决的错误" in first
    for rule in ("R3.1", "R3.2", "R3.3", "R4.3"):
        assert rule in first
    later = re.sub(r"\s+", "", page_text(out, 2, layout=False))
    assert "有4处未解决的错误" in later, "every page's header repeats the warning"
    # forced: the numbers are those the published report states, its wrong total included
    part3 = page_text(out, 2, layout=True)
    total_line = next(line for line in part3.splitlines() if "（七）总计" in line)
    assert numeric_tokens(total_line) == [1, 1, 0, 0, 0, 0, 1]


def test_missing_libreoffice_says_how_to_install(tmp_path: Path) -> None:
    """Run the real command with a PATH that has no soffice: exit 2 and an install hint. Runs
    whether or not LibreOffice is installed here (the PATH given hides it either way)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {**os.environ, "PATH": str(bin_dir), "COLUMNS": "250", "NO_COLOR": "1"}
    work = tmp_path / "w"
    work.mkdir()
    unit = work / "单位.xlsx"
    shutil.copyfile(UNITS / "青禾县交通运输局.xlsx", unit)
    proc = subprocess.run([sys.executable, "-c", "from addin.cli.app import main; main()", "export", str(unit), "--to", "pdf"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "LibreOffice" in proc.stderr and "apt-get install" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not unit.with_suffix(".pdf").exists()
