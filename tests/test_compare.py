"""``nianbao compare``: a unit's report against last year's — every change (largest first), rows
that appeared or vanished, R3.5 in all seven columns and R2.2, the rates offices are judged on —
as a sheet, HTML and JSON; and two folders at once as one table of units × changes."""

from __future__ import annotations

import html.parser
import json
import subprocess
from pathlib import Path
from typing import Callable

import openpyxl
import pytest
from test_import_writers import P3_COLUMNS, numbers, sample, tab_dump

from addin.county.compare import compare, load_report
from workbook.read import read_report

ROOT = Path(__file__).resolve().parents[1]
LAST = ROOT / "samples" / "青禾县-2025" / "收文"
THIS = ROOT / "samples" / "青禾县-2026" / "收文"
UNIT = "青禾县交通运输局.xlsx"  # carries the “stale_carry” mistake: 上年结转 one more than last year's 结转下年度
SEED_TXT = ROOT / "samples" / "published" / "宁海县交通运输局2020年政府信息公开工作年度报告.txt"


def _total(n: dict[str, float], row: str) -> float:
    """A Part 三 row's total, added up here from its six applicant columns."""
    return sum(n[f"part3.main.{row}.{c}"] for c in P3_COLUMNS[:-1])


def test_changes_largest_first_and_cross_year_rules() -> None:
    last, this = read_report(LAST / UNIT), read_report(THIS / UNIT)
    cmp = compare(last, this)
    a, b = last.with_totals(), this.with_totals()
    deltas = {cid: b[cid] - a[cid] for cid in b if cid in a and b[cid] != a[cid]}
    assert {c.cell for c in cmp.changes} == set(deltas)
    assert [abs(c.delta) for c in cmp.changes] == sorted((abs(v) for v in deltas.values()), reverse=True)
    assert cmp.unchanged == len(b) - len(deltas)
    carry = [k for k in cmp.checks if k.rule == "R3.5"]
    assert len(carry) == 7  # all seven columns, not only the failing ones
    for k, col in zip(carry, P3_COLUMNS):
        assert k.found == b[f"part3.main.carried.{col}"] and k.expected == a[f"part3.main.carry_next.{col}"]
        assert k.ok is (k.found == k.expected)
    assert [k.ok for k in carry].count(False) == 2  # 自然人 and 总计
    stock = [k for k in cmp.checks if k.rule == "R2.2"]
    assert len(stock) == 2
    for k, row in zip(stock, ("rules", "normative")):
        want = a[f"part2.a1.{row}.in_force"] + b[f"part2.a1.{row}.issued"] - b[f"part2.a1.{row}.repealed"]
        assert k.expected == want and k.ok is (k.found == want)
    assert {f.rule for f in cmp.findings} == {"R3.5"}


def test_rates_offices_are_judged_on() -> None:
    last, this = read_report(LAST / UNIT), read_report(THIS / UNIT)
    rates = {r.name: r for r in compare(last, this).rates}
    for rep, side in ((last, "last"), (this, "this")):
        n = rep.numbers
        done = sum(_total(n, r) for r in ("public", "partial", "withheld_secret", "withheld_law", "withheld_safety",
                                          "withheld_third_party", "withheld_internal", "withheld_process",
                                          "withheld_enforcement", "withheld_query", "unable_no_info",
                                          "unable_need_create", "unable_unclear", "rejected_petition", "rejected_repeat",
                                          "rejected_publication", "rejected_mass", "rejected_confirm",
                                          "other_no_correction", "other_no_fee", "other_other"))
        withheld = sum(_total(n, r) for r in ("withheld_secret", "withheld_law", "withheld_safety", "withheld_third_party",
                                              "withheld_internal", "withheld_process", "withheld_enforcement", "withheld_query"))
        assert getattr(rates["予以公开占比"], side) == pytest.approx(_total(n, "public") / done)
        assert getattr(rates["予以公开和部分公开占比"], side) == pytest.approx((_total(n, "public") + _total(n, "partial")) / done)
        assert getattr(rates["不予公开占比"], side) == pytest.approx(withheld / done)
        review = sum(n[f"part4.main.cases.review_{r}"] for r in ("upheld", "corrected", "other", "pending"))
        want = n["part4.main.cases.review_corrected"] / review if review else None
        assert getattr(rates["行政复议结果纠正占比"], side) == (pytest.approx(want) if want is not None else None)
        suits = sum(n[f"part4.main.cases.{g}_{r}"] for g in ("direct", "after")
                    for r in ("upheld", "corrected", "other", "pending"))
        corrected = n["part4.main.cases.direct_corrected"] + n["part4.main.cases.after_corrected"]
        got = getattr(rates["行政诉讼结果纠正占比"], side)
        assert got == (pytest.approx(corrected / suits) if suits else None)
    assert list(rates) == ["予以公开占比", "部分公开占比", "予以公开和部分公开占比", "不予公开占比",
                           "行政复议结果纠正占比", "行政诉讼结果纠正占比"]
    assert [r.base for r in rates.values()] == ["（七）总计（总计列）"] * 4 + ["行政复议总计", "行政诉讼总计"]
    share = rates["予以公开占比"]
    assert share.points == pytest.approx((share.this - share.last) * 100)


