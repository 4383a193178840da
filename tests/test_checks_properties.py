"""Property tests: consistent reports are clean; any single wrong input is caught and named.

The strategy below builds internally consistent reports of either edition from random inputs: the
totals are computed here by walking ``cell.items``, the R3.1 balance holds because 四、结转 is
chosen as 一 + 二 − Σ outcomes ≥ 0, 2019's R2.3 holds, 规章 is 0 unless the unit may make 规章,
the cover is valid (credit code check digit computed here) and the texts quote the tables right.

Stored totals are kept as they were when an input is changed (derived="value" semantics: the
totals live in ``report.raw``), exactly like a published report whose totals do not add up.
"""

from __future__ import annotations

import datetime
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import validate_report, validate_reports
from checks.findings import Finding
from workbook.build import BuildOptions, write_report
from workbook.read import read_report
from workbook.report import Report
from workbook.spec import EDITIONS, Cell, Edition, load_edition

CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
RULE_MAKERS = "其他"  # the only unit type of the cover's list that may have 规章
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILES = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_char(body: str) -> str:
    """GB 32100-2015 check character (weights 3^i mod 31), computed independently here."""
    total = sum(CREDIT_CHARS.index(ch) * pow(3, i, 31) for i, ch in enumerate(body))
    return CREDIT_CHARS[(31 - total % 31) % 31]


def walk(ed: Edition, cid: str, raw: dict[str, Any]) -> float:
    cell = ed.cell(cid)
    return raw[cid] if cell.role == "input" else sum(walk(ed, i, raw) for i in cell.items)


def key(*parts: str) -> str:
    return ".".join(parts)


@st.composite
def consistent_report(draw: st.DrawFn, edition: str) -> Report:
    ed = load_edition(edition)
    year = draw(st.integers(ed.first_year, min(ed.last_year, datetime.date.today().year)))
    choices = next(f.choices for f in ed.cover if f.key == "unit_type")
    unit_type = draw(st.sampled_from(choices))
    raw: dict[str, Any] = {}
    p3 = ed.table("part3").blocks[0]
    outcome_rows = [r.key for r in p3.rows if r.key not in {"new", "carried", "total", "carry_next"}]
    for col in p3.columns:
        if ed.cell(key("part3", "main", "new", col.key)).role != "input":
            continue
        outcomes = draw(st.lists(st.integers(0, 12), min_size=len(outcome_rows), max_size=len(outcome_rows)))
        carried = draw(st.integers(0, 10))
        handled = sum(outcomes)
        new = draw(st.integers(max(handled - carried, 0), max(handled - carried, 0) + 15))
        for row, v in zip(outcome_rows, outcomes):
            raw[key("part3", "main", row, col.key)] = v
        raw[key("part3", "main", "new", col.key)] = new
        raw[key("part3", "main", "carried", col.key)] = carried
        raw[key("part3", "main", "carry_next", col.key)] = new + carried - handled  # R3.1, ≥ 0
    p4 = [c for c in ed.input_cells if c.table == "part4"]
    for c in p4:
        raw[c.id] = draw(st.integers(0, 4))
    review = [c.id for c in p4 if c.col.startswith("review_")]
    after = [c.id for c in p4 if c.col.startswith("after_")]
    if sum(raw[c] for c in after) > 0 and sum(raw[c] for c in review) == 0:
        raw[review[0]] = 1  # R4.5: a suit after review implies a review
    for c in ed.input_cells:
        if c.table != "part2":
            continue
        if c.row == "rules" and unit_type != RULE_MAKERS:
            raw[c.id] = 0  # R2.4
        elif c.kind == "count":
            raw[c.id] = draw(st.integers(0, 5000))
        elif c.kind == "signed":
            raw[c.id] = draw(st.integers(-500, 500))
        else:
            raw[c.id] = draw(st.integers(0, 10**7)) / 10**4  # 万元 with four decimals
    a1 = [c.key for c in ed.table("part2").block("a1").columns]
    if "total" in a1:  # 2019 R2.3: made, published ≤ total
        for row in ("rules", "normative"):
            total = raw[key("part2", "a1", row, "total")]
            for col in ("made", "published"):
                raw[key("part2", "a1", row, col)] = min(raw[key("part2", "a1", row, col)], total)
    for cell in ed.derived_cells:
        raw[cell.id] = walk(ed, cell.id, raw)
    body = "11" + draw(st.text(alphabet=CREDIT_CHARS, min_size=15, max_size=15))
    region = draw(st.from_regex(r"[1-8][0-9]{5}", fullmatch=True))
    n = {c: raw[key("part4", "main", "cases", c)] for c in ("review_total", "direct_total", "after_total")}
    quote = draw(st.booleans())
    overview = f"{year}年，本机关认真落实政府信息公开条例。"
    if quote:
        overview += (f"全年共收到政府信息公开申请{raw['part3.main.new.total']}件，办结{raw['part3.main.total.total']}件；"
                     f"行政复议{n['review_total']}件，行政诉讼{n['direct_total'] + n['after_total']}件。")
    texts = {"overview": overview,
             "problems": "一是主动公开的及时性有待提高；二是依申请公开答复的规范性还需加强。下一步将加强培训。",
             "other": "本机关依照国办函〔2020〕109号收取信息处理费的情况见上表，未收取其他费用。"}
    cover = {"unit_name": draw(st.sampled_from(["甲县财政局", "乙镇人民政府", "丙街道办事处", "丁县人民政府"])),
             "credit_code": body + check_char(body), "region_code": region, "unit_type": unit_type,
             "parent": "某县人民政府", "year": str(year), "preparer": "张伟", "phone": "0574-60000000",
             "date": f"{year + 1}-01-15"}
    return Report(edition, cover=cover, texts=texts, raw=raw)


