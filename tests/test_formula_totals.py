"""Workbooks saved by a program that does not calculate (issue 12 §1).

openpyxl, pandas and many web systems' exports keep the template's ``=SUM(…)`` totals without
their results: every reader sees the locked totals blank. The template is filled here with
openpyxl, as such a program would, and the same files are recalculated by LibreOffice (a real
spreadsheet application): ``nianbao validate`` must give the two the same findings — none naming a
locked total as blank — except the one soft note W0.1 that the totals were not saved; and
``consolidate``, ``export`` and ``compare`` must read the openpyxl file as LibreOffice's copy.
Every expected number is computed here from the values typed.
"""

from __future__ import annotations

import json
import random
import shutil
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from workbook.formulas import MAX_CELLS_XML, SheetTooLarge, cells_xml, formula_cells, sum_cells
from workbook.layout import a1, layout_for
from workbook.read import read_report
from workbook.spec import EDITIONS, Edition, load_edition

YEAR = {"2021": 2025, "2019": 2020}
CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
UNSAVED = "W0.1"
BLANK = "（空白）"
BUMP = 3  # added to 一、本年新收 · 自然人 in the "changed" files


def credit_code(body17: str) -> str:
    """GB 32100-2015 check character, computed here (weights 3^i mod 31)."""
    total = sum(CREDIT_CHARS.index(ch) * pow(3, i, 31) for i, ch in enumerate(body17))
    return body17 + CREDIT_CHARS[(31 - total % 31) % 31]


def consistent_inputs(ed: Edition, seed: int) -> dict[str, Any]:
    """Input values on which no hard rule fails: each Part 三 column balances (一 + 二 = outcomes +
    四), 规章 is 0 (a county department), other counts random."""
    rng = random.Random(seed)
    values: dict[str, Any] = {}
    for cell in ed.input_cells:
        if cell.table == "part2":
            values[cell.id] = (0 if cell.row == "rules" else
                               {"count": rng.randint(0, 40), "signed": rng.randint(-9, 9), "money": rng.randint(0, 900) / 100}[cell.kind])
        elif cell.table == "part4":
            values[cell.id] = rng.randint(0, 4)
    p3 = ed.table("part3").blocks[0]
    heads = {"new", "carried", "total", "carry_next"}
    for col in p3.columns:
        if ed.cell(f"part3.main.new.{col.key}").role != "input":
            continue
        handled = 0
        for row in p3.rows:
            if row.key not in heads:
                values[f"part3.main.{row.key}.{col.key}"] = v = rng.choice((0, 0, 1, 2, 5))
                handled += v
        carry_next = rng.randint(0, 3)
        carried = rng.randint(0, handled + carry_next)
        values[f"part3.main.carried.{col.key}"] = carried
        values[f"part3.main.carry_next.{col.key}"] = carry_next
        values[f"part3.main.new.{col.key}"] = handled + carry_next - carried
    return values


def total(ed: Edition, cid: str, values: dict[str, Any]) -> float:
    """A derived cell from the typed inputs: its spec items followed down to the inputs."""
    cell = ed.cell(cid)
    return values[cid] if cell.role == "input" else sum(total(ed, item, values) for item in cell.items)


def fill(template: Path, target: Path, ed: Edition, values: dict[str, Any], over: dict[str, Any] | None = None) -> Path:
    """Type the cover and ``values`` into a copy of the template with openpyxl, which keeps the
    formulas of the totals and stores no results; ``over`` overwrites cells (totals too)."""
    lay = layout_for(ed.key)
    wb = openpyxl.load_workbook(template)
    cover = {"unit_name": "测试县交通运输局", "credit_code": credit_code("11330226MB0000001"), "region_code": "330226",
             "unit_type": "县级政府部门", "parent": "测试县人民政府", "year": YEAR[ed.key], "preparer": "王芳",
             "phone": "0574-65550000", "date": f"{YEAR[ed.key] + 1}-01-10"}
    for key, value in cover.items():
        r, c = lay.cover.fields[key]
        wb[ed.cover_sheet].cell(r + 1, c + 1).value = value
    for cid, value in {**values, **(over or {})}.items():
        r, c = lay.pos(cid)
        wb[lay.sheet_of(cid)].cell(r + 1, c + 1).value = value
    target.parent.mkdir(parents=True, exist_ok=True)
    wb.save(target)
    return target


@dataclass(frozen=True)
class Files:
    """Per edition: the typed values and the files (openpyxl-saved; LibreOffice's copies)."""

    values: dict[str, dict[str, Any]]
    saved: dict[str, Path]
    recalculated: dict[str, Path]