def test_published_seed_against_a_later_year_across_editions(tmp_path: Path) -> None:
    """Last year published as text in the 2019 edition, this year a 2021-edition web page."""
    pub = sample(unit="宁海县交通运输局", year=2021, seed=5)
    path = tmp_path / "2021.txt"
    path.write_text(tab_dump(pub), encoding="utf-8")
    last, this = load_report(SEED_TXT), load_report(path)
    cmp = compare(last, this)
    n_last, n_this = last.with_totals(), numbers(pub)
    carry = [k for k in cmp.checks if k.rule == "R3.5"]
    assert [k.ok for k in carry] == [n_this[f"part3.main.carried.{c}"] == n_last[f"part3.main.carry_next.{c}"]
                                     for c in P3_COLUMNS]
    assert all(k.ok is None for k in cmp.checks if k.rule == "R2.2")  # no 现行有效件数 in the 2019 tables
    assert "part2.a1.normative.in_force" in cmp.only_this and "part2.a9.procurement.amount" in cmp.only_last
    # 2019's single （六）其他处理 row became three items in 2021
    assert "part3.main.other.natural" in cmp.only_last and "part3.main.other_other.natural" in cmp.only_this


def test_different_units_are_not_compared_across_years() -> None:
    cmp = compare(read_report(LAST / "青禾县公安局.xlsx"), read_report(THIS / UNIT))
    assert any(f.rule == "P0.1" for f in cmp.findings)
    assert all(k.ok is None for k in cmp.checks)


class _Tables(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.cells.append(data.strip())


def test_compare_command_writes_sheet_html_and_json(tmp_path: Path,
                                                     cli: Callable[[list[str], Path], subprocess.CompletedProcess[str]]) -> None:
    proc = cli(["compare", str(LAST / UNIT), str(THIS / UNIT), "-o", str(tmp_path / "对比.xlsx"),
                "--html", str(tmp_path / "对比.html"), "--json"], tmp_path)
    assert proc.returncode == 1, proc.stderr  # R3.5 fails
    doc = json.loads(proc.stdout)
    assert doc["this"]["unit"] == "青禾县交通运输局" and doc["last"]["year"] == 2025
    assert len([c for c in doc["cross_year"] if c["rule"] == "R3.5"]) == 7
    assert [abs(c["change"]) for c in doc["changes"]] == sorted((abs(c["change"]) for c in doc["changes"]), reverse=True)
    wb = openpyxl.load_workbook(tmp_path / "对比.xlsx")
    assert {"变化", "跨年度核对", "考核比率", "行的变化"} <= set(wb.sheetnames)
    rows = list(wb["跨年度核对"].iter_rows(min_row=2, values_only=True))
    assert sum(1 for r in rows if r[1] == "R3.5" and r[5] == "不一致") == 2
    first = next(wb["变化"].iter_rows(min_row=2, values_only=True))
    assert abs(first[6]) == abs(doc["changes"][0]["change"])
    page = _Tables()
    page.feed((tmp_path / "对比.html").read_text(encoding="utf-8"))
    assert "跨年度核对" in page.cells and "考核比率" in page.cells and "不一致" in page.cells


def test_compare_two_folders_units_by_changes(tmp_path: Path,
                                             cli: Callable[[list[str], Path], subprocess.CompletedProcess[str]]) -> None:
    proc = cli(["compare", str(LAST), str(THIS), "--json", "-o", str(tmp_path / "各单位.xlsx")], tmp_path)
    assert proc.returncode == 2  # the damaged 附件1.xlsx is listed as not compared
    doc = json.loads(proc.stdout)
    assert len(doc["units"]) == 13 and doc["only_last"] == ["青禾县跃龙街道办事处"]
    skipped = {Path(s["path"]).name: s["why"] for s in doc["skipped"]}
    assert "附件1.xlsx" in skipped and "青禾县教育局（初稿）.xlsx" in skipped  # the old draft is not compared
    wb = openpyxl.load_workbook(tmp_path / "各单位.xlsx")
    table = list(wb["各单位"].iter_rows(values_only=True))
    assert table[0][0] == "单位" and len(table) == 1 + 13 + 1
    row = next(r for r in table if r[0] == "青禾县交通运输局")
    assert row[table[0].index("R3.5")] == "2 处不一致"