def wrong_value(cell: Cell, old: Any) -> st.SearchStrategy[Any]:
    """A value that changes ``cell``: for cells summed into a total any other number (the stored
    total no longer matches); for Part 二 cells, which no total checks, a value of the wrong kind."""
    summed = cell.table in {"part3", "part4"}
    if summed:
        return st.one_of(st.integers(0, 60), st.integers(-20, -1), st.integers(0, 40).map(lambda v: v + 0.5)) \
            .filter(lambda v: v != old)
    if cell.kind == "count":
        return st.one_of(st.integers(-1000, -1), st.integers(0, 999).map(lambda v: v + 0.25))
    if cell.kind == "signed":
        return st.integers(-999, 999).map(lambda v: v + 0.5)
    return st.integers(1, 10**6).map(lambda v: -v / 100)


def names(ed: Edition, cell: Cell) -> set[str]:
    """The printed labels that name the cell's row or column (its group, for Part 四's columns)."""
    block = ed.table(cell.table).block(cell.block)
    row, col = block.row(cell.row), block.column(cell.col)
    out = {col.label}
    if row.label:
        out.add(row.label)
    if cell.table == "part4" and len(col.path) > 1:
        out.add(col.path[-2])
    return out


def assert_named(ed: Edition, cell: Cell, findings: list[Finding]) -> None:
    hard = [f for f in findings if f.severity == "hard"]
    wanted = names(ed, cell)
    assert any(n in f.row or n in f.column for f in hard for n in wanted), (
        f"changed {cell.id}: no hard finding names {wanted}; hard findings: {[(f.rule, f.row, f.column) for f in hard]}")


@pytest.mark.parametrize("edition", EDITIONS)
@FAST
@given(data=st.data())
def test_consistent_reports_have_no_finding(edition: str, data: st.DataObject) -> None:
    reports = data.draw(st.lists(consistent_report(edition), min_size=1, max_size=6))
    for report, findings in zip(reports, validate_reports(reports)):
        assert findings == [], [(f.rule, f.message) for f in findings]


@pytest.mark.parametrize("edition", EDITIONS)
@FAST
@given(data=st.data())
def test_changing_one_input_cell_is_a_named_hard_finding(edition: str, data: st.DataObject) -> None:
    ed = load_edition(edition)
    report = data.draw(consistent_report(edition))
    cell = data.draw(st.sampled_from(ed.input_cells))
    report.raw[cell.id] = data.draw(wrong_value(cell, report.raw[cell.id]))
    assert_named(ed, cell, validate_report(report))


@pytest.mark.parametrize("edition", EDITIONS)
@FILES
@given(data=st.data())
def test_through_real_files(edition: str, data: st.DataObject) -> None:
    """The same two properties with the report written as a workbook (stored totals as values)
    and read back by the reader."""
    ed = load_edition(edition)
    report = data.draw(consistent_report(edition))
    cell = data.draw(st.sampled_from(ed.input_cells))
    value = data.draw(wrong_value(cell, report.raw[cell.id]))
    with tempfile.TemporaryDirectory() as tmp:
        clean = read_report(write_report(report, Path(tmp) / "clean.xlsx", BuildOptions(derived="value")))
        assert validate_report(clean) == []
        report.raw[cell.id] = value
        wrong = read_report(write_report(report, Path(tmp) / "wrong.xlsx", BuildOptions(derived="value")))
    assert_named(ed, cell, validate_report(wrong))
