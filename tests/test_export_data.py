"""CSV and JSON long format, and the ``nianbao export`` command as a user runs it.

The CSV must open in Excel with the Chinese intact (UTF-8 with BOM) and must never start a formula
(a ``=HYPERLINK(…)`` typed into a cover field comes out with a leading apostrophe); every number
must be the workbook's, read here with openpyxl.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from addin.publish.data import ExportRefused, export_csv, export_json
from workbook.build import write_report
from workbook.layout import layout_for
from workbook.read import read_report

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "samples" / "宁海县交通运输局2020年政府信息公开工作年度报告.xlsx"
UNIT = ROOT / "samples" / "青禾县-2026" / "收文" / "青禾县交通运输局.xlsx"
HYPERLINK = '=HYPERLINK("http://example.com/x","点此查看")'
RISKY = ("=", "+", "-", "@", "\t", "\r")


def openpyxl_numbers(path: Path) -> dict[str, float]:
    lay = layout_for("2021")
    wb = openpyxl.load_workbook(path, data_only=True)
    return {c.id: float(wb[lay.sheet_of(c.id)].cell(lay.pos(c.id)[0] + 1, lay.pos(c.id)[1] + 1).value or 0)
            for c in lay.edition.cells}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid 2021 unit whose cover and text carry formula-like text."""
    report = read_report(UNIT)
    report = dataclasses.replace(report, cover={**report.cover, "parent": HYPERLINK, "phone": "+86 574 6094 6342"},
                                 texts={**report.texts, "other": "@所有人：本年度未收取信息处理费。"})
    return write_report(report, tmp_path_factory.mktemp("hostile") / "单位.xlsx")


