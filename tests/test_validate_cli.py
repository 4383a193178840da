"""``nianbao validate`` as the county office runs it: the real console script, real files.

Exit status 0 (no hard finding), 1 (a hard finding), 2 (a file could not be read, with its
reason); ``--json`` with exactly the promised keys; ``--previous`` with a file or last year's
folder; a bounded table; never a traceback, never a modified input.

Every command is started once, all of them concurrently, by the module fixture ``runs`` (each
run pays the interpreter's start-up); the tests then read what each printed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from workbook.build import BuildOptions, write_report
from workbook.report import Report
from workbook.samples import county_units, fake_report

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SEED = SAMPLES / "宁海县交通运输局2020年政府信息公开工作年度报告.xlsx"
INBOX = SAMPLES / "青禾县-2026" / "收文"
LAST_YEAR = SAMPLES / "青禾县-2025" / "收文"
TRANSPORT, EDUCATION = "青禾县交通运输局.xlsx", "青禾县教育局.xlsx"
FILE_KEYS = {"path", "unit", "year", "edition", "findings"}
FINDING_KEYS = {"rule", "severity", "sheet", "cell", "row", "column", "found", "expected", "message", "explanation"}
BAD = {"没有这个文件.xlsx": "不存在", "说明.xlsx": "不是 Excel 工作簿", "空.xlsx": "文件为空",
       "文档.xlsx": "不是 Excel 工作簿", "旧格式.xls": "另存为"}


def clean_report(index: int = 1) -> Report:
    """A generated unit report without mistakes (its totals are written as formulas)."""
    return fake_report(county_units(n=20)[index], 2026, seed=3)


def _files(tmp: Path) -> dict[str, Path]:
    """Every input the commands below need, made in ``tmp``."""
    out = {"clean": write_report(clean_report(), tmp / "good" / "干净.xlsx"),
           "new_unit": write_report(clean_report(17), tmp / "new" / "新单位.xlsx")}
    many = clean_report()
    for cell in [c for c in many.edition.input_cells if c.table == "part3"][:60]:
        many.raw[cell.id] = "见附表"
    out["many"] = write_report(many, tmp / "many" / "很多问题.xlsx", BuildOptions(derived="value"))
    bad = tmp / "bad"
    bad.mkdir()
    (bad / "说明.xlsx").write_text("这不是表格", encoding="utf-8")
    (bad / "空.xlsx").write_bytes(b"")
    with zipfile.ZipFile(bad / "文档.xlsx", "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    (bad / "旧格式.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    (tmp / "empty").mkdir()
    (tmp / "empty" / "readme.txt").write_text("x", encoding="utf-8")
    (tmp / "prev").mkdir()
    (tmp / "prev" / "损坏的上年.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    out.update(bad=bad, empty=tmp / "empty", prev_damaged=tmp / "prev" / "损坏的上年.xlsx",
               prev_missing=tmp / "prev" / "不存在的上年.xlsx")
    return out


def _commands(f: dict[str, Path]) -> dict[str, list[Any]]:
    return {
        "clean": [f["clean"]],
        "seed": [SEED],
        "json_two": [SEED, f["clean"], "--json"],
        "inbox": [INBOX],
        "inbox_json": [INBOX, "--json"],
        "previous": [INBOX / TRANSPORT, "--previous", LAST_YEAR / TRANSPORT, "--json"],
        "alone": [INBOX / TRANSPORT, "--json"],
        "other_unit": [INBOX / TRANSPORT, "--previous", LAST_YEAR / EDUCATION],
        "other_unit_json": [INBOX / TRANSPORT, "--previous", LAST_YEAR / EDUCATION, "--json"],
        "prev_folder": [INBOX / TRANSPORT, INBOX / EDUCATION, INBOX / "青禾县卫生健康局.xlsx", f["new_unit"],
                        "--previous", LAST_YEAR, "--json"],
        "bad": [*(f["bad"] / name for name in BAD), f["clean"]],
        "empty": [f["empty"]],
        "prev_missing": [INBOX / TRANSPORT, "--previous", f["prev_missing"]],
        "prev_damaged": [INBOX / TRANSPORT, "--previous", f["prev_damaged"]],
        "many": [f["many"]],
        "many_json": [f["many"], "--json"],
    }


def digest(paths: list[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    exe = shutil.which("nianbao")
    assert exe, "the console script nianbao is not on PATH (pip install -e .)"
    files = _files(tmp_path_factory.mktemp("cli"))
    inputs = sorted(p for folder in (INBOX, LAST_YEAR) for p in folder.rglob("*") if p.is_file()) + [SEED]
    before = digest(inputs)
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}

    def run(args: list[Any]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, "validate", *map(str, args)], capture_output=True, text=True, timeout=180,
                              env=env, cwd=ROOT)

    commands = _commands(files)
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = dict(zip(commands, pool.map(run, commands.values())))
    assert digest(inputs) == before, "validating must not modify any input file"
    return done


def doc(runs: dict[str, subprocess.CompletedProcess[str]], name: str) -> dict[str, Any]:
    return json.loads(runs[name].stdout)


def test_never_a_traceback(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    for name, proc in runs.items():
        assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, (name, proc.stderr)
        assert proc.returncode in {0, 1, 2}, name


def test_clean_file_exits_0(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    proc = runs["clean"]
    assert proc.returncode == 0, proc.stdout
    assert "校验通过" in proc.stdout and "共 1 个文件：1 个无错误" in proc.stdout


def test_seed_exits_1_with_its_mistakes_first(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    proc = runs["seed"]
    assert proc.returncode == 1
    assert "（七）总计 · 商业企业 填写为 1，但各项办理结果之和为 0" in proc.stdout
    assert "4 处错误" in proc.stdout
    levels = ["错误" if "│ 错误" in ln else "提示" for ln in proc.stdout.splitlines() if "│ 错误" in ln or "│ 提示" in ln]
    assert levels[:4] == ["错误"] * 4 and "错误" not in levels[4:], "hard findings are listed first"


def test_json_output_has_exactly_the_promised_keys(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert runs["json_two"].returncode == 1
    d = doc(runs, "json_two")
    assert set(d) == {"files"}
    assert [Path(f["path"]).name for f in d["files"]] == [SEED.name, "干净.xlsx"]
    for f in d["files"]:
        assert set(f) == FILE_KEYS
        for finding in f["findings"]:
            assert set(finding) == FINDING_KEYS
    seed = d["files"][0]
    assert (seed["unit"], seed["year"], seed["edition"]) == ("宁海县交通运输局", 2020, "2019")
    assert sorted(x["rule"] for x in seed["findings"] if x["severity"] == "hard") == ["R3.1", "R3.2", "R3.3", "R4.3"]


def test_unreadable_files_exit_2_with_their_reason(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    proc = runs["inbox"]
    assert proc.returncode == 2
    [damaged] = [ln for ln in proc.stdout.splitlines() if "附件1.xlsx" in ln]
    assert "文件已损坏" in damaged
    [lock] = [ln for ln in proc.stdout.splitlines() if "~$" in ln]
    assert "临时锁定文件" in lock
    assert "2 个无法读取" in proc.stdout
    assert runs["inbox_json"].returncode == 2
    files = doc(runs, "inbox_json")["files"]
    broken = {Path(f["path"]).name: f for f in files if "error" in f}
    assert set(broken) == {"附件1.xlsx", "~$青禾县公安局.xlsx"}
    assert all(set(f) == FILE_KEYS | {"error"} and f["findings"] == [] for f in broken.values())
    assert "损坏" in broken["附件1.xlsx"]["error"]
    readable = [f for f in files if "error" not in f]
    assert len(readable) == 14 and all(set(f) == FILE_KEYS for f in readable)


def _labelled(path: Path, sheet: str, row_label: str, col_label: str) -> Any:
    """A number read with openpyxl by its printed row and column labels (no layout code)."""
    ws = openpyxl.load_workbook(path, data_only=True)[sheet]
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    r = next(c.row for c in cells if c.value == row_label)
    col = next(c.column for c in cells if c.value == col_label)
    return ws.cell(r, col).value


def test_previous_file_compares_carried_over_applications(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    [f] = doc(runs, "previous")["files"]
    natural = next(x for x in f["findings"] if x["rule"] == "R3.5" and x["column"] == "自然人")
    carried = _labelled(INBOX / TRANSPORT, "三、依申请公开", "二、上年结转政府信息公开申请数量", "自然人")
    carry_next = _labelled(LAST_YEAR / TRANSPORT, "三、依申请公开", "四、结转下年度继续办理", "自然人")
    assert carried != carry_next
    assert (float(natural["found"]), float(natural["expected"])) == (carried, carry_next)
    assert natural["severity"] == "soft" and runs["previous"].returncode == 0
    assert not [x for x in doc(runs, "alone")["files"][0]["findings"] if x["rule"] == "R3.5"]


def test_previous_of_another_unit_is_a_hard_finding(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert runs["other_unit"].returncode == 1 and runs["other_unit_json"].returncode == 1
    rules = [x["rule"] for x in doc(runs, "other_unit_json")["files"][0]["findings"]]
    assert "P0.1" in rules and "R3.5" not in rules
    assert "青禾县教育局" in runs["other_unit"].stdout and "无法做跨年度比对" in runs["other_unit"].stdout


def test_previous_folder_matches_each_unit(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    by_unit = {f["unit"]: {x["rule"] for x in f["findings"]} for f in doc(runs, "prev_folder")["files"]}
    assert len(by_unit) == 4
    assert "P0.1" not in set().union(*by_unit.values())
    assert "R3.5" in by_unit["青禾县交通运输局"]
    assert not {"R3.5", "R2.2"} & (by_unit["青禾县教育局"] | by_unit["青禾县卫生健康局"])
    new_unit = clean_report(17).unit
    assert not {"P0.1", "R3.5", "R2.2"} & by_unit[new_unit]  # no report last year: not compared


def test_bad_inputs_exit_2_each_with_its_reason(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    proc = runs["bad"]
    assert proc.returncode == 2, proc.stdout + proc.stderr
    for name, reason in BAD.items():
        [line] = [ln for ln in proc.stdout.splitlines() if name in ln]
        assert reason in line, line
    assert "校验通过" in proc.stdout  # the good file among them is still validated
    assert f"{len(BAD)} 个无法读取" in proc.stdout


def test_folder_without_workbooks_exits_2(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    assert runs["empty"].returncode == 2
    assert "没有找到任何 Excel 文件" in runs["empty"].stderr


@pytest.mark.parametrize("name", ["prev_missing", "prev_damaged"])
def test_bad_previous_exits_2(runs: dict[str, subprocess.CompletedProcess[str]], name: str) -> None:
    proc = runs[name]
    assert proc.returncode == 2
    assert "上年报告无法读取" in proc.stderr and "上年.xlsx" in proc.stderr


def test_many_findings_are_bounded(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    total = len(doc(runs, "many_json")["files"][0]["findings"])
    assert runs["many_json"].returncode == 1 and total > 60
    proc = runs["many"]
    shown = [ln for ln in proc.stdout.splitlines() if "│ 错误" in ln or "│ 提示" in ln]
    assert len(shown) == 40
    assert f"…还有 {total - 40} 处" in proc.stdout