REPLACED_NUMBER = "part3.main.total.natural"  # a locked total typed over with a number
REPLACED_FORMULA = "part3.main.new.total"     # a locked total given another formula


@pytest.fixture(scope="module")
def files(templates: dict[str, Any], soffice: str, tmp_path_factory: pytest.TempPathFactory) -> Files:
    from workbook.office import convert_many

    work = tmp_path_factory.mktemp("unsaved")
    values: dict[str, dict[str, Any]] = {}
    saved: dict[str, Path] = {}
    for i, key in enumerate(EDITIONS):
        assert templates[key].returncode == 0, templates[key].stderr
        ed = load_edition(key)
        v = values[key] = consistent_inputs(ed, seed=12 + i)
        t = templates[key].path
        saved[f"consistent-{key}"] = fill(t, work / "saved" / f"consistent-{key}.xlsx", ed, v)
        saved[f"changed-{key}"] = fill(t, work / "saved" / f"changed-{key}.xlsx", ed, v,
                                       {"part3.main.new.natural": v["part3.main.new.natural"] + BUMP})
        saved[f"replaced-{key}"] = fill(t, work / "saved" / f"replaced-{key}.xlsx", ed, v,
                                        {REPLACED_NUMBER: total(ed, REPLACED_NUMBER, v) + 7})
        lay = layout_for(key)
        r, c = lay.pos("part3.main.new.natural")
        saved[f"other-formula-{key}"] = fill(t, work / "saved" / f"other-formula-{key}.xlsx", ed, v,
                                             {REPLACED_FORMULA: f"={a1(r, c)}+{a1(r, c + 1)}"})
    recalc = convert_many([p for n, p in saved.items() if not n.startswith("other")], "xlsx", work / "recalculated")
    return Files(values, saved, {p.stem: p for p in recalc})


def validate(cli: Any, paths: list[Path], cwd: Path) -> dict[str, list[dict[str, Any]]]:
    proc = cli(["validate", "--json", *map(str, paths)], cwd)
    assert proc.returncode in (0, 1), proc.stderr
    return {Path(r["path"]).stem: r["findings"] for r in json.loads(proc.stdout)["files"]}