def test_csv_has_a_bom_and_every_number_of_the_workbook(hostile: Path, tmp_path: Path) -> None:
    out = export_csv(hostile, tmp_path / "单位.csv")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\xef\xbb\xbf") == 1
    frame = pd.read_csv(out, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["单位", "年度", "部分", "分组", "行", "列", "编号", "位置", "值"]
    expected = openpyxl_numbers(hostile)
    cells = frame[frame["编号"].isin(expected)]
    assert len(cells) == len(expected)
    for cid, value in zip(cells["编号"], cells["值"], strict=True):
        assert float(value) == pytest.approx(expected[cid]), cid
    row = cells[cells["编号"] == "part3.main.withheld_safety.natural"].iloc[0]
    assert (row["部分"], row["行"], row["列"]) == (
        "三、收到和处理政府信息公开申请情况", "三、本年度办理结果·（三）不予公开·3.危及“三安全一稳定”", "申请人情况·自然人")
    money = cells[cells["编号"].str.endswith(".fees.amount")].iloc[0]
    assert money["列"].endswith("（单位：万元）")


def test_csv_never_starts_a_formula(hostile: Path, tmp_path: Path) -> None:
    out = export_csv(hostile, tmp_path / "单位.csv")
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    by_id = {r[6]: r for r in rows[1:]}
    assert by_id["cover.parent"][8] == "'" + HYPERLINK
    assert by_id["cover.phone"][8] == "'+86 574 6094 6342"
    assert by_id["text.other"][8].startswith("'@所有人")
    for r in rows:
        for field in r:
            if field.startswith(RISKY):
                assert re.fullmatch(r"-\d+(\.\d+)?", field), f"a field starts a formula: {field!r}"


def test_json_long_format_matches_the_workbook(tmp_path: Path) -> None:
    out = export_json(UNIT, tmp_path / "单位.json")
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["title"] == "青禾县交通运输局2026年政府信息公开工作年度报告"
    assert doc["edition"] == "2021" and doc["year"] == 2026 and doc["unresolved_findings"] == []
    expected = openpyxl_numbers(UNIT)
    values = {r["cell"]: r["value"] for r in doc["records"]}
    for cid, v in expected.items():
        assert values[cid] == pytest.approx(v)
    parts = list(dict.fromkeys(r["part"] for r in doc["records"]))
    assert parts == ["封面", "一、总体情况", "二、主动公开政府信息情况", "三、收到和处理政府信息公开申请情况",
                     "四、政府信息公开行政复议、行政诉讼情况", "五、存在的主要问题及改进情况", "六、其他需要报告的事项"]


def test_forced_data_exports_start_with_the_notice(tmp_path: Path) -> None:
    with pytest.raises(ExportRefused):
        export_csv(SEED, tmp_path / "a.csv")
    assert not (tmp_path / "a.csv").exists()
    out = export_csv(SEED, tmp_path / "a.csv", force=True)
    first = out.read_text(encoding="utf-8-sig").splitlines()[0]
    assert "4 处未解决的错误" in first and "R3.1、R3.2、R3.3、R4.3" in first
    doc = json.loads(export_json(SEED, tmp_path / "a.json", force=True).read_text(encoding="utf-8"))
    assert sorted(f["rule"] for f in doc["unresolved_findings"]) == ["R3.1", "R3.2", "R3.3", "R4.3"]
    assert "未解决的错误" in doc["notice"]
    stated = {r["cell"]: r["value"] for r in doc["records"]}
    assert stated["part3.main.total.business"] == 1, "forced: the total as published, not corrected"
    assert stated["part2.a9.procurement.amount"] == pytest.approx(1.2678)


def test_cli_export_refuses_then_forces(cli: Any, tmp_path: Path, sha256: Any) -> None:
    seed = tmp_path / "seed.xlsx"
    shutil.copyfile(SEED, seed)
    before = sha256(seed)
    proc = cli(["export", str(seed), "--to", "csv"], tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "--force" in proc.stderr and "R3.1" in proc.stdout
    assert not seed.with_suffix(".csv").exists()
    proc = cli(["export", str(seed), "--to", "csv,json,html", "--force", "-o", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    made = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert made == ["seed-片段.html", "seed.csv", "seed.html", "seed.json"]
    assert "未解决的错误" in proc.stderr
    assert sha256(seed) == before, "the workbook itself is never modified"


def test_cli_export_bad_format_and_unreadable_file(cli: Any, tmp_path: Path) -> None:
    proc = cli(["export", str(UNIT), "--to", "xls"], tmp_path)
    assert proc.returncode == 2 and "未知的导出格式" in proc.stderr
    broken = tmp_path / "坏.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really")
    proc = cli(["export", str(broken), "--to", "docx"], tmp_path)
    assert proc.returncode == 2 and "无法读取" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("start", RISKY)
def test_every_formula_start_is_neutralised_in_csv_but_numbers_stay_numbers(start: str) -> None:
    """The CSV door, fed directly (the reader would strip a leading tab or CR from a file's cells):
    each of = + - @ tab CR at the start of a text gets the apostrophe; the signed 2019 column's
    negative number is written as the number it is."""
    from addin.publish.data import prepare, to_csv

    seed = read_report(SEED)
    cid = "part2.a5.licensing.change"
    risky = start + "SUM(A1:A9)"
    report = dataclasses.replace(seed, cover={**seed.cover, "unit_name": risky, "phone": risky},
                                 texts={**seed.texts, "problems": risky}, raw={**seed.raw, cid: -8.0})
    rows = list(csv.reader(io.StringIO(to_csv(prepare(report, force=True)), newline="")))
    header = rows.index(["单位", "年度", "部分", "分组", "行", "列", "编号", "位置", "值"])
    by_id = {r[6]: r for r in rows[header + 1:]}
    assert by_id["cover.phone"][8] == "'" + risky and by_id["text.problems"][8] == "'" + risky
    assert all(r[0] == "'" + risky for r in rows[header + 1:])  # the unit column of every row
    assert by_id[cid][8] == "-8"
    for r in rows:
        for field in r:
            assert not field.startswith(RISKY) or re.fullmatch(r"-\d+(\.\d+)?", field), field
