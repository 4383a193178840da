"""Each normalisation the importer performs, on small texts written here, and each one shown.

Labels: half/full-width brackets, “、”/“，”, spaces and line breaks, traditional characters (as
mirror sites publish them), quote marks, numbering styles. Values: full-width digits and points,
units in cells (元 → 万元), a unit in the header, blanks, “-”, “/”, “无”. The edition told from the
labels and checked against the year. Every normalisation appears in the import log.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_import_writers import numbers, sample, tab_dump

from checks import validate_report
from workbook.published import import_report
from workbook.published.normalise import T2S, fold, label_variants, simplify
from workbook.spec import EDITIONS, load_edition

# A simplified → traditional table for the test (the opposite direction of the importer's own),
# as a mirror site's character conversion produces it, “資訊” for 信息 included.
TRADITIONAL = {"信息": "資訊", "开": "開", "请": "請", "处": "處", "数": "數", "总": "總", "计": "計", "复": "複",
               "议": "議", "诉": "訴", "讼": "訟", "结": "結", "转": "轉", "况": "況", "规": "規", "范": "範", "许": "許",
               "罚": "罰", "强": "強", "费": "費", "业": "業", "机": "機", "构": "構", "会": "會", "组": "組", "织": "織",
               "务": "務", "办": "辦", "关": "關", "国": "國", "护": "護", "权": "權", "类": "類", "内": "內", "过": "過",
               "执": "執", "询": "詢", "项": "項", "无": "無", "现": "現", "没": "沒", "补": "補", "后": "後", "确": "確",
               "访": "訪", "举": "舉", "报": "報", "认": "認", "获": "獲", "维": "維", "纠": "糾", "审": "審", "经": "經",
               "续": "續", "继": "繼", "县": "縣", "场": "場", "监": "監", "废": "廢", "发": "發", "单": "單", "万": "萬",
               "缴": "繳", "纳": "納", "稳": "穩", "问": "問", "题": "題", "进": "進", "体": "體", "动": "動", "条": "條",
               "属": "屬", "于": "於", "当": "當", "复议": "複議", "反复": "反覆", "制发": "製發", "制作": "製作"}


def _write(tmp_path: Path, text: str, name: str = "年报.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _same_numbers(imported, pub) -> None:  # type: ignore[no-untyped-def]
    got, want = imported.report.numbers, numbers(pub)
    assert {k: (got[k], v) for k, v in want.items() if abs(got[k] - v) > 1e-9} == {}


def _kinds(imported) -> set[str]:  # type: ignore[no-untyped-def]
    return {n.kind for n in imported.notes}


def test_traditional_characters_from_a_mirror_site(tmp_path: Path) -> None:
    pub = sample(seed=11)
    text = tab_dump(pub)
    for simp, trad in sorted(TRADITIONAL.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(simp, trad)
    text = text.replace("“", "「").replace("”", "」")
    imported = import_report(_write(tmp_path, text))
    assert imported.report.unit == "青禾县市场监督管理局"  # the name is given in simplified characters
    assert imported.problems == []
    _same_numbers(imported, pub)
    labels = [n for n in imported.notes if n.kind == "label"]
    assert any(n.found == "本年製發件數" and "繁体字" in n.detail for n in labels)
    assert any("三安全一穩定" in n.found and "引号" in n.detail for n in labels)


@pytest.mark.parametrize("edition,year", [("2021", 2026), ("2019", 2020)])
def test_half_width_brackets_commas_spaces_and_numbering(tmp_path: Path, edition: str, year: int) -> None:
    pub = sample(edition=edition, year=year, seed=12)
    text = tab_dump(pub)
    text = text.replace("（一）予以公开", "(一) 予以公开").replace("（三）不予公开", "(三)不予公开")
    text = text.replace("1.属于国家秘密", "1、属于国家秘密").replace("2.重复申请", "（2）重复申请")
    text = text.replace("逾期不补正、行政机关", "逾期不补正，行政机关")
    text = text.replace("\t规章", "\t规 章").replace("\t行政处罚", "\t行政\n处罚")
    text = text.replace("“三安全一稳定”", '"三安全一稳定"')
    imported = import_report(_write(tmp_path, text))
    assert imported.problems == []
    _same_numbers(imported, pub)
    found = {n.found: n.detail for n in imported.notes if n.kind == "label"}
    assert "半角/全角括号" in found["(一) 予以公开"]
    assert "空格或换行" in found["规 章"]
    assert "序号写法" in found["1、属于国家秘密"]
    if edition == "2021":
        key = next(k for k in found if "逾期不补正，" in k)
        assert "“、”与“，”" in found[key]


def test_values_full_width_units_blanks_and_placeholders(tmp_path: Path) -> None:
    pub = sample(edition="2019", year=2020, seed=13)
    pub.cells["part3.main.new.natural"] = "１２"
    pub.cells["part2.a9.procurement.amount"] = "1．2678万元"
    pub.cells["part2.a5.licensing.decisions"] = "107件"
    pub.cells["part3.main.withheld_secret.business"] = "-"
    pub.cells["part3.main.withheld_law.business"] = "/"
    pub.cells["part3.main.withheld_safety.business"] = "无"
    pub.cells["part3.main.withheld_query.natural"] = " "
    imported = import_report(_write(tmp_path, tab_dump(pub)))
    rep = imported.report
    n = rep.numbers
    # numbers are stored as numbers (a spreadsheet adds them up); the published writing is kept
    assert n["part3.main.new.natural"] == 12.0 and rep.raw["part3.main.new.natural"] == 12
    assert rep.published["part3.main.new.natural"] == "１２"
    assert rep.raw["part2.a9.procurement.amount"] == pytest.approx(1.2678)
    assert rep.published["part2.a9.procurement.amount"] == "1．2678万元"
    assert n["part2.a9.procurement.amount"] == pytest.approx(1.2678)
    assert n["part2.a5.licensing.decisions"] == 107.0
    for row in ("withheld_secret", "withheld_law", "withheld_safety"):
        assert n[f"part3.main.{row}.business"] == 0.0
    assert n["part3.main.withheld_query.natural"] == 0.0
    notes = {n.found: n for n in imported.notes if n.kind == "value"}
    assert "全角字符" in notes["１２"].detail and notes["１２"].cell == "part3.main.new.natural"
    assert "读作 1.2678" in notes["1．2678万元"].detail
    assert {"-", "/", "无"} <= set(notes)
    assert all("按 0 计" in notes[x].detail for x in ("-", "/", "无"))
    assert any(n.kind == "blank" and "8.属于行政查询事项" in n.found for n in imported.notes)
    rules = {f.rule for f in validate_report(rep)}
    assert {"R0.1", "R0.3", "R0.4"} <= rules  # what was normalised stays visible to the checks


def test_money_in_yuan_in_the_cell_and_in_the_header(tmp_path: Path) -> None:
    pub = sample(edition="2019", year=2020, seed=14)
    pub.cells["part2.a9.procurement.amount"] = "251000元"
    imported = import_report(_write(tmp_path, tab_dump(pub)))
    assert imported.report.numbers["part2.a9.procurement.amount"] == pytest.approx(25.1)
    pub.cells["part2.a9.procurement.amount"] = "6944.93"
    text = tab_dump(pub).replace("\t采购总金额\n", "\t采购总金额（元）\n")
    imported = import_report(_write(tmp_path, text, "元.txt"))
    assert imported.report.numbers["part2.a9.procurement.amount"] == pytest.approx(0.694493)
    note = next(n for n in imported.notes if n.cell == "part2.a9.procurement.amount")
    assert "表头单位为“元”" in note.detail


def test_edition_from_labels_and_checked_against_the_year(tmp_path: Path) -> None:
    pub = sample(edition="2019", year=2022, seed=15)  # a 2022 report on the old tables (mistake 1)
    imported = import_report(_write(tmp_path, tab_dump(pub)))
    assert imported.report.edition_key == "2019"
    assert any(n.kind == "edition" and n.problem and "2022" in n.detail for n in imported.notes)
    assert "R0.2" in {f.rule for f in validate_report(imported.report)}
    _same_numbers(imported, pub)
    told = next(n for n in imported.notes if n.kind == "edition" and not n.problem)
    assert "本年新制作数量" in told.found or "政府集中采购" in told.found


def test_edition_falls_back_to_the_year_when_part_two_is_missing(tmp_path: Path) -> None:
    pub = sample(edition="2019", year=2020, seed=16)
    text = tab_dump(pub, skip=("part2",))
    # Part 三's （六）其他处理 has no sub-items in 2019: nothing else tells the editions apart.
    imported = import_report(_write(tmp_path, text))
    assert imported.report.edition_key == "2019"
    assert any(n.kind == "edition" and "按报告年度" in n.detail for n in imported.notes)


def test_year_from_the_statistical_period_when_the_title_has_none(tmp_path: Path) -> None:
    pub = sample(seed=17)
    text = tab_dump(pub).replace(pub.title, "青禾县市场监督管理局政府信息公开工作年度报告", 1)
    imported = import_report(_write(tmp_path, text, "年度报告.txt"))
    assert imported.report.year == 2026
    assert any("统计日期" in n.detail for n in imported.notes)


def test_the_traditional_table_never_touches_a_label_of_the_spec() -> None:
    """Every character the importer maps is absent from the spec's labels (generated check)."""
    chars: set[str] = set()
    for key in EDITIONS:
        ed = load_edition(key)
        for t in ed.tables:
            chars |= set(t.title + t.corner)
            for b in t.blocks:
                chars |= set(b.title or "")
                for line in (*b.rows, *b.columns):
                    chars |= set("".join(line.path) + line.header)
        chars |= set("".join(x.label for x in ed.texts))
    assert not {chr(k) for k in T2S} & chars
    for ch in chars:
        assert simplify(ch) == ch


