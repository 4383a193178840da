"""Every layout a published report comes in, both editions: each number lands in its cell.

The reports are written by ``test_import_writers`` (labels typed as the notices print them); the
expected cell of every number is the writer's own statement, not the importer's spec index.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_import_writers import (Published, cell_per_line, expected_raw, html_page, numbers, sample, separated,
                                 tab_dump, write_docx)

from workbook.published import import_report, write_imported
from workbook.read import read_report

EDITIONS = [("2021", 2026), ("2019", 2020)]


def _check(path: Path, pub: Published) -> None:
    imported = import_report(path)
    rep = imported.report
    assert rep.edition_key == pub.edition
    assert rep.unit == pub.unit
    assert rep.year == pub.year
    assert imported.problems == [], [(n.where, n.found, n.detail) for n in imported.problems]
    want = numbers(pub)
    got = rep.numbers
    assert set(want) == set(got), set(want) ^ set(got)
    wrong = {cid: (got[cid], v) for cid, v in want.items() if abs(got[cid] - v) > 1e-9}
    assert not wrong, wrong
    for cid, text in pub.cells.items():
        assert rep.raw[cid] == expected_raw(text), cid
    for key, text in pub.texts.items():
        assert rep.texts[key] == text, key


@pytest.mark.parametrize("edition,year", EDITIONS)
def test_tab_dump_like_the_seed(tmp_path: Path, edition: str, year: int) -> None:
    pub = sample(edition=edition, year=year, seed=3)
    path = tmp_path / "年报.txt"
    path.write_text(tab_dump(pub), encoding="utf-8")
    _check(path, pub)


@pytest.mark.parametrize("edition,year", EDITIONS)
def test_one_cell_per_line(tmp_path: Path, edition: str, year: int) -> None:
    pub = sample(edition=edition, year=year, seed=4)
    path = tmp_path / "年报.txt"
    path.write_text(cell_per_line(pub), encoding="utf-8")
    _check(path, pub)


@pytest.mark.parametrize("edition,year", EDITIONS)
@pytest.mark.parametrize("sep", ["|", "\t"])
def test_rows_on_lines(tmp_path: Path, edition: str, year: int, sep: str) -> None:
    pub = sample(edition=edition, year=year, seed=5)
    path = tmp_path / "年报.txt"
    path.write_text(separated(pub, sep), encoding="utf-8")
    _check(path, pub)


@pytest.mark.parametrize("edition,year", EDITIONS)
def test_gbk_text_file(tmp_path: Path, edition: str, year: int) -> None:
    pub = sample(edition=edition, year=year, seed=6)
    path = tmp_path / "年报.txt"
    path.write_bytes(tab_dump(pub).replace("\n", "\r\n").encode("gb18030"))
    _check(path, pub)


@pytest.mark.parametrize("edition,year", EDITIONS)
@pytest.mark.parametrize("sloppy", [True, False])
def test_html_page_with_rowspan_colspan(tmp_path: Path, edition: str, year: int, sloppy: bool) -> None:
    pub = sample(edition=edition, year=year, seed=7)
    path = tmp_path / "年报.htm"
    path.write_bytes(html_page(pub, sloppy=sloppy, charset="gbk" if sloppy else "utf-8"))
    _check(path, pub)


@pytest.mark.parametrize("edition,year", EDITIONS)
def test_word_tables_with_merged_cells(tmp_path: Path, edition: str, year: int) -> None:
    pub = sample(edition=edition, year=year, seed=8)
    path = write_docx(pub, tmp_path / "年报.docx")
    _check(path, pub)


def test_html_footer_and_signoff_stay_out_of_the_text(tmp_path: Path) -> None:
    pub = sample()
    pub.texts["other"] = "本机关2026年度未收取信息处理费。\n青禾县市场监督管理局\n2027年1月20日"
    path = tmp_path / "年报.html"
    path.write_bytes(html_page(pub))
    rep = import_report(path).report
    assert rep.texts["other"] == "本机关2026年度未收取信息处理费。"
    assert "主办单位" not in rep.texts["other"]


def test_imported_workbook_reads_back_with_the_published_totals(tmp_path: Path) -> None:
    pub = sample(seed=9)
    pub.cells["part3.main.total.business"] = "9"  # a published total that does not add up
    path = tmp_path / "年报.txt"
    path.write_text(tab_dump(pub), encoding="utf-8")
    out = write_imported(import_report(path), tmp_path / "out" / "年报.xlsx")
    back = read_report(out)
    assert back.source == "published"
    assert back.numbers["part3.main.total.business"] == 9.0
    assert back.with_totals()["part3.main.total.business"] != 9.0
    assert path.read_text(encoding="utf-8") == tab_dump(pub)  # the input is untouched


def test_text_dump_follows_a_single_level_header_in_another_order(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A dump keeps the order of a one-row header: columns printed in another order are followed."""
    import test_import_writers as writers

    blocks = list(writers.P2["2019"])
    key, title, cols, rows = blocks[1]
    blocks[1] = (key, title, [cols[2], cols[0], cols[1]], rows)  # 处理决定数量 first
    monkeypatch.setitem(writers.P2, "2019", blocks)
    pub = sample(edition="2019", year=2020, seed=31)
    path = tmp_path / "年报.txt"
    path.write_text(tab_dump(pub), encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    assert text.index("\t处理决定数量") < text.index("\t上一年项目数量")
    _check(path, pub)


def test_page_laid_out_as_one_table_with_a_misleading_sub_heading(tmp_path: Path) -> None:
    """Everything in one big table (title, headings and text as one-cell rows), and part 一 holding
    a sub-heading “（二）主动公开政府信息情况” that must not start part 二."""
    from test_import_writers import GRIDS, HEADINGS, ORDER, html_table

    pub = sample(seed=40)
    pub.texts["overview"] = "2026年，本机关认真贯彻落实条例。\n（二）主动公开政府信息情况\n全年主动公开信息 120 条。"
    rows = [[(pub.title, 1, 10)]]
    for key in ORDER:
        rows.append([(HEADINGS[key], 1, 10)])
        rows += GRIDS[key](pub) if key in GRIDS else [[(t, 1, 10)] for t in pub.texts[key].split("\n")]
    path = tmp_path / "年报.html"
    path.write_text(f"<html><body>{html_table(rows)}</body></html>", encoding="utf-8")
    _check(path, pub)


@pytest.mark.parametrize("title,unit,year", [
    ("关于印发《青禾县教育局2021年政府信息公开工作年度报告》的通知", "青禾县教育局", 2021),
    ("青禾县教育局二〇二一年度政府信息公开工作年度报告", "青禾县教育局", 2021),
    ("2021年青禾县人民政府政府信息公开工作年度报告", "青禾县人民政府", 2021),
    ("青禾县桥头镇人民政府 2021 年政府信息公开\n工作年度报告", "青禾县桥头镇人民政府", 2021),
])
def test_unit_and_year_from_the_ways_titles_are_written(tmp_path: Path, title: str, unit: str, year: int) -> None:
    pub = sample(unit=unit, year=year, seed=41)
    path = tmp_path / "年报.txt"
    path.write_text(tab_dump(pub).replace(pub.title, title, 1), encoding="utf-8")
    rep = import_report(path).report
    assert (rep.unit, rep.year) == (unit, year)
