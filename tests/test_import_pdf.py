"""Published reports as PDF files: the real one (洪泽区 2024, made by WPS), and PDFs made here by
LibreOffice from our own Word and web-page exports and from a Word file written by the tests —
both editions, and a table broken across a page. Each imports back to exactly the numbers it
was made from; the real one to the figures read by hand from its printed pages.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from test_import_writers import numbers, sample, write_docx

import addin.publish.doc as export_doc
from checks import validate_report
from workbook.build import write_report
from workbook.office import convert_many
from workbook.published import PublishedError, import_report, write_imported
from workbook.published.model import TCell, TRow
from workbook.published.pdf import mend_seam
from workbook.read import read_report
from workbook.samples import county_units, fake_report

ROOT = Path(__file__).resolve().parent
REAL = ROOT / "data" / "published" / "洪泽区人民政府2024年政府信息公开工作年度报告.pdf"
NO_OFFICE = "LibreOffice (soffice) is not installed: the PDFs of these tests are made with it (apt-get install libreoffice-writer-nogui)"

# The real report's figures, read by hand from the printed PDF (tests/data/published/README.md).
P3_NATURAL = {"new": 95, "carried": 0, "public": 50, "partial": 9, "withheld_safety": 1, "withheld_process": 1,
              "withheld_enforcement": 1, "unable_no_info": 31, "unable_need_create": 1, "rejected_petition": 1,
              "total": 95, "carry_next": 0}
P2 = {"part2.a1.rules.issued": 0, "part2.a1.rules.repealed": 0, "part2.a1.rules.in_force": 0,
      "part2.a1.normative.issued": 3, "part2.a1.normative.repealed": 0, "part2.a1.normative.in_force": 8,
      "part2.a5.licensing.decisions": 9487, "part2.a6.penalty.decisions": 2776, "part2.a6.coercion.decisions": 84,
      "part2.a8.fees.amount": 7545}
P4 = dict(zip([f"{g}_{r}" for g in ("review", "direct", "after") for r in ("upheld", "corrected", "other", "pending", "total")],
              [1, 1, 0, 0, 2, 1, 0, 0, 0, 1, 2, 0, 1, 0, 3]))


def _real_expected(rep) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Every cell of the 2021 edition as the printed report states it (only 自然人 and its 总计
    are non-zero in Part 三; （六）其他处理 printed as one row of 0, so its three items are 0)."""
    out: dict[str, float] = {c.id: 0.0 for c in rep.edition.cells}
    out.update({k: float(v) for k, v in P2.items()})
    for row, v in P3_NATURAL.items():
        out[f"part3.main.{row}.natural"] = out[f"part3.main.{row}.total"] = float(v)
    out.update({f"part4.main.cases.{k}": float(v) for k, v in P4.items()})
    return out


def test_the_real_pdf_imports_with_every_table_cell_right(tmp_path: Path) -> None:
    imported = import_report(REAL)
    rep = imported.report
    assert (rep.unit, rep.year, rep.edition_key) == ("淮安市洪泽区人民政府", 2024, "2021")
    assert imported.placed == imported.cells == 200 and rep.unknown == frozenset()
    assert imported.problems == [], [(n.kind, n.where, n.found, n.detail) for n in imported.problems]
    expected = _real_expected(rep)
    assert rep.numbers == expected
    # the published typo is matched to the nearest label of the spec, and the match is recorded
    typo = next(n for n in imported.notes if n.found == "2.其他法律行政止公开")
    assert "2.其他法律行政法规禁止公开" in typo.detail and "错别字" in typo.detail and typo.where.startswith("第 3 页")
    # （六）其他处理 printed as one row of 0: its three items are 0, and the import says so
    hybrid = next(n for n in imported.notes if n.kind == "hybrid")
    assert "（六）其他处理" in hybrid.found and "均为 0" in hybrid.detail
    # the text parts are the report's paragraphs, not its tables
    assert rep.texts["overview"].startswith("2024 年，淮安市洪泽区人民政府坚持")
    assert rep.texts["other"].endswith("全年收取政府信息公开信息处理费0元。")
    assert "个别部门对复杂申请件的研判能力不足" in rep.texts["problems"]
    findings = validate_report(rep)
    assert [f for f in findings if f.severity == "hard"] == []
    back = read_report(write_imported(imported, tmp_path / "洪泽区.xlsx"))
    assert back.numbers == expected and back.unknown == frozenset()


