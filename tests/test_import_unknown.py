"""Unknown is not 0. A cell the import could not place stays empty, is listed as not imported
(a status of its own, kept in the workbook's ``_meta``), never turns into a hard arithmetic
finding, and keeps ``validate``, ``audit`` and ``compare`` from calling the report clean.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Callable

import openpyxl
import pytest
from test_import_writers import numbers, sample, tab_dump

from checks import validate_report
from checks.files import result_for
from workbook.build import UNKNOWN_NOTE
from workbook.published import import_report, write_imported
from workbook.read import read_report

Cli = Callable[[list[str], Path], subprocess.CompletedProcess[str]]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _missing_table(tmp: Path) -> Path:
    """Part 四 published under its heading with no table at all."""
    return _write(tmp / "缺表" / "青禾县市场监督管理局.txt", tab_dump(sample(seed=50), skip=("part4",)))


def _cut_off(tmp: Path) -> Path:
    """A page cut off in the middle of Part 三 (before （五）), as a broken copy gives it."""
    pub = sample(unit="青禾县交通运输局", seed=51)
    text = tab_dump(pub)
    return _write(tmp / "截断" / "青禾县交通运输局.txt", text[:text.index("\t（五）不予处理")])


def test_a_missing_table_is_unknown_not_zero(tmp_path: Path) -> None:
    imported = import_report(_missing_table(tmp_path))
    rep = imported.report
    part4 = {c.id for c in rep.edition.cells if c.table == "part4"}
    assert rep.unknown == part4 and imported.placed == imported.cells - 15
    assert imported.unplaced() == ["四、政府信息公开行政复议、行政诉讼情况（整张表）"]
    findings = validate_report(rep)
    assert not [f for f in findings if f.severity == "hard"], [f.message for f in findings if f.severity == "hard"]
    assert not [f for f in findings if f.rule == "R0.1" and "复议" in f.sheet]  # not “blank, read as 0”
    unchecked = [f for f in findings if f.rule == "R0.5"]
    assert len(unchecked) == 1 and "15 个单元格未能录入" in unchecked[0].message and "R4.1" in unchecked[0].message
    res = result_for(rep, findings, "x")
    assert not res.ok and res.unknown == 15 and "未能录入" in res.verdict() and "校验通过" not in res.verdict()


def test_a_report_cut_off_mid_table_has_no_hard_finding_on_rows_never_published(tmp_path: Path) -> None:
    imported = import_report(_cut_off(tmp_path))
    rep = imported.report
    assert {c for c in rep.unknown if ".total." in c or ".carry_next." in c}  # （七）总计 and 四 were never published
    findings = validate_report(rep)
    hard = [f for f in findings if f.severity == "hard"]
    assert hard == [], [f.message for f in hard]  # no R3.1/R3.2 over rows that were never published
    unchecked = next(f for f in findings if f.rule == "R0.5" and "三、" in f.message)
    assert "R3.1" in unchecked.message and "R3.2" in unchecked.message
    # the rows that were published are still checked: a wrong total among them is an error
    cid = "part3.main.public.total"
    rep.raw[cid] = rep.raw[cid] + 1
    assert any(f.rule == "R3.3" and f.severity == "hard" for f in validate_report(rep))


def test_unknown_survives_the_workbook_and_is_noted_in_its_cells(tmp_path: Path) -> None:
    imported = import_report(_missing_table(tmp_path))
    out = write_imported(imported, tmp_path / "录入.xlsx")
    back = read_report(out)
    assert back.unknown == imported.report.unknown
    wb = openpyxl.load_workbook(out)
    sheet = wb[back.edition.table("part4").sheet]
    notes = [c.comment.text for row in sheet.iter_rows() for c in row if c.comment]
    assert len(notes) == 15 and set(notes) == {UNKNOWN_NOTE}
    meta = wb["_meta"]
    assert sum(1 for row in meta.iter_rows(values_only=True) if row[0] == "unknown") == 15
    assert all(sheet.cell(*_rc(c)).value is None for c in back.unknown)  # empty, not 0


def _rc(cid: str) -> tuple[int, int]:
    from workbook.layout import layout_for

    r, c = layout_for("2021").pos(cid)
    return r + 1, c + 1


def test_numbers_not_text_in_the_imported_workbook(tmp_path: Path) -> None:
    """“3,050”, “１２”, “251000元” in the 万元 column: stored as the numbers (a spreadsheet adds
    them up), each cell's note and the import log keep the published writing."""
    pub = sample(edition="2019", year=2020, seed=52)
    pub.cells["part2.a5.licensing.decisions"] = "3,050"
    pub.cells["part3.main.public.natural"] = "１２"
    pub.cells["part2.a9.procurement.amount"] = "251000元"
    want = {"part2.a5.licensing.decisions": 3050, "part3.main.public.natural": 12, "part2.a9.procurement.amount": 25.1}
    imported = import_report(_write(tmp_path / "x" / "年报.txt", tab_dump(pub)))
    out = write_imported(imported, tmp_path / "年报.xlsx")
    wb = openpyxl.load_workbook(out)
    from workbook.layout import layout_for

    lay = layout_for("2019")
    for cid, value in want.items():
        r, c = lay.pos(cid)
        cell = wb[lay.edition.table(cid.split(".")[0]).sheet].cell(r + 1, c + 1)
        assert isinstance(cell.value, (int, float)) and cell.value == pytest.approx(value), cid
        assert cell.comment is not None and pub.cells[cid] in cell.comment.text, cid
        assert any(n.cell == cid and n.found == pub.cells[cid] for n in imported.normalised), cid
    rules = {f.rule for f in validate_report(imported.report)}
    assert "R0.4" in rules  # the normalised writing stays visible to the checks


