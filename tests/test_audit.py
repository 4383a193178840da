"""``nianbao audit``: a folder of published reports (and workbooks) imported and validated at once;
a county's own report checked against the sum of its units' reports, and the missing units named.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable

import openpyxl
import pytest
from test_import_writers import P3_COLUMNS, P3_ROWS, Published, html_page, numbers, sample, tab_dump, write_docx

from addin.county.audit import audit, find_inputs, read_register
from addin.county.register import RegisterError
from workbook.samples import load_transcription

ROOT = Path(__file__).resolve().parents[1]
SEED_TXT = ROOT / "samples" / "published" / "宁海县交通运输局2020年政府信息公开工作年度报告.txt"
CHILDREN = ("青禾县教育局", "青禾县公安局", "青禾县城关镇人民政府")
MISSING = "青禾县桥头镇人民政府"
PARENT = "青禾县人民政府"
P4_CELLS = [f"part4.main.cases.{g}_{r}" for g in ("review", "direct", "after")
            for r in ("upheld", "corrected", "other", "pending", "total")]
OFF_BY = 2


def _county(folder: Path) -> dict[str, Published]:
    """Three units published as text, web page and Word; the county's report as a web page whose
    Parts 三 and 四 are the units' sums except one cell, which is ``OFF_BY`` too high."""
    folder.mkdir(parents=True, exist_ok=True)
    kids = [sample(unit=name, seed=i + 1) for i, name in enumerate(CHILDREN)]
    (folder / "教育局.txt").write_text(tab_dump(kids[0]), encoding="utf-8")
    (folder / "公安局.html").write_bytes(html_page(kids[1]))
    write_docx(kids[2], folder / "城关镇.docx")
    parent = sample(unit=PARENT, seed=9)
    cells = [f"part3.main.{r}.{c}" for r, _ in P3_ROWS["2021"] for c in P3_COLUMNS] + P4_CELLS
    for cid in cells:
        parent.cells[cid] = str(sum(int(k.cells[cid]) for k in kids))
    parent.cells["part3.main.public.natural"] = str(int(parent.cells["part3.main.public.natural"]) + OFF_BY)
    (folder / "县政府.html").write_bytes(html_page(parent))
    return {p.unit: p for p in (*kids, parent)}


def _register(path: Path) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["单位名称", "统一社会信用代码", "单位类型"])
        for name in (*CHILDREN, MISSING):
            w.writerow([name, "", ""])
    return path


def test_parent_against_the_sum_of_its_children(tmp_path: Path) -> None:
    pubs = _county(tmp_path / "公开")
    result = audit(find_inputs([tmp_path / "公开"]), units=_register(tmp_path / "名单.csv"))
    assert len(result.entries) == 4 and all(e.report is not None for e in result.entries)
    pc = result.parent
    assert pc is not None and pc.parent.unit == PARENT
    assert sorted(e.unit for e in pc.children) == sorted(CHILDREN)
    # the test's own sums: only the cell made wrong differs, by OFF_BY
    kids = [numbers(pubs[n]) for n in CHILDREN]
    mine = numbers(pubs[PARENT])
    expected = {cid for cid in mine if cid.startswith(("part3", "part4")) and mine[cid] != sum(k[cid] for k in kids)}
    assert expected == {"part3.main.public.natural"}
    assert [(d.cell, d.difference) for d in pc.diffs] == [("part3.main.public.natural", OFF_BY)]
    assert pc.diffs[0].row == "（一）予以公开" and pc.diffs[0].column == "自然人"
    assert pc.missing == [MISSING] and pc.unlisted == []
    # the wrong cell also breaks the county report's own balance
    parent_rules = {f.rule for f in pc.parent.result.findings}
    assert {"R3.2", "R3.3"} <= parent_rules
    assert result.exit_code() == 1


def test_units_by_rules_with_the_seed_and_a_broken_file(tmp_path: Path) -> None:
    folder = tmp_path / "收文"
    folder.mkdir()
    shutil.copyfile(SEED_TXT, folder / SEED_TXT.name)
    (folder / "某局年报.pdf").write_bytes(b"%PDF-1.4 ...")
    good = sample(unit="青禾县卫生健康局", seed=4)
    (folder / "卫健局.htm").write_bytes(html_page(good))
    result = audit(find_inputs([folder]))
    by_unit = {e.unit: e for e in result.entries if e.report}
    seed = by_unit["宁海县交通运输局"]
    assert {r for r, n in result.counts(seed).items() if n} >= {"R3.1", "R3.2", "R3.3", "R4.3"}
    assert not by_unit["青禾县卫生健康局"].result.hard
    broken = next(e for e in result.entries if e.report is None)
    assert broken.path.suffix == ".pdf" and "PDF" in broken.result.error
    rules = result.rules()
    assert rules.index("R3.1") < rules.index("R0.1")  # errors before warnings
    assert result.parent is None and result.exit_code() == 2


def test_register_from_csv_and_xlsx(tmp_path: Path) -> None:
    assert read_register(_register(tmp_path / "名单.csv")) == [*CHILDREN, MISSING]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["序号", "单位名称"])
    for i, n in enumerate(CHILDREN, 1):
        ws.append([i, n])
    wb.save(tmp_path / "名单.xlsx")
    assert read_register(tmp_path / "名单.xlsx") == list(CHILDREN)


