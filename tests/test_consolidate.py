"""Consolidation: the summed numbers are right, carried as values, traceable, and the same whether
a city sums its units directly or through its counties' summaries.

Every expected number is computed here from the generator's own values (the truth the unit files
were written from) and every produced number is read back from the written workbook with
python-calamine — a different reader from the one the consolidation uses for its inputs
(``read_report``), so the tests never compare the code's arithmetic with itself.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from workbook.build import write_report
from workbook.layout import layout_for
from workbook.report import Report
from workbook.samples import county_units, fake_report
from workbook.spec import load_edition

from addin.county.consolidate import SCOPES, ConsolidateOptions, consolidate
from addin.county.summary import summary_sheets

YEAR = 2026
ED = load_edition("2021")
LAY = layout_for("2021")


def make_county(folder: Path, seed: int, rename: str | None = None, n: int = 14) -> list[tuple[Path, Report]]:
    """A county's unit workbooks; ``rename`` gives the units another county's name (and the
    generator already gives every seed its own credit codes)."""
    units = county_units(seed, n)
    if rename:
        units = [replace(u, name=u.name.replace("青禾县", rename), parent=u.parent.replace("青禾县", rename)) for u in units]
    out = []
    for u in units:
        rep = fake_report(u, YEAR, seed)
        out.append((write_report(rep, folder / f"{u.name}.xlsx"), rep))
    return out


def truth(reports: list[Report]) -> dict[str, float]:
    """The expected summary: inputs summed from the generator's values, totals walked down the
    spec's items (``total_of``, the test-side computation)."""
    sums = {c.id: 0.0 for c in ED.input_cells}
    for rep in reports:
        for cid in sums:
            v = rep.raw.get(cid)
            sums[cid] += float(v) if isinstance(v, (int, float)) else 0.0
    return sums


def sheet(path: Path, name: str) -> list[list[Any]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(name).to_python(skip_empty_area=False)


def summary_numbers(path: Path) -> dict[str, Any]:
    """Every number cell of the written summary, read with python-calamine at the spec's layout."""
    grids = {t.key: sheet(path, t.sheet) for t in ED.tables}
    return {c.id: grids[c.table][LAY.pos(c.id)[0]][LAY.pos(c.id)[1]] for c in ED.cells}


def assert_summary(path: Path, reports: list[Report], total_of: Callable[..., float]) -> None:
    expected_inputs = truth(reports)
    got = summary_numbers(path)
    for c in ED.cells:
        want = total_of(ED, c.id, expected_inputs.__getitem__)
        assert isinstance(got[c.id], float), f"{c.id} is not a stored number: {got[c.id]!r}"
        assert math.isclose(got[c.id], want, abs_tol=1e-6), f"{c.id}: {got[c.id]} != {want}"


@pytest.fixture(scope="module")
def county_a(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[Path, Report]]]:
    folder = tmp_path_factory.mktemp("county-a") / "收文"
    return folder, make_county(folder, seed=1)


