"""The seed: a real published report (宁海县交通运输局 2020, a tab dump) imported from its text.

Importing it must give the hand-made sample workbook's numbers — and its published totals, which
do not add up — and validating the import must find the seed's real mistakes.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Callable

import openpyxl
import pytest

from checks import validate_report
from workbook.published import import_report, write_imported
from workbook.read import read_report
from workbook.samples import load_transcription

ROOT = Path(__file__).resolve().parents[1]
NAME = "宁海县交通运输局2020年政府信息公开工作年度报告"
SEED_TXT = ROOT / "samples" / "published" / f"{NAME}.txt"
SEED_TOML = ROOT / "samples" / "published" / f"{NAME}.toml"
SEED_XLSX = ROOT / "samples" / f"{NAME}.xlsx"


def test_seed_text_imports_to_the_sample_workbook(tmp_path: Path) -> None:
    imported = import_report(SEED_TXT)
    out = write_imported(imported, tmp_path / f"{NAME}.xlsx")
    back, sample = read_report(out), read_report(SEED_XLSX)
    assert back.edition_key == sample.edition_key == "2019"
    assert back.numbers == sample.numbers
    # every cell as published, the wrong totals included — except that a number written so that a
    # spreadsheet cannot add it up is stored as the number it means, its writing kept as the note
    money = "part2.a9.procurement.amount"
    assert sample.raw[money] == "1．2678万元" and back.raw[money] == pytest.approx(1.2678)
    assert {k: v for k, v in back.raw.items() if k != money} == {k: v for k, v in sample.raw.items() if k != money}
    assert imported.report.published == {money: "1．2678万元"}
    sheet = openpyxl.load_workbook(out)[back.edition.table("part2").sheet]
    noted = {c.comment.text for row in sheet.iter_rows() for c in row if c.comment}
    assert noted == {"公开发布的写法：1．2678万元"}
    assert back.unknown == frozenset() and imported.placed == imported.cells == 198  # the 2019 edition's cells
    derived = [c.id for c in back.edition.derived_cells]
    assert [back.raw[c] for c in derived] == [sample.raw[c] for c in derived]
    assert back.source == "published"
    assert back.unit == "宁海县交通运输局" and back.year == 2020
    assert imported.problems == []


def test_seed_texts_equal_the_transcription() -> None:
    imported = import_report(SEED_TXT)
    transcribed = load_transcription(SEED_TOML)
    for key in ("overview", "problems", "other"):
        assert imported.report.texts[key] == transcribed.texts[key], key


def test_seed_import_finds_the_real_mistakes() -> None:
    findings = validate_report(import_report(SEED_TXT).report)
    hard = {(f.rule, f.row, f.column) for f in findings if f.severity == "hard"}
    assert hard == {("R3.1", "（七）总计", "商业企业"), ("R3.2", "（七）总计", "商业企业"),
                    ("R3.3", "（七）总计", "总计"), ("R4.3", "", "复议后起诉 · 总计")}


def test_seed_normalisations_are_logged_with_their_lines() -> None:
    imported = import_report(SEED_TXT)
    lines = SEED_TXT.read_text(encoding="utf-8").splitlines()
    money = next(n for n in imported.notes if n.cell == "part2.a9.procurement.amount")
    number = int(money.where.strip("第 行"))
    assert lines[number - 1].strip() == "1．2678万元"
    assert "全角字符" in money.detail and "1.2678" in money.detail
    blanks = [n for n in imported.notes if n.kind == "blank"]
    assert len(blanks) == 8 + 3 + 5  # the item rows of （三）（四）（五） were published blank
    label = next(n for n in imported.notes if n.kind == "label" and "制作数量" in n.found)
    assert "空格或换行" in label.detail


def test_import_command_on_the_seed(tmp_path: Path, cli: Callable[[list[str], Path], subprocess.CompletedProcess[str]],
                                    sha256: Callable[[Path], str]) -> None:
    src = tmp_path / "in" / SEED_TXT.name
    src.parent.mkdir()
    shutil.copyfile(SEED_TXT, src)
    before = sha256(src)
    proc = cli(["import", str(src), "-o", str(tmp_path / "out")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out" / f"{NAME}.xlsx"
    assert read_report(out).numbers == read_report(SEED_XLSX).numbers
    assert "已规范的写法" in proc.stdout and "1．2678万元" in proc.stdout and "第 90 行" in proc.stdout
    assert "发现 4 处错误" in proc.stdout
    assert sha256(src) == before
    again = cli(["import", str(src), "-o", str(tmp_path / "out")], tmp_path)  # our own output is replaced
    assert again.returncode == 0, again.stderr
    check = cli(["validate", str(out)], tmp_path)
    assert check.returncode == 1 and "R3.1" in check.stdout and "R4.3" in check.stdout