def test_the_real_pdf_validates_clean_from_the_command_line(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / REAL.name
    shutil.copyfile(REAL, src)
    before = src.read_bytes()
    proc = cli(["import", str(src), "-o", str(tmp_path / "录入")], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "表格单元格：录入 200 / 200" in proc.stdout and "全部录入" in proc.stdout
    assert "2.其他法律行政止公开" in proc.stdout  # the label match is listed among the normalisations
    out = tmp_path / "录入" / f"{REAL.stem}.xlsx"
    check = cli(["validate", str(out)], tmp_path)
    assert check.returncode == 0, check.stdout
    assert src.read_bytes() == before


def test_a_scan_without_a_text_layer_gets_a_chinese_reason(tmp_path: Path) -> None:
    """A page that is only a picture (what a scanner gives): refused with the reason, no OCR."""
    pdfium = pytest.importorskip("pypdfium2")
    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(595, 842)
    image = pdfium.PdfImage.new(pdf)
    bitmap = pdfium.PdfBitmap.new_native(200, 100, pdfium.raw.FPDFBitmap_BGR)
    bitmap.fill_rect((255, 255, 255, 255), 0, 0, 200, 100)
    image.set_bitmap(bitmap)
    image.set_matrix(pdfium.PdfMatrix().scale(400, 200).translate(50, 500))
    page.insert_obj(image)
    page.gen_content()
    path = tmp_path / "扫描件.pdf"
    pdf.save(str(path))
    with pytest.raises(PublishedError) as info:
        import_report(path)
    assert info.value.code == "scanned"
    assert "扫描件" in info.value.reason and "文字层" in info.value.reason and "网页或 Word" in info.value.reason


@pytest.mark.parametrize("data,code", [(b"%PDF-1.7\n%broken", "damaged"), (b"%PDF-1.4\n" + b"0" * 50, "damaged")])
def test_a_damaged_pdf_is_refused(tmp_path: Path, data: bytes, code: str) -> None:
    path = tmp_path / "坏.pdf"
    path.write_bytes(data)
    with pytest.raises(PublishedError) as info:
        import_report(path)
    assert info.value.code == code and not info.value.reason.isascii()


# --- PDFs made by LibreOffice --------------------------------------------------------------------

def _same(got: dict[str, float], want: dict[str, float]) -> dict[str, tuple[float, float]]:
    return {k: (got.get(k, float("nan")), v) for k, v in want.items() if not abs(got.get(k, float("nan")) - v) <= 1e-9}


@pytest.fixture(scope="module")
def lo_pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, float]]]:
    """PDFs of both editions, made by LibreOffice in one run: from our Word and web-page exports
    of generated workbooks, and from Word files the tests write (with filler text moving Part 三
    down the page, so that its table breaks across a page)."""
    if shutil.which("soffice") is None:
        pytest.skip(NO_OFFICE)
    tmp = tmp_path_factory.mktemp("pdf")
    sources: list[Path] = []
    expect: dict[str, dict[str, float]] = {}
    for year, unit, seed in ((2026, 3, 3), (2020, 5, 8)):
        report = fake_report(county_units()[unit], year, seed)
        book = write_report(report, tmp / f"源{year}.xlsx")
        want = read_report(book).with_totals()
        page, _ = export_doc.export_html(book, tmp / f"网页{year}.html")
        word = export_doc.export_docx(book, tmp / f"文档{year}.docx")
        for src in (page, word):
            sources.append(src)
            expect[src.stem] = want
    for edition, year in (("2021", 2026), ("2019", 2020)):
        for filler in range(0, 36, 3):
            pub = sample(edition=edition, year=year, seed=30 + filler)
            pub.texts["overview"] = "\n".join(["本机关认真贯彻落实条例，主动公开工作有序推进，依申请公开答复规范及时。"] * (4 + filler))
            name = f"写{edition}-{filler}"
            sources.append(write_docx(pub, tmp / f"{name}.docx", ruled=True))
            expect[name] = numbers(pub)
    pdfs = convert_many(sources, "pdf", tmp / "pdf", timeout=600)
    return {p.stem: (p, expect[p.stem]) for p in pdfs}


@pytest.mark.parametrize("name", ["网页2026", "文档2026", "网页2020", "文档2020"])
def test_pdfs_of_our_exports_import_to_the_numbers_they_came_from(lo_pdfs, name: str) -> None:  # type: ignore[no-untyped-def]
    path, want = lo_pdfs[name]
    imported = import_report(path)
    assert imported.problems == [], [(n.kind, n.where, n.found, n.detail) for n in imported.problems]
    assert imported.placed == imported.cells
    assert _same(imported.report.numbers, want) == {}
    assert imported.report.edition_key == ("2021" if name.endswith("2026") else "2019")


def _pages_of(path: Path) -> list[str]:
    proc = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return proc.stdout.split("\f")