@pytest.mark.parametrize("scope", ["all", "self"])
def test_every_summed_cell_matches_an_independent_sum(scope: str, county_a, tmp_path: Path, cli, total_of) -> None:
    folder, units = county_a
    out = tmp_path / "汇总.xlsx"
    proc = cli(["consolidate", str(folder), "-o", str(out), "--name", "青禾县人民政府", "--scope", scope], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wanted = [rep for _, rep in units if scope == "all" or rep.cover["unit_type"] == "县级人民政府"]
    assert 0 < len(wanted) <= len(units)
    assert f"共汇总 {len(wanted)} 个单位" in proc.stdout
    assert_summary(out, wanted, total_of)
    # the cover says who, which year, which scope and how many
    cover = sheet(out, ED.cover_sheet)
    text = " ".join(str(v) for row in cover for v in row)
    assert "青禾县人民政府" in text and str(YEAR) in text and f"{len(wanted)} 个单位" in text
    assert SCOPES[scope] in text and SCOPES[{"all": "self", "self": "all"}[scope]] not in text


def test_detail_traces_every_number_to_its_unit_and_file(county_a, tmp_path: Path) -> None:
    folder, units = county_a
    out = tmp_path / "汇总.xlsx"
    result = consolidate([folder], out, ConsolidateOptions(name="青禾县人民政府"))
    grid = sheet(out, "明细")
    head, rows, total = grid[:4], grid[4:-1], grid[-1]
    positions = [str(v) for v in head[3][6:]]
    assert positions == [LAY.address(c.id) for c in ED.input_cells]
    by_code = {rep.cover["credit_code"]: (path, rep) for path, rep in units}
    assert len(rows) == len(units)
    for row in rows:
        path, rep = by_code[row[2]]
        assert row[1] == rep.unit and row[3] == rep.cover["unit_type"]
        assert row[5] == hashlib.sha256(path.read_bytes()).hexdigest()
        for cell, value in zip(ED.input_cells, row[6:]):
            assert value == pytest.approx(float(rep.raw[cell.id])), (rep.unit, cell.id)
    sums = truth([rep for _, rep in units])
    assert total[0] == "合计"
    assert [pytest.approx(sums[c.id]) for c in ED.input_cells] == total[6:]
    assert result.exit_code == 0


def test_a_city_from_two_county_summaries_equals_all_units_at_once(tmp_path: Path, county_a, total_of) -> None:
    folder_a, units_a = county_a
    folder_b = tmp_path / "白石县" / "收文"
    units_b = make_county(folder_b, seed=2, rename="白石县", n=9)
    sum_a, sum_b = tmp_path / "市" / "青禾县汇总.xlsx", tmp_path / "市" / "白石县汇总.xlsx"
    consolidate([folder_a], sum_a, ConsolidateOptions(name="青禾县人民政府"))
    consolidate([folder_b], sum_b, ConsolidateOptions(name="白石县人民政府"))
    city = tmp_path / "市汇总.xlsx"
    res_city = consolidate([sum_a.parent], city, ConsolidateOptions(name="丹霞市人民政府"))
    direct = tmp_path / "直接汇总.xlsx"
    consolidate([folder_a, folder_b], direct, ConsolidateOptions(name="丹霞市人民政府"))
    assert summary_numbers(city) == summary_numbers(direct)
    assert_summary(city, [r for _, r in units_a + units_b], total_of)
    assert len(res_city.included) == 2 and len(res_city.summary.members) == len(units_a) + len(units_b)
    assert res_city.exit_code == 0
    # the city summary names every unit it contains (hidden _meta), so it can be checked again
    meta = sheet(city, "_meta")
    codes = {str(r[1]).split("\t")[0] for r in meta if r[0] == "member"}
    assert codes == {r.cover["credit_code"] for _, r in units_a + units_b}


def test_a_summary_and_one_of_its_units_are_refused_naming_both(tmp_path: Path, county_a, cli) -> None:
    folder, units = county_a
    summary = tmp_path / "青禾县汇总.xlsx"
    consolidate([folder], summary, ConsolidateOptions(name="青禾县人民政府"))
    unit_file = units[3][0]
    out = tmp_path / "市汇总.xlsx"
    proc = cli(["consolidate", str(summary), str(unit_file), "-o", str(out), "--name", "丹霞市人民政府"], tmp_path)
    assert proc.returncode == 2
    said = proc.stdout + proc.stderr
    assert summary.name in said and unit_file.name in said and "重复计算" in said
    assert not out.exists()


def test_the_add_in_gets_the_same_sheets_as_the_file(county_a, tmp_path: Path) -> None:
    folder, units = county_a
    out = tmp_path / "汇总.xlsx"
    consolidate([folder], out, ConsolidateOptions(name="青禾县人民政府"))
    sheets = summary_sheets(consolidate([folder], None, ConsolidateOptions(name="青禾县人民政府")))  # no file
    for name in ("二、主动公开", "三、依申请公开", "四、复议诉讼", "明细", "报送情况", "校验结果"):
        written = sheet(out, name)
        given = sheets[name]
        for r, row in enumerate(given):
            for c, v in enumerate(row):
                if v is None or name == "报送情况" and r == 4:  # the board's time stamp
                    continue
                got = written[r][c]
                assert (got == pytest.approx(v)) if isinstance(v, (int, float)) else got == v, (name, r, c, got, v)


def test_long_format_has_one_row_per_unit_and_cell_and_the_summary(county_a, tmp_path: Path) -> None:
    folder, units = county_a
    out = tmp_path / "汇总.xlsx"
    result = consolidate([folder], out, ConsolidateOptions(name="青禾县人民政府", csv=True, json=True))
    with open(out.with_suffix(".csv"), encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == (len(units) + 1) * len(ED.cells)
    rep = units[0][1]
    mine = {r["位置"]: float(r["值"]) for r in rows if r["统一社会信用代码"] == rep.cover["credit_code"]}
    for c in ED.input_cells:
        assert mine[LAY.address(c.id)] == pytest.approx(float(rep.raw[c.id]))
    summary_rows = [r for r in rows if r["单位"] == "青禾县人民政府"]
    assert len(summary_rows) == len(ED.cells)
    assert summary_rows[0]["文件 sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert {r["编号"] for r in summary_rows} == {c.id for c in ED.cells}
    doc = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert doc["unit"] == "青禾县人民政府" and doc["units"] == len(units) and len(doc["records"]) == len(rows)
    assert result.exit_code == 0


def test_previous_summary_catches_a_unit_whose_carry_over_does_not_match(tmp_path: Path) -> None:
    units = county_units(3, 5)
    last = {u.name: fake_report(u, YEAR - 1, 3) for u in units}
    for rep in last.values():
        write_report(rep, tmp_path / "2025" / f"{rep.unit}.xlsx")
    prev = tmp_path / "2025汇总.xlsx"
    consolidate([tmp_path / "2025"], prev, ConsolidateOptions(name="青禾县人民政府"))
    stale = units[2]
    for u in units:
        rep = fake_report(u, YEAR, 3, frozenset({"stale_carry"}) if u is stale else frozenset(), previous=last[u.name])
        write_report(rep, tmp_path / "2026" / f"{u.name}.xlsx")
    result = consolidate([tmp_path / "2026"], tmp_path / "2026汇总.xlsx",
                         ConsolidateOptions(name="青禾县人民政府", previous=prev))
    carry = {s.name for s in result.included for f in s.findings if f.rule == "R3.5"}
    assert carry == {stale.name}
    found = sheet(tmp_path / "2026汇总.xlsx", "校验结果")
    assert any(row[1] == "R3.5" and row[9] == stale.name for row in found[1:])


def test_the_chart_shows_every_unit_type(county_a, tmp_path: Path) -> None:
    folder, units = county_a
    out = tmp_path / "汇总.xlsx"
    consolidate([folder], out, ConsolidateOptions(name="青禾县人民政府"))
    with zipfile.ZipFile(out) as z:
        charts = [n for n in z.namelist() if n.startswith("xl/charts/chart")]
        xml = z.read(charts[0]).decode("utf-8")
    refs = set(re.findall(r"<c:cat>.*?<c:f>'?报送情况'?!\$A\$(\d+):\$A\$(\d+)</c:f>", xml, re.S))
    assert len(refs) == 1
    first, last = map(int, refs.pop())
    board = sheet(out, "报送情况")
    types = [board[r - 1][0] for r in range(first, last + 1)]
    assert sorted(types) == sorted({rep.cover["unit_type"] for _, rep in units})
    assert board[last][0] == "合计"  # the total row right below is not a category


@pytest.mark.office
def test_a_real_spreadsheet_opens_the_summary_and_agrees(county_a, tmp_path: Path, soffice: str) -> None:
    """LibreOffice loads the streamed sheets, recalculates every formula (the 明细 合计 SUMs, the
    live checks) and gets the numbers the file carries."""
    from workbook.office import recalculate

    folder, units = county_a
    out = tmp_path / "汇总.xlsx"
    consolidate([folder], out, ConsolidateOptions(name="青禾县人民政府"))
    again = recalculate(out, tmp_path / "lo")
    assert summary_numbers(again) == summary_numbers(out)
    mine, theirs = sheet(out, "明细"), sheet(again, "明细")
    assert len(theirs) == len(mine) == len(units) + 5
    assert theirs[-1][6:] == pytest.approx(mine[-1][6:])
    assert sheet(again, "报送情况")[:12] == sheet(out, "报送情况")[:12]
    links = [c for c in openpyxl.load_workbook(again)["校验结果"]["M"][1:] if c.value]
    assert links and all(c.hyperlink is not None and c.hyperlink.location for c in links)
