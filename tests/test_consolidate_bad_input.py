"""What a county office really receives — broken, encrypted, old, foreign, macro-enabled and
booby-trapped files among the good ones: every bad file is listed with its reason, the good ones
are summed, no input is changed, nothing from an input becomes a formula, and a crash while
writing leaves the previous summary as it was and no half-written file behind."""

from __future__ import annotations

import csv
import hashlib
import math
import shutil
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from msoffcrypto.format.ooxml import OOXMLFile
from python_calamine import CalamineWorkbook

from workbook.build import write_report, write_template
from workbook.layout import a1, layout_for
from workbook.report import Report
from workbook.samples import county_units, fake_report
from workbook.spec import load_edition

from addin.county.consolidate import ConsolidateOptions, consolidate
from addin.county.summary import neutralise

YEAR = 2026
ED = load_edition("2021")
LAY = layout_for("2021")
HYPERLINK = '=HYPERLINK("http://evil.example/steal","点我")'
CMD = "=cmd|' /C calc'!A0"
FORMULA_CELLS = ("part3.main.public.natural", "part3.main.partial.business")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _macro_copy(src: Path, dst: Path) -> Path:
    """A macro-enabled workbook: the unit's file with a VBA project part, as Excel saves .xlsm."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                                    b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
                data = data.replace(b"<Default Extension=\"xml\"", b"<Default Extension=\"bin\" ContentType=\"application/vnd.ms-office.vbaProject\"/><Default Extension=\"xml\"")
            if item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>')
            zout.writestr(item, data)
        zout.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"Sub AutoOpen(): Shell \"calc\": End Sub" * 20)
    return dst


def _xls(folder: Path, tmp: Path) -> Path:
    """A real .xls from LibreOffice when it is installed, else a file with the OLE2 signature."""
    target = folder / "旧格式.xls"
    soffice = shutil.which("soffice")
    if soffice:
        src = write_template(tmp / "旧格式.xlsx", "2021", YEAR)
        subprocess.run([soffice, f"-env:UserInstallation=file://{tmp / 'lo-profile'}", "--headless", "--convert-to", "xls",
                        "--outdir", str(folder), str(src)], capture_output=True, timeout=120, check=False)
    if not target.exists():
        target.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4000)
    return target


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Good units and every kind of bad input, side by side, with a register naming one more unit."""
    root = tmp_path_factory.mktemp("bad-inbox")
    folder = root / "收文"
    units = county_units(21, 12)
    good: dict[str, tuple[Path, dict[str, Any]]] = {}  # file → (path, the numbers that must be summed)

    def put(rep: Report, name: str) -> Path:
        return write_report(rep, folder / name)

    for u in units[:5]:
        rep = fake_report(u, YEAR, 21)
        good[u.name] = (put(rep, f"{u.name}.xlsx"), rep.raw)
    old = fake_report(units[1], YEAR, 99)
    old.cover["date"] = f"{YEAR + 1}-01-02"
    put(old, f"旧版/{units[1].name}（初稿）.xlsx")
    sample = good[units[0].name][0]
    (folder / "损坏.xlsx").write_bytes(sample.read_bytes()[: sample.stat().st_size // 2])
    (folder / "空文件.xlsx").write_bytes(b"")
    (folder / f"~${units[0].name}.xlsx").write_bytes(b"\x00" * 165)
    enc_src = put(fake_report(units[5], YEAR, 21), "明文.tmp.xlsx")
    with open(enc_src, "rb") as fh, open(folder / "加密.xlsx", "wb") as out:
        OOXMLFile(fh).encrypt("mima", out)
    enc_src.unlink()
    _xls(folder, root)
    foreign = openpyxl.Workbook()
    foreign.active.append(["项目", "金额"])
    foreign.active.append(["办公费", 1200])
    foreign.save(folder / "经费表.xlsx")
    macro_rep = fake_report(units[6], YEAR, 21)
    staged = write_report(macro_rep, root / "macro-src.xlsx")
    good[units[6].name] = (_macro_copy(staged, folder / f"{units[6].name}.xlsm"), macro_rep.raw)
    trap = fake_report(units[7], YEAR, 21)
    trap.cover["unit_name"] = HYPERLINK
    trap.raw["part3.main.new.natural"] = CMD
    good[HYPERLINK] = (put(trap, "=cmd注入.xlsx"), trap.raw)
    formula_rep = fake_report(units[8], YEAR, 21)
    formula_file = put(formula_rep, f"{units[8].name}.xlsx")
    wb = openpyxl.load_workbook(formula_file)
    for cid in FORMULA_CELLS:
        wb[LAY.sheet_of(cid)][a1(*LAY.pos(cid))] = HYPERLINK if cid.endswith("natural") else "=1+1"
    wb.save(formula_file)
    good[units[8].name] = (formula_file, {**formula_rep.raw, **{cid: None for cid in FORMULA_CELLS}})
    put(fake_report(units[9], YEAR - 1, 21), "去年的.xlsx")
    put(fake_report(units[10], YEAR, 21, edition=load_edition("2019")), "旧版表格.xlsx")
    register = root / "单位名单.csv"
    lines = ["单位名称,统一社会信用代码,单位类型,上级单位"]
    lines += [f"{u.name},{u.code},{u.unit_type},{u.parent}" for u in units]
    register.write_text("\n".join(lines) + "\n", encoding="gbk")  # as Excel on a Chinese PC saves it
    return {"root": root, "folder": folder, "units": units, "good": good, "register": register}


def _grid(path: Path, name: str) -> list[list[Any]]:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_name(name).to_python(skip_empty_area=False)


def test_bad_inputs_are_listed_with_reasons_and_the_good_ones_summed(inbox: dict[str, Any], tmp_path: Path, cli) -> None:
    folder = inbox["folder"]
    before = {p: _sha(p) for p in folder.rglob("*") if p.is_file()}
    out = tmp_path / "汇总.xlsx"
    proc = cli(["consolidate", str(folder), "--units", str(inbox["register"]), "--name", "青禾县人民政府",
                "-o", str(out), "--csv", "--workers", "2"], tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert {p: _sha(p) for p in folder.rglob("*") if p.is_file()} == before, "an input file was changed"
    board = _grid(out, "报送情况")
    start = next(i for i, r in enumerate(board) if r[:2] == ["序号", "单位名称"]) + 1
    by_file = {Path(r[6]).name: r for r in board[start:] if r[6]}
    expect = {"损坏.xlsx": ("无法读取", "损坏"), "空文件.xlsx": ("无法读取", "空"), "加密.xlsx": ("无法读取", "密码"),
              "旧格式.xls": ("无法读取", ".xls"), f"~${inbox['units'][0].name}.xlsx": ("无法读取", "临时锁定文件"),
              "经费表.xlsx": ("无法读取", "模板"), "去年的.xlsx": ("报告年度不符", str(YEAR - 1)),
              "旧版表格.xlsx": ("表格版本不符", "2019 版"),
              f"{inbox['units'][1].name}（初稿）.xlsx": ("重复报送", f"{inbox['units'][1].name}.xlsx"),
              f"{inbox['units'][6].name}.xlsm": ("已汇总", "含宏"),
              f"{inbox['units'][8].name}.xlsx": ("已汇总", "公式")}
    for name, (status, why) in expect.items():
        row = by_file[name]
        assert row[4].startswith(status) and why in row[5], (name, row[4], row[5])
        assert name in proc.stdout or status == "已汇总" or status == "重复报送", name
    # not submitted for this year: the unit that sent nothing, the one whose file is encrypted (its
    # unit cannot be known), and the two whose only file is of another year or edition (said why)
    missing = {r[1]: r[5] for r in board[start:] if r[4] == "未报送"}
    units = inbox["units"]
    assert set(missing) == {units[5].name, units[9].name, units[10].name, units[11].name}
    assert "去年的.xlsx" in missing[units[9].name] and "旧版表格.xlsx" in missing[units[10].name]
    # the summed numbers: the good files' values, the trap's text and the formulas counted as 0
    got = {c.id: _grid(out, LAY.edition.table(c.table).sheet)[LAY.pos(c.id)[0]][LAY.pos(c.id)[1]] for c in ED.input_cells}
    for cell in ED.input_cells:
        want = sum(float(raw[cell.id]) for _, raw in inbox["good"].values() if isinstance(raw.get(cell.id), (int, float)))
        assert math.isclose(got[cell.id], want, abs_tol=1e-6), cell.id
    assert len([r for r in board[start:] if r[4] == "已汇总"]) == len(inbox["good"])


def test_nothing_from_an_input_becomes_a_formula(inbox: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "汇总.xlsx"
    consolidate([inbox["folder"]], out, ConsolidateOptions(name="青禾县人民政府", units=inbox["register"], csv=True))
    wb = openpyxl.load_workbook(out)  # formulas as written, not values
    seen_text = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    assert ws.title in ("明细", "二、主动公开", "三、依申请公开", "四、复议诉讼", "_checks"), (ws.title, cell.value)
                    assert HYPERLINK not in str(cell.value) and "cmd|" not in str(cell.value)
                elif isinstance(cell.value, str) and (HYPERLINK in cell.value or CMD in cell.value):
                    seen_text.add(ws.title)
    assert {"明细", "报送情况", "校验结果"} <= seen_text  # shown as text where it occurs
    with open(out.with_suffix(".csv"), encoding="utf-8-sig", newline="") as fh:
        cells = [v for row in csv.reader(fh) for v in row]
    assert not [v for v in cells if v[:1] in ("=", "+", "@") or v.startswith(("-", "\t", "\r")) and not _is_number(v)]
    assert "'" + HYPERLINK in cells  # the unit name, neutralised; the =cmd cell is not a number: empty
    for risky in (HYPERLINK, CMD, "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"):
        assert neutralise(risky) == "'" + risky
    assert neutralise("青禾县") == "青禾县"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("where", ["addin.county.summary.detail_rows", "workbook.build._write_meta"])
def test_a_crash_while_writing_leaves_the_previous_summary_and_no_partial_file(
        where: str, inbox: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = [p for p, _ in inbox["good"].values()][:3]
    out = tmp_path / "汇总.xlsx"
    consolidate(good, out, ConsolidateOptions(name="青禾县人民政府"))
    previous, listing = _sha(out), sorted(p.name for p in tmp_path.iterdir())
    module, name = where.rsplit(".", 1)
    original = getattr(__import__(module, fromlist=[name]), name)

    def boom(*args: Any, **kwargs: Any) -> Any:
        if name == "detail_rows":
            def rows() -> Any:
                yield from list(original(*args, **kwargs))[:1]
                raise RuntimeError("simulated crash half-way through the detail rows")
            return rows()
        raise RuntimeError("simulated crash inside write_report")

    monkeypatch.setattr(f"{module}.{name}", boom)
    with pytest.raises(RuntimeError, match="simulated crash"):
        consolidate(inbox["folder"].glob("*.xlsx"), out, ConsolidateOptions(name="青禾县人民政府"))
    assert _sha(out) == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == listing


def test_units_of_another_edition_are_never_summed_silently(tmp_path: Path, cli) -> None:
    units = county_units(31, 4)
    for u in units[:2]:
        write_report(fake_report(u, YEAR, 31), tmp_path / "in" / f"{u.name}.xlsx")
    for u in units[2:]:
        write_report(fake_report(replace(u), YEAR, 31, edition=load_edition("2019")), tmp_path / "in" / f"{u.name}.xlsx")
    proc = cli(["consolidate", "in", "-o", "out.xlsx", "--name", "青禾县人民政府"], tmp_path)
    assert proc.returncode == 1
    assert proc.stdout.count("表格版本不符") == 2 and "2019 版" in proc.stdout and "共汇总 2 个单位" in proc.stdout
    # two years, half and half, and no --year: refused instead of guessed
    for u in units[2:]:
        write_report(fake_report(u, YEAR - 1, 31), tmp_path / "in" / f"{u.name}.xlsx")
    proc = cli(["consolidate", "in", "-o", "out2.xlsx", "--name", "青禾县人民政府"], tmp_path)
    assert proc.returncode == 2 and "--year" in proc.stderr and not (tmp_path / "out2.xlsx").exists()