def test_label_folding() -> None:
    assert fold("（一）予以公开") == fold("(一)予以公开") == fold("（一） 予以 公开")
    assert label_variants("（三）不予公开")[0] == label_variants("3.不予公开")[0]
    assert label_variants("（二）部分公开（区分处理的，只计这一情形，不计其他情形）")[1] == label_variants("（二）部分公开")[1]
    assert fold("1．2678") == "1.2678"


def test_full_width_placeholders_keep_the_row_and_are_reported(tmp_path: Path) -> None:
    """A full-width dash “－” or slash “／” is a placeholder like “-”: the row keeps its shape, the
    cell is stored as written and reported (R0.3) — never read as a label, never silently 0."""
    from workbook.values import Status

    pub = sample(seed=18)
    want = numbers(pub)
    pub.cells["part3.main.withheld_law.legal"] = "－"
    pub.cells["part3.main.rejected_repeat.business"] = "／"
    imported = import_report(_write(tmp_path, tab_dump(pub)))
    assert imported.problems == []
    rep = imported.report
    assert rep.raw["part3.main.withheld_law.legal"] == "－"
    assert rep.statuses["part3.main.withheld_law.legal"] == Status.PLACEHOLDER
    flagged = {f.found for f in validate_report(rep) if f.rule == "R0.3"}
    assert {"－", "／"} <= flagged
    others = {k: v for k, v in want.items() if k not in ("part3.main.withheld_law.legal",
                                                            "part3.main.rejected_repeat.business")}
    assert {k: rep.numbers[k] for k in others} == others