@pytest.fixture(scope="module")
def found(files: Files, cli: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Findings of every file as ``nianbao validate --json`` gives them (one run per side)."""
    cwd = tmp_path_factory.mktemp("validate")
    return {"saved": validate(cli, list(files.saved.values()), cwd),
            "recalculated": validate(cli, list(files.recalculated.values()), cwd)}


def blank_totals(edition: str, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Findings that name a locked total (a derived cell) as blank."""
    lay = layout_for(edition)
    totals = {(lay.sheet_of(c.id), a1(*lay.pos(c.id))) for c in lay.edition.derived_cells}
    return [f for f in findings if f["found"] == BLANK and (f["sheet"], f["cell"]) in totals]


def key_of(f: dict[str, Any]) -> tuple[str, str, str, str, str, str]:
    return f["rule"], f["sheet"], f["cell"], f["found"], f["expected"], f["message"]


# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("edition", EDITIONS)
def test_the_saved_files_really_hold_no_results(files: Files, edition: str) -> None:
    """The premise: an independent reader sees every total of the openpyxl file blank, and
    LibreOffice's copy carries them (the sums computed here)."""
    ed, lay = load_edition(edition), layout_for(edition)
    for name, expect_blank in ((f"consistent-{edition}", True), (f"consistent-{edition}", False)):
        path = files.saved[name] if expect_blank else files.recalculated[name]
        wb = CalamineWorkbook.from_path(str(path))
        grids = {t.sheet: wb.get_sheet_by_name(t.sheet).to_python(skip_empty_area=False) for t in ed.tables}
        for cell in ed.derived_cells:
            r, c = lay.pos(cell.id)
            value = grids[lay.sheet_of(cell.id)][r][c]
            if expect_blank:
                assert value == "", (cell.id, value)
            else:
                assert value == pytest.approx(total(ed, cell.id, files.values[edition])), cell.id


@pytest.mark.parametrize("edition", EDITIONS)
def test_a_consistent_report_saved_without_results_has_no_error_and_one_note(found: dict[str, Any], edition: str) -> None:
    findings = found["saved"][f"consistent-{edition}"]
    assert [f for f in findings if f["severity"] == "hard"] == []
    notes = [f for f in findings if f["rule"] == UNSAVED]
    assert len(notes) == 1
    derived = len(load_edition(edition).derived_cells)
    assert notes[0]["severity"] == "soft" and f"{derived} 个合计单元格" in notes[0]["message"], notes[0]["message"]
    assert "Excel 或 WPS" in notes[0]["message"]
    assert blank_totals(edition, findings) == []
    # LibreOffice's copy carries its results: no note
    assert not any(f["rule"] == UNSAVED for f in found["recalculated"][f"consistent-{edition}"])


@pytest.mark.parametrize("edition", EDITIONS)
def test_one_changed_input_is_reported_in_its_column_and_no_total_as_blank(found: dict[str, Any], files: Files,
                                                                           edition: str) -> None:
    ed, lay = load_edition(edition), layout_for(edition)
    v = dict(files.values[edition])
    v["part3.main.new.natural"] += BUMP
    hard = [f for f in found["saved"][f"changed-{edition}"] if f["severity"] == "hard"]
    assert {f["rule"] for f in hard} == {"R3.1"}, hard
    # the 自然人 column and the 总计 column (whose 一、本年新收 adds 自然人) — nothing else
    assert {f["column"] for f in hard} == {"自然人", "总计"}
    [natural] = [f for f in hard if f["column"] == "自然人"]
    left = v["part3.main.new.natural"] + v["part3.main.carried.natural"]
    right = total(ed, "part3.main.total.natural", v) + v["part3.main.carry_next.natural"]
    assert (natural["found"], natural["expected"]) == (str(left), str(right))
    assert natural["cell"] == a1(*lay.pos("part3.main.total.natural"))
    assert blank_totals(edition, found["saved"][f"changed-{edition}"]) == []


@pytest.mark.parametrize("name", ["consistent", "changed", "replaced"])
@pytest.mark.parametrize("edition", EDITIONS)
def test_libreoffice_recalculated_copies_get_the_same_findings(found: dict[str, Any], name: str, edition: str) -> None:
    mine = {key_of(f) for f in found["saved"][f"{name}-{edition}"] if f["rule"] != UNSAVED}
    theirs = {key_of(f) for f in found["recalculated"][f"{name}-{edition}"]}
    assert mine == theirs


@pytest.mark.parametrize("edition", EDITIONS)
def test_a_total_typed_over_is_compared_as_typed(found: dict[str, Any], files: Files, edition: str) -> None:
    """A locked total whose formula was replaced by a number is what the file says; the note
    counts only the totals still holding the template's formula."""
    ed, lay = load_edition(edition), layout_for(edition)
    findings = found["saved"][f"replaced-{edition}"]
    typed = total(ed, REPLACED_NUMBER, files.values[edition]) + 7
    [r32] = [f for f in findings if f["rule"] == "R3.2"]
    assert r32["cell"] == a1(*lay.pos(REPLACED_NUMBER)) and r32["found"] == str(typed)
    [note] = [f for f in findings if f["rule"] == UNSAVED]
    assert f"{len(ed.derived_cells) - 1} 个合计单元格" in note["message"]


@pytest.mark.parametrize("edition", EDITIONS)
def test_a_total_with_another_formula_and_no_result_is_blank_as_before(found: dict[str, Any], edition: str) -> None:
    """Only the template's own formula is computed; any other formula saved without a result is
    read as the file shows it (blank), and reported where it is."""
    lay = layout_for(edition)
    findings = found["saved"][f"other-formula-{edition}"]
    at = a1(*lay.pos(REPLACED_FORMULA))
    assert [f["cell"] for f in blank_totals(edition, findings) if f["severity"] == "hard"] == [at]
    assert sum(f["rule"] == UNSAVED for f in findings) == 1


def test_export_and_compare_read_the_saved_file_as_libreoffice_does(files: Files, cli: Any, tmp_path: Path) -> None:
    saved, recalculated = files.saved["consistent-2021"], files.recalculated["consistent-2021"]
    out = {}
    for side, path in (("saved", saved), ("recalculated", recalculated)):
        proc = cli(["export", str(path), "--to", "json", "-o", str(tmp_path / f"{side}.json")], tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        data = json.loads((tmp_path / f"{side}.json").read_text(encoding="utf-8"))
        out[side] = {r["cell"]: r["value"] for r in data["records"]}
    ed = load_edition("2021")
    assert all(out["saved"][c.id] == pytest.approx(total(ed, c.id, files.values["2021"])) for c in ed.derived_cells)
    assert out["saved"] == out["recalculated"]
    proc = cli(["compare", str(recalculated), str(saved), "--json"], tmp_path)
    result = json.loads(proc.stdout)
    assert result["changes"] == [], result["changes"]


def test_consolidate_sums_the_saved_file_and_reports_no_error(files: Files, cli: Any, tmp_path: Path) -> None:
    inbox = tmp_path / "收文"
    inbox.mkdir()
    shutil.copyfile(files.saved["consistent-2021"], inbox / "测试县交通运输局.xlsx")
    target = tmp_path / "汇总.xlsx"
    proc = cli(["consolidate", str(inbox), "--name", "测试县人民政府", "-o", str(target)], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ed, lay = load_edition("2021"), layout_for("2021")
    wb = openpyxl.load_workbook(target, data_only=True)
    for cell in ed.derived_cells:
        r, c = lay.pos(cell.id)
        assert wb[lay.sheet_of(cell.id)].cell(r + 1, c + 1).value == pytest.approx(total(ed, cell.id, files.values["2021"]))


# ------------------------------------------------------------------------------------------------
# The scanner
# ------------------------------------------------------------------------------------------------

def test_shared_formulas_and_values_are_recognised() -> None:
    xml = (b'<sheetData><row r="6"><c r="J6" s="1"><f t="shared" ref="J6:J8" si="0">SUM(D6:I6)</f><v></v></c></row>'
           b'<row r="7"><c r="J7"><f t="shared" si="0"/></c></row>'
           b'<row r="8"><x:c r="J8" t="n"><x:f>SUM($D8:I8)</x:f><x:v>4</x:v></x:c></row></sheetData>')
    cells = formula_cells(xml)
    assert set(cells) == {"J6", "J7", "J8"}
    assert not cells["J6"].has_value and cells["J6"].anchor and cells["J7"].shared == "0"
    assert cells["J8"].has_value and cells["J8"].text == "SUM($D8:I8)"
    assert sum_cells("SUM(D6:I6)", dr=1) == [(6, c) for c in range(3, 9)]
    assert sum_cells("SUM($D6:I6)", dr=1, dc=1) == [(6, c) for c in range(3, 10)]
    assert sum_cells("SUM(A1:XFD1048576)") is None
    assert sum_cells("D6+E6") is None


def test_a_shared_total_without_result_is_computed(templates: dict[str, Any], tmp_path: Path) -> None:
    """A total stored as a cell of a shared formula group (as Excel writes copied formulas) and
    without a result is the template's formula too: the group's text moved to the cell."""
    ed, lay = load_edition("2021"), layout_for("2021")
    v = consistent_inputs(ed, seed=5)
    src = fill(templates["2021"].path, tmp_path / "plain.xlsx", ed, v)
    anchor, cid = "part3.main.new.total", "part3.main.carried.total"
    (r0, col), (r1, _) = lay.pos(anchor), lay.pos(cid)
    first, last = a1(r0, lay.pos("part3.main.new.natural")[1]), a1(r0, col - 1)
    plain = f"<f>SUM({first}:{last})</f>".encode()
    shared = f'<f t="shared" ref="{a1(r0, col)}:{a1(r1, col)}" si="7">SUM({first}:{last})</f>'.encode()
    dependent = f"<f>SUM({a1(r1, lay.pos('part3.main.new.natural')[1])}:{a1(r1, col - 1)})</f>".encode()
    target = tmp_path / "shared.xlsx"
    changed = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            body = zin.read(item.filename)
            if plain in body and dependent in body:
                body = body.replace(plain, shared, 1).replace(dependent, b'<f t="shared" si="7"/>', 1)
                changed += 1
            zout.writestr(item, body)
    assert changed == 1
    report = read_report(target)
    assert report.raw[cid] == pytest.approx(total(ed, cid, v))
    assert report.raw[anchor] == pytest.approx(total(ed, anchor, v))
    assert {anchor, cid} <= set(report.unsaved)


def test_the_scanner_is_bounded_and_linear(tmp_path: Path) -> None:
    """A sheet past the bound is refused without reading further; hostile runs of formula starts
    without cell ends (4 MB) are scanned at once — searching each to the end would take minutes."""
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("s.xml", b"<sheetData>" + b"<row/>" * (MAX_CELLS_XML // 6 * 2) + b"</sheetData>")
    with zipfile.ZipFile(big) as z, pytest.raises(SheetTooLarge):
        cells_xml(z, "s.xml")
    with zipfile.ZipFile(big) as z:  # within the bound: the cells, and nothing after them
        xml = b"<sheetData>" + b"<row/>" * 5 + b"</sheetData><mergeCells/>"
        z.close()
    with zipfile.ZipFile(tmp_path / "ok.zip", "w") as z:
        z.writestr("s.xml", xml)
    with zipfile.ZipFile(tmp_path / "ok.zip") as z:
        assert cells_xml(z, "s.xml", chunk=7) == b"<sheetData>" + b"<row/>" * 5
    for hostile in (b'<c r="A1"><f>' * 300_000, b'<c r="A1"><f>1</f>' * 250_000, b"<f>" * 1_300_000):
        t0 = time.perf_counter()
        formula_cells(hostile)
        assert time.perf_counter() - t0 < 2.0