def test_tables_broken_across_a_page_import_whole(lo_pdfs) -> None:  # type: ignore[no-untyped-def]
    """Written Word files with more and more text before the tables: Part 三's table (and Part
    二's) breaks across a page in several of them, at different rows; each imports whole."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is needed to see where the pages break")
    broken = 0
    for name, (path, want) in sorted(lo_pdfs.items()):
        if not name.startswith("写"):
            continue
        pages = _pages_of(path)
        squeezed = ["".join(p.split()) for p in pages]  # labels wrap in the narrow label column
        first = next(i for i, p in enumerate(squeezed) if "一、本年新收" in p)
        last = next(i for i, p in enumerate(squeezed) if "四、结转下年度" in p)
        broken += last > first
        imported = import_report(path)
        assert imported.problems == [], (name, [(n.kind, n.where, n.found, n.detail) for n in imported.problems])
        assert _same(imported.report.numbers, want) == {}, name
    assert broken >= 4, "the filler text must push Part 三's table across a page in several of the files"


def test_a_row_label_broken_at_the_page_end_is_joined() -> None:
    """“（四）无” at the bottom of a page, “法提供” at the top of the next (a merged label cell cut
    by the page break): joined, because the joined label is the spec's and the halves are not."""
    def row(where: str, *cells: tuple[int, str]) -> TRow:
        return TRow(tuple(TCell(t, where, c) for c, t in cells), where)

    rows = [row("第 3 页", (1, "（四）无"), (2, "1.本机关不掌握相关政府信息"), (3, "31")),
            row("第 4 页", (1, "法提供"), (2, "2.没有现成信息需要另行制作"), (3, "1"))]
    fixed = mend_seam(rows, 1)
    assert [c.text for c in fixed[0].cells][:2] == ["（四）无法提供", "1.本机关不掌握相关政府信息"]
    assert [c.text for c in fixed[1].cells][:2] == ["（四）无法提供", "2.没有现成信息需要另行制作"]
    # a row whose label is on one page and its numbers on the next becomes one row
    split = [row("第 3 页", (2, "5.要求行政机关确认或重新出具")), row("第 4 页", (2, "已获取信息"), (3, "0"), (4, "2"))]
    joined = mend_seam(split, 1)
    assert len(joined) == 1 and [c.text for c in joined[0].cells] == ["5.要求行政机关确认或重新出具已获取信息", "0", "2"]
    # two whole rows are left alone
    whole = [row("第 3 页", (1, "（三）不予公开"), (2, "8.属于行政查询事项"), (3, "0")),
             row("第 4 页", (1, "（四）无法提供"), (2, "1.本机关不掌握相关政府信息"), (3, "2"))]
    assert mend_seam(whole, 1) == whole


def test_a_pdf_far_longer_than_a_report_is_refused_unread(tmp_path: Path) -> None:
    """Pages are counted before any is read (a report has 3–15)."""
    pdfium = pytest.importorskip("pypdfium2")
    pdf = pdfium.PdfDocument.new()
    for _ in range(150):
        pdf.new_page(595, 842)
    path = tmp_path / "很长.pdf"
    pdf.save(str(path))
    with pytest.raises(PublishedError) as info:
        import_report(path)
    assert info.value.code == "too_large" and "150 页" in info.value.reason


@pytest.mark.parametrize("angle,rotate", [(90, 270), (-90, 90)])
def test_pages_stored_turned_and_shown_upright(lo_pdfs, tmp_path: Path, angle: int, rotate: int) -> None:  # type: ignore[no-untyped-def]
    """A page whose content is drawn turned and shown upright with /Rotate (as some printers and
    scanners' PDF tools store landscape pages): read as shown."""
    pdfium = pytest.importorskip("pypdfium2")
    path, want = lo_pdfs["文档2026"]
    src, dst = pdfium.PdfDocument(str(path)), pdfium.PdfDocument.new()
    for i in range(len(src)):
        w, h = src[i].get_size()
        content = src.page_as_xobject(i, dst).as_pageobject()
        content.set_matrix(pdfium.PdfMatrix().rotate(angle).translate(*((0, w) if angle == 90 else (h, 0))))
        page = dst.new_page(h, w)
        page.insert_obj(content)
        page.gen_content()
        page.set_rotation(rotate)
    turned = tmp_path / "转置.pdf"
    dst.save(str(turned))
    if shutil.which("pdftotext"):  # an independent reader shows it upright
        assert _pages_of(turned)[0].split()[0].startswith("青禾县")
    imported = import_report(turned)
    assert imported.problems == [] and _same(imported.report.numbers, want) == {}