def test_audit_command_json_and_xlsx(tmp_path: Path, cli: Callable[[list[str], Path], subprocess.CompletedProcess[str]],
                                     sha256: Callable[[Path], str]) -> None:
    pubs = _county(tmp_path / "公开")
    register = _register(tmp_path / "名单.csv")
    before = {p: sha256(p) for p in (tmp_path / "公开").iterdir()}
    proc = cli(["audit", str(tmp_path / "公开"), "--units", str(register), "--json", "--xlsx", str(tmp_path / "核查.xlsx")],
               tmp_path)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    cid = "part3.main.public.natural"
    children_sum = sum(numbers(pubs[n])[cid] for n in CHILDREN)
    assert doc["parent"]["unit"] == PARENT and doc["parent"]["missing"] == [MISSING]
    assert doc["parent"]["differences"] == [{"cell": cid, "table": "三、收到和处理政府信息公开申请情况", "row": "（一）予以公开",
                                             "column": "自然人", "parent": children_sum + OFF_BY,
                                             "children_sum": children_sum, "difference": OFF_BY}]
    assert {f["unit"] for f in doc["files"]} == {*CHILDREN, PARENT}
    assert all(f["source"] in ("text", "html", "docx") for f in doc["files"])
    wb = openpyxl.load_workbook(tmp_path / "核查.xlsx")
    assert wb.sheetnames[:3] == ["单位×规则", "问题清单", "未能录入"] and "上下级核对" in wb.sheetnames
    matrix = wb["单位×规则"]
    header = [c.value for c in matrix[1]]
    row = next(r for r in matrix.iter_rows(min_row=2, values_only=True) if r[0] == PARENT)
    assert row[header.index("R3.2")] == 1
    diff = wb["上下级核对"]
    assert [c.value for c in diff[5]][:6] == ["三、收到和处理政府信息公开申请情况", "（一）予以公开", "自然人",
                                               children_sum + OFF_BY, children_sum, OFF_BY]
    assert {p: sha256(p) for p in (tmp_path / "公开").iterdir()} == before
    terminal = cli(["audit", str(tmp_path / "公开"), "--parent", str(tmp_path / "公开" / "县政府.html")], tmp_path)
    assert terminal.returncode == 1
    assert "上级与下级合计核对" in terminal.stdout and "未给单位名单" in terminal.stdout
    assert "（一）予以公开" in terminal.stdout


def test_audit_of_workbooks_and_the_seed_transcription(tmp_path: Path,
                                                       cli: Callable[[list[str], Path], subprocess.CompletedProcess[str]]) -> None:
    """Our own workbooks are audited as they are, alongside published reports."""
    inbox = ROOT / "samples" / "青禾县-2026" / "收文"
    proc = cli(["audit", str(inbox), str(SEED_TXT), "--json"], tmp_path)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 2  # the damaged 附件1.xlsx
    units = {f["unit"] for f in doc["files"] if not f.get("error")}
    assert "宁海县交通运输局" in units and "青禾县公安局" in units
    seed = next(f for f in doc["files"] if f["unit"] == "宁海县交通运输局")
    transcribed = load_transcription(SEED_TXT.with_suffix(".toml"))
    assert seed["source"] == "text" and seed["edition"] == transcribed.edition_key
    assert any(f.get("error") for f in doc["files"] if f["path"].endswith("附件1.xlsx"))


def test_a_township_that_published_rules_is_flagged(tmp_path: Path) -> None:
    """The unit type is told from the name (乡镇人民政府), so R2.4 applies to a published report."""
    pub = sample(unit="青禾县桥头镇人民政府", seed=6)
    pub.cells["part2.a1.rules.issued"] = "3"
    (tmp_path / "桥头镇.txt").write_text(tab_dump(pub), encoding="utf-8")
    entry = audit([tmp_path / "桥头镇.txt"]).entries[0]
    assert entry.report is not None and entry.report.cover["unit_type"] == "乡镇人民政府"
    assert "R2.4" in {f.rule for f in entry.result.findings}


def _damaged(path: Path) -> Path:
    """The first bytes of a workbook and nothing more: a zip without its directory."""
    path.write_bytes(b"PK\x03\x04" + b"\x14\x00" * 40)
    return path


def test_a_register_is_read_like_the_consolidations_and_a_damaged_one_refused(tmp_path: Path) -> None:
    damaged = _damaged(tmp_path / "名单.xlsx")
    with pytest.raises(RegisterError, match="名单.xlsx") as exc:
        read_register(damaged)
    assert re.search("[\u4e00-\u9fff]{4}", str(exc.value)) and not re.search("[A-Za-z]{4,}Error", str(exc.value))
    _county(tmp_path / "公开")
    with pytest.raises(RegisterError):
        audit(find_inputs([tmp_path / "公开"]), units=damaged)
    # as offices keep it: a title above the header, saved by Excel on a Chinese PC (GBK)
    lines = ["青禾县2026年度报送单位名单", "", "序号,单位名称,单位类型", *[f"{i},{n}," for i, n in enumerate(CHILDREN, 1)]]
    (tmp_path / "名单.csv").write_bytes("\n".join(lines).encode("gbk"))
    assert read_register(tmp_path / "名单.csv") == list(CHILDREN)


def test_the_audit_command_refuses_a_damaged_register_in_chinese(tmp_path: Path,
                                                                 cli: Callable[[list[str], Path], subprocess.CompletedProcess[str]]) -> None:
    _county(tmp_path / "公开")
    _damaged(tmp_path / "名单.xlsx")
    proc = cli(["audit", "公开", "--units", "名单.xlsx"], tmp_path)
    assert proc.returncode == 2 and "名单.xlsx" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
