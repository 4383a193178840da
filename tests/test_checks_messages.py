"""Messages name cells with the spec's labels, filled in — never labels written into a message;
the template's cached live-check verdicts agree with the Python checks.

The expected messages below are written out in full, by hand: they pin what a clerk reads (the
labels of the printed table, the numbers of the report built here), so a change in how labels
are filled in shows up as a changed sentence, not as code agreeing with itself.
"""

from __future__ import annotations

import datetime
import random

import pytest
from test_checks_rules import _p, _review_to_zero, base_report, fill_totals, hits, previous_of

from addin.cli.rules import rules_markdown
from checks import validate_report
from workbook.livecheck import live_checks, live_rule_ids
from workbook.spec import EDITIONS, load_edition

PLACEHOLDERS_OF_LABELS = ("{left}", "{right}", "{last_year}", "{column_path}", "{year_field}", "{first_year}")


@pytest.mark.parametrize("edition", EDITIONS)
def test_no_message_repeats_a_printed_label(edition: str) -> None:
    """Every label of the tables, the cover and the text parts reaches a message through a
    placeholder. (Two-character labels such as 规章 and 总计 are also plain words.)"""
    ed = load_edition(edition)
    labels = {p for t in ed.tables for b in t.blocks for line in (*b.rows, *b.columns) for p in line.path}
    labels |= {t.label for t in ed.texts} | {f.label for f in ed.cover} | {t.title for t in ed.tables}
    for rule in ed.rules:
        assert not [x for x in labels if len(x) >= 3 and x in rule.message], (rule.id, rule.message)
        # a quoted number names its cells, not a description of them (the pattern is the clerk's prose);
        # its key is an identifier the draft paragraph uses to state the same cells' sum
        assert all(set(q) == {"key", "pattern", "cells"} and q["key"].isidentifier() and q["key"].isascii()
                   for q in rule.get("quotes", ())), rule.id


def test_table_rule_messages_name_the_compared_cells() -> None:
    report = base_report("2021")
    report.raw[_p("new.natural")] += 2
    n = report.raw
    [r31] = [f for f in hits(validate_report(report), "R3.1") if f.column == "自然人"]
    left = n[_p("new.natural")] + n[_p("carried.natural")]
    right = n[_p("total.natural")] + n[_p("carry_next.natural")]
    assert r31.message == f"自然人：一、本年新收 + 二、上年结转 = {left:g}，但（七）总计 + 四、结转下年度继续办理 = {right:g}"

    report = base_report("2021")
    report.raw["part4.main.cases.review_total"] = 9
    [r41] = hits(validate_report(report), "R4.1")
    items = sum(report.raw[f"part4.main.cases.review_{k}"] for k in ("upheld", "corrected", "other", "pending"))
    assert r41.message == f"行政复议 · 总计 填写为 9，但结果维持 + 结果纠正 + 其他结果 + 尚未审结 = {items:g}"

    report = base_report("2021")
    _review_to_zero(report)
    report.raw["part4.main.cases.after_upheld"] = 1
    report.raw["part4.main.cases.after_total"] = 2
    report.raw["part4.main.cases.after_other"] = 1
    [r45] = hits(validate_report(report), "R4.5")
    assert r45.message.startswith("复议后起诉 · 总计 为 2，但本年行政复议 · 总计 为 0；")

    report = base_report("2019")
    report.raw["part2.a1.normative.made"] = 11
    [r23] = hits(validate_report(report), "R2.3")
    assert r23.message == "规范性文件 · 本年新制作数量 填写为 11，大于对外公开总数量 10"


def test_cross_year_messages_name_last_years_cells() -> None:
    report = base_report("2021")
    prev = previous_of(report)
    prev.raw[_p("carry_next.natural")] = 7
    prev.raw["part2.a1.normative.in_force"] = 4
    findings = validate_report(report, prev)
    [r35] = hits(findings, "R3.5")
    assert r35.message == "二、上年结转政府信息公开申请数量 · 自然人 填写为 1，但上年报告的“四、结转下年度继续办理”为 7"
    [r22] = hits(findings, "R2.2")
    n = report.raw
    want = 4 + n["part2.a1.normative.issued"] - n["part2.a1.normative.repealed"]
    assert r22.message == (f"行政规范性文件 · 现行有效件数 填写为 {n['part2.a1.normative.in_force']:g}，"
                           f"但上年现行有效件数 + 本年制发件数 − 本年废止件数 = {want:g}")


