"""What the importer must report instead of inventing: a missing table, a table published only as
a picture (or noted as left out), a row that is not in the official table, a row with the wrong
number of values, and files it cannot read."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_import_writers import P3_COLUMNS, html_page, numbers, sample, tab_dump, write_docx

from checks import validate_report
from workbook.published import PublishedError, import_report, write_imported
from workbook.read import read_report


def _write(tmp_path: Path, text: str, name: str = "年报.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _line_of(path: Path, note_where: str) -> str:
    return path.read_text(encoding="utf-8").splitlines()[int(note_where.strip("第 行")) - 1]


def _untouched(rep, table: str) -> None:  # type: ignore[no-untyped-def]
    cells = [c.id for c in rep.edition.cells if c.table == table]
    assert all(rep.raw.get(c) is None for c in cells), "a table that was not published must stay empty"


def test_table_published_as_an_image_in_html(tmp_path: Path) -> None:
    pub = sample(seed=20)
    path = tmp_path / "年报.html"
    path.write_bytes(html_page(pub, images={"part3": "/u/cms/2027/01/table3.png"}))
    imported = import_report(path)
    image = [n for n in imported.problems if n.kind == "image"]
    assert len(image) == 1 and "table3.png" in image[0].found and "三、收到和处理政府信息公开申请情况" in image[0].detail
    _untouched(imported.report, "part3")
    other = {k: v for k, v in numbers(pub).items() if not k.startswith("part3")}
    assert {k: imported.report.numbers[k] for k in other} == other  # the other tables are still read


def test_table_noted_as_left_out_in_text(tmp_path: Path) -> None:
    pub = sample(seed=21)
    text = tab_dump(pub, skip=("part4",)).replace("四、政府信息公开行政复议、行政诉讼情况\n",
                                                 "四、政府信息公开行政复议、行政诉讼情况\n（表格略）\n")
    path = _write(tmp_path, text)
    imported = import_report(path)
    image = next(n for n in imported.problems if n.kind == "image")
    assert _line_of(path, image.where) == "（表格略）"
    _untouched(imported.report, "part4")


def test_table_published_as_a_picture_in_word(tmp_path: Path) -> None:
    pub = sample(edition="2019", year=2020, seed=22)
    imported = import_report(write_docx(pub, tmp_path / "年报.docx", picture="part2"))
    assert [n.kind for n in imported.problems] == ["image"]
    assert imported.problems[0].where.endswith("段")
    _untouched(imported.report, "part2")
    # no Part 二 labels: the edition comes from the year, and says so
    assert imported.report.edition_key == "2019"


def test_missing_table_with_and_without_its_heading(tmp_path: Path) -> None:
    pub = sample(seed=23)
    text = tab_dump(pub, skip=("part4",))
    imported = import_report(_write(tmp_path, text))
    note = next(n for n in imported.problems if n.kind == "missing")
    assert "有标题" in note.detail and note.found == "四、政府信息公开行政复议、行政诉讼情况"
    _untouched(imported.report, "part4")
    bare = text.replace("四、政府信息公开行政复议、行政诉讼情况\n", "")
    imported = import_report(_write(tmp_path, bare, "无标题.txt"))
    note = next(n for n in imported.problems if n.kind == "missing")
    assert "找不到这张表格" in note.detail
    out = read_report(write_imported(imported, tmp_path / "无标题.xlsx"))
    assert all(out.raw[c.id] is None for c in out.edition.cells if c.table == "part4")


def test_a_row_that_is_not_in_the_official_table(tmp_path: Path) -> None:
    pub = sample(seed=24)
    extra = "\t（八）其他情形\n" + "".join(f"\t{v}\n" for v in (1, 0, 0, 0, 0, 0, 1)) + "\n"
    text = tab_dump(pub).replace("\t四、结转下年度继续办理\n", extra + "\t四、结转下年度继续办理\n")
    path = _write(tmp_path, text)
    imported = import_report(path)
    assert [n.kind for n in imported.problems] == ["unplaced"]
    note = imported.problems[0]
    assert _line_of(path, note.where) == "\t（八）其他情形" and "7 个数字未录入" in note.detail
    assert imported.report.numbers == {**imported.report.numbers, **numbers(pub)}


def test_a_row_with_a_value_missing_is_not_guessed(tmp_path: Path) -> None:
    pub = sample(seed=25)
    lines = tab_dump(pub).split("\n")
    at = lines.index("\t二、上年结转政府信息公开申请数量")
    del lines[at + 3]
    path = _write(tmp_path, "\n".join(lines))
    imported = import_report(path)
    assert [n.kind for n in imported.problems] == ["count"]
    assert "本行有 6 个数，表格应有 7 列" in imported.problems[0].detail
    assert _line_of(path, imported.problems[0].where) == "\t二、上年结转政府信息公开申请数量"
    assert all(imported.report.raw.get(f"part3.main.carried.{c}") is None
               for c in ("natural", "business", "research", "nonprofit", "legal", "other_org", "total"))


def _one_other_row(pub, values: tuple[int, ...]) -> str:  # type: ignore[no-untyped-def]
    text = tab_dump(pub)
    start, end = text.index("\t（六）其他处理\n"), text.index("\t（七）总计\n")
    row = "\t（六）其他处理\n" + "".join(f"\t{v}\n" for v in values) + "\n"
    return text[:start] + row + text[end:]


OTHER_ITEMS = ("other_no_correction", "other_no_fee", "other_other")


def test_a_2021_report_with_an_old_single_other_row_of_zeros(tmp_path: Path) -> None:
    """2021's （六）其他处理 has three items; printed as one row of 0 (the 2019 layout), every
    item is 0 — counts are never negative — and the import says what it did."""
    pub = sample(seed=26)
    for item in OTHER_ITEMS:
        for col in ("natural", "business", "research", "nonprofit", "legal", "other_org", "total"):
            pub.cells[f"part3.main.{item}.{col}"] = "0"
    imported = import_report(_write(tmp_path, _one_other_row(pub, (0, 0, 0, 0, 0, 0, 0))))
    assert imported.problems == [], [(n.kind, n.detail) for n in imported.problems]
    rep = imported.report
    assert all(rep.raw[f"part3.main.{item}.{col}"] == 0 for item in OTHER_ITEMS
               for col in ("natural", "business", "research", "nonprofit", "legal", "other_org", "total"))
    assert rep.unknown == frozenset()
    note = next(n for n in imported.notes if n.kind == "hybrid")
    assert "（六）其他处理" in note.found and "均为 0" in note.detail and "3.其他" in note.detail


def test_a_2021_report_with_an_old_single_other_row_with_numbers(tmp_path: Path) -> None:
    """Not 0: the split among the three items is not known. Those cells stay empty, are listed as
    not imported, and the checks say which rules could not be checked instead of guessing."""
    pub = sample(seed=26)
    sums = [sum(int(pub.cells[f"part3.main.{item}.{col}"]) for item in OTHER_ITEMS) for col in P3_COLUMNS]
    assert 0 in sums and any(sums), "the sample must have both kinds of column"
    imported = import_report(_write(tmp_path, _one_other_row(pub, tuple(sums))))
    hybrid = [n for n in imported.problems if n.kind == "hybrid"]
    assert len(hybrid) == 1 and "无法拆分" in hybrid[0].detail
    rep = imported.report
    split = {col for col, v in zip(P3_COLUMNS, sums) if v}
    assert rep.unknown == {f"part3.main.{item}.{col}" for item in OTHER_ITEMS for col in split}
    assert all(rep.raw[f"part3.main.{item}.{col}"] == 0 for item in OTHER_ITEMS for col, v in zip(P3_COLUMNS, sums) if not v)
    findings = validate_report(rep)
    assert not [f for f in findings if f.severity == "hard"], [f.message for f in findings if f.severity == "hard"]
    unknown = [f for f in findings if f.rule == "R0.5"]
    assert len(unknown) == 1 and f"{3 * len(split)} 个单元格未能录入" in unknown[0].message and "R3.2" in unknown[0].message


@pytest.mark.parametrize("name,data,code", [
    ("年报.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "damaged"),  # LibreOffice cannot open it
    ("年报.pdf", b"%PDF-1.4", "damaged"),
    ("年报.txt", b"", "empty"),
    ("年报.docx", b"PK\x03\x04 not really", "damaged"),
    ("年报.txt", "随便一段文字，和年报无关。".encode(), "not_report"),
    ("年报.xyz", b"hello", "unsupported"),
])
def test_unreadable_files_say_why(tmp_path: Path, name: str, data: bytes, code: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(PublishedError) as info:
        import_report(path)
    assert info.value.code == code
    assert info.value.reason and not info.value.reason.isascii()


def test_tables_without_their_headings_are_still_placed_by_label(tmp_path: Path) -> None:
    from test_import_writers import HEADINGS

    pub = sample(seed=50)
    text = tab_dump(pub)
    for heading in HEADINGS.values():
        text = text.replace(heading + "\n", "")
    imported = import_report(_write(tmp_path, text))
    assert imported.report.numbers == {**imported.report.numbers, **numbers(pub)}
    assert [n.found for n in imported.problems] == ["一、总体情况", "五、存在的主要问题及改进情况", "六、其他需要报告的事项"]
    assert any(n.kind == "header" and "不在其标题之下" in n.detail for n in imported.notes)


def test_a_small_table_inside_part_one_never_overwrites_the_tables(tmp_path: Path) -> None:
    pub = sample(seed=51)
    first = pub.texts["overview"].split("\n")[0]
    text = tab_dump(pub).replace(first + "\n", first + "\n\t行政许可\n\t999\n\n")
    imported = import_report(_write(tmp_path, text))
    assert imported.problems == []
    assert imported.report.numbers["part2.a5.licensing.decisions"] == numbers(pub)["part2.a5.licensing.decisions"]
