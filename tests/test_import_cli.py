"""``nianbao import`` as the office runs it: several files, JSON, exit codes, and never
overwriting a file it did not write."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Callable

from test_import_writers import html_page, sample, tab_dump

from workbook.read import read_report

Cli = Callable[[list[str], Path], subprocess.CompletedProcess[str]]


def test_import_several_files_as_json(tmp_path: Path, cli: Cli) -> None:
    a, b = sample(unit="青禾县教育局", seed=1), sample(unit="青禾县公安局", edition="2019", year=2020, seed=2)
    (tmp_path / "教育局.txt").write_text(tab_dump(a), encoding="utf-8")
    (tmp_path / "公安局.html").write_bytes(html_page(b))
    proc = cli(["import", str(tmp_path / "教育局.txt"), str(tmp_path / "公安局.html"), "-o", str(tmp_path / "out"),
                "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(f["unit"], f["year"], f["edition"]) for f in doc["files"]] == [("青禾县教育局", 2026, "2021"),
                                                                           ("青禾县公安局", 2020, "2019")]
    assert all(f["problems"] == [] and f["hard_findings"] == 0 for f in doc["files"])
    for f in doc["files"]:
        assert read_report(f["output"]).unit == f["unit"]


def test_left_out_content_gives_exit_code_1_and_is_listed(tmp_path: Path, cli: Cli) -> None:
    pub = sample(seed=3)
    text = tab_dump(pub, skip=("part4",))
    (tmp_path / "缺表.txt").write_text(text, encoding="utf-8")
    proc = cli(["import", str(tmp_path / "缺表.txt"), "-o", str(tmp_path)], tmp_path)
    assert proc.returncode == 1
    assert "未能录入" in proc.stdout and "四、政府信息公开行政复议、行政诉讼情况" in proc.stdout
    assert (tmp_path / "缺表.xlsx").exists()


def test_never_overwrites_a_workbook_it_did_not_write(tmp_path: Path, cli: Cli, sha256: Callable[[Path], str]) -> None:
    pub = sample(seed=4)
    (tmp_path / "年报.txt").write_text(tab_dump(pub), encoding="utf-8")
    theirs = tmp_path / "年报.xlsx"
    theirs.write_bytes(b"PK\x03\x04 someone's own workbook")
    before = sha256(theirs)
    proc = cli(["import", str(tmp_path / "年报.txt"), "-o", str(tmp_path)], tmp_path)
    assert proc.returncode == 2 and "未覆盖" in proc.stderr
    assert sha256(theirs) == before


def test_unsupported_and_missing_files(tmp_path: Path, cli: Cli) -> None:
    (tmp_path / "年报.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64)
    proc = cli(["import", str(tmp_path / "年报.doc"), str(tmp_path / "没有这个文件.txt"), "-o", str(tmp_path)], tmp_path)
    assert proc.returncode == 2
    assert "另存为" in proc.stderr and ".docx" in proc.stderr
    assert "Traceback" not in proc.stderr and "不存在" in proc.stderr