def test_validate_audit_and_compare_never_call_it_clean(tmp_path: Path, cli: Cli) -> None:
    missing, cut = _missing_table(tmp_path), _cut_off(tmp_path)
    folder = tmp_path / "公开年报"
    folder.mkdir()
    for p in (missing, cut):
        (folder / p.name).write_bytes(p.read_bytes())
    proc = cli(["import", str(folder), "-o", str(tmp_path / "录入")], tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "表格单元格：录入 185 / 200" in proc.stdout and "未能录入（数字不详，不按 0 计）" in proc.stdout
    books = sorted((tmp_path / "录入").glob("*.xlsx"))
    check = cli(["validate", *map(str, books)], tmp_path)
    assert check.returncode == 1, check.stdout
    assert "2 个有未能录入的单元格" in check.stdout and "0 个无错误" in check.stdout
    js = json.loads(cli(["validate", "--json", *map(str, books)], tmp_path).stdout)
    assert all(f["unknown_cells"] > 0 for f in js["files"])
    audit = cli(["audit", str(folder), "--xlsx", str(tmp_path / "核查.xlsx")], tmp_path)
    assert audit.returncode == 1, audit.stdout
    assert "185/200" in audit.stdout and "2 份有未能录入的单元格" in audit.stdout and "0 份无错误" in audit.stdout
    sheet = openpyxl.load_workbook(tmp_path / "核查.xlsx")["单位×规则"]
    head = [c.value for c in sheet[1]]
    column = head.index("表格单元格（录入/应有）") + 1
    assert sorted(sheet.cell(r, column).value for r in (2, 3))[0].endswith("/200")
    assert "R0.5" in head
    # compare: last year's report complete, this year's with a table missing
    last = _write(tmp_path / "上年" / "青禾县市场监督管理局.txt", tab_dump(sample(year=2025, seed=50)))
    cmp = cli(["compare", str(last), str(missing)], tmp_path)
    assert cmp.returncode == 1, cmp.stdout + cmp.stderr
    assert "15 个单元格未能录入" in cmp.stdout


def test_audit_of_complete_reports_stays_clean(tmp_path: Path, cli: Cli) -> None:
    """The other side: fully imported reports without errors still pass (exit 0)."""
    folder = tmp_path / "公开年报"
    for seed, unit in ((53, "青禾县教育局"), (54, "青禾县民政局")):
        pub = sample(unit=unit, seed=seed)
        _write(folder / f"{unit}.txt", tab_dump(pub))
        assert numbers(pub)
    proc = cli(["audit", str(folder)], tmp_path)
    assert proc.returncode == 0, proc.stdout
    assert "200/200" in proc.stdout and "0 份有未能录入的单元格" in proc.stdout


def test_a_parent_is_not_compared_with_unknown_cells_of_its_children(tmp_path: Path) -> None:
    """A county's report against its units: a unit whose Part 四 was not published leaves the
    county's Part 四 cells unchecked (not a difference of the county's numbers minus 0)."""
    from addin.county.audit import audit

    folder = tmp_path / "县"
    a, b = sample(unit="青禾县教育局", seed=55), sample(unit="青禾县民政局", seed=56)
    county = sample(unit="青禾县人民政府", seed=57)
    for key in county.cells:  # the county's report is the sum of its two units'
        if key.startswith(("part3", "part4")):
            county.cells[key] = str(int(a.cells[key]) + int(b.cells[key]))
    _write(folder / "青禾县人民政府.txt", tab_dump(county))
    _write(folder / "青禾县教育局.txt", tab_dump(a))
    _write(folder / "青禾县民政局.txt", tab_dump(b, skip=("part4",)))
    result = audit(sorted(folder.iterdir()), workers=0)
    pc = result.parent
    assert pc is not None and pc.parent.unit == "青禾县人民政府"
    assert len(pc.not_compared) == 15 and all(c.startswith("part4") for c in pc.not_compared)
    assert pc.diffs == []  # every cell that could be compared agrees
    assert result.exit_code() == 1