def test_cover_and_text_messages_take_labels_and_years_from_the_spec() -> None:
    first = min(load_edition(k).first_year for k in EDITIONS)
    report = base_report("2021")
    report.cover["year"] = str(first - 1)
    [c04] = hits(validate_report(report), "C0.4")
    assert c04.message == f"报告年度“{first - 1}”不是有效年度（应为 {first} 至 {datetime.date.today().year} 之间的年份）"
    assert c04.row == "报告年度"

    report = base_report("2021")
    report.texts["other"] = "本机关无其他需要报告的事项。"
    [t61] = hits(validate_report(report), "T6.1")
    assert t61.message == ("行政事业性收费 · 本年收费金额（单位：万元） 为 1.5，"
                           "但“六、其他需要报告的事项”未说明收取信息处理费的情况")

    report = base_report("2021")
    review = report.raw["part4.main.cases.review_total"]
    report.texts["overview"] = report.texts["overview"].replace(f"行政复议{review:g}件", "行政复议9件")
    [r37] = hits(validate_report(report), "R3.7")
    assert r37.message == f"“一、总体情况”写“行政复议9件”，但表格中行政复议 · 总计为 {review:g}"

    report = base_report("2021")
    report.cover["year"] = "2020"
    [r02] = hits(validate_report(report), "R0.2")
    assert r02.message.startswith("报告年度 2020 应使用 2019 版")


def test_rule_documentation_fills_the_labels_that_never_vary() -> None:
    doc = {line.split(" | ")[0].strip("| "): line for line in rules_markdown().splitlines() if line.startswith("| ")}
    assert "一、本年新收 + 二、上年结转 = {found}，但（七）总计 + 四、结转下年度继续办理 = {expected}" in doc["R3.1"]
    assert "（七）总计 · {column} 填写为 {found}" in doc["R3.2"]
    assert "{row} · 总计 填写为 {found}" in doc["R3.3"]
    assert "“五、存在的主要问题及改进情况”{why}" in doc["T5.1"]
    assert f"应为 {min(load_edition(k).first_year for k in EDITIONS)} 至 {{expected}}" in doc["C0.4"]
    assert "“{part}”中写有“{found}”，与报告年度 {expected} 年不符" in doc["T0.1"]  # the part varies
    assert "错误（必须改正）" in doc["R3.1"] and "提示（核实或说明）" in doc["R3.5"]
    for line in doc.values():
        assert not any(p in line for p in PLACEHOLDERS_OF_LABELS), line


@pytest.mark.parametrize("edition", EDITIONS)
def test_cached_live_verdicts_agree_with_the_python_checks(edition: str) -> None:
    """The verdict the template stores with each live formula (what a viewer that does not
    recalculate shows) is the Python checks' verdict, on reports with random wrong numbers."""
    ed = load_edition(edition)
    live = live_rule_ids(edition)
    rng = random.Random(7)
    inputs = [c.id for c in ed.input_cells]
    derived = [c.id for c in ed.derived_cells]
    for _ in range(40):
        report = base_report(edition)
        fill_totals(ed, report.raw)
        for cell in rng.sample(inputs, 3) + rng.sample(derived, 1):
            report.raw[cell] = rng.choice([-2, 0, 1, 4, 2.5, 30])
        values = {k: float(v) for k, v in report.raw.items()}
        cached = {(c.rule.id, c.anchor) for c in live_checks(edition) if c.fails(values)}
        found = {(f.rule, f.cell) for f in validate_report(report) if f.rule in live}
        addresses = {(rule, _address(edition, anchor)) for rule, anchor in cached}
        assert addresses == found


def _address(edition: str, cid: str) -> str:
    from workbook.layout import a1, layout_for

    return a1(*layout_for(edition).pos(cid))
