"""The command line's rough edges (issue 12 §3), as a new user meets them.

* ``consolidate`` on a folder of old ``.xls`` files said “请用 --year 指定”: it must say what
  ``validate`` says — old format, save as .xlsx — and nothing about --year;
* ``demo`` showed the seed report as “4 处错误、2 处提示” where ``validate`` says 18 提示;
* ``compare`` of two folders folded a dozen columns into 2–4 characters a cell at 80 columns;
* the README gives ``compare``'s exit codes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from rich.cells import cell_len

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SEED = SAMPLES / "宁海县交通运输局2020年政府信息公开工作年度报告.xlsx"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512  # the start of every old .xls file


def _run(args: list[str], cwd: Path, columns: int = 250) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("nianbao")
    assert exe, "nianbao 命令未安装（pip install -e .）"
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"})


def test_consolidate_of_old_format_files_says_how_to_save_them(tmp_path: Path) -> None:
    inbox = tmp_path / "收文"
    inbox.mkdir()
    for name in ("青禾县教育局.xls", "青禾县公安局.xls"):
        (inbox / name).write_bytes(OLE)
    said = _run(["validate", "收文"], tmp_path)
    proc = _run(["consolidate", "收文"], tmp_path)
    assert proc.returncode == 2
    assert "--year" not in proc.stderr and "--name" not in proc.stderr, proc.stderr
    for name in ("青禾县教育局.xls", "青禾县公安局.xls"):
        assert name in proc.stderr
    reason = re.search(r"：(这是旧版 \.xls 格式[^\n]*)", said.stdout)
    assert reason, said.stdout
    assert reason.group(1) in proc.stderr, "the same reason as validate gives"
    assert "另存为" in proc.stderr and ".xlsx" in proc.stderr
    assert not list(tmp_path.glob("*.xlsx")), "nothing written"


def test_demo_counts_the_seed_as_validate_does(tmp_path: Path) -> None:
    checked = json.loads(_run(["validate", "--json", str(SEED)], tmp_path).stdout)["files"][0]["findings"]
    hard = sum(1 for f in checked if f["severity"] == "hard")
    soft = sum(1 for f in checked if f["severity"] == "soft")
    assert soft > 2, "the seed has many blank-cell hints"
    proc = _run(["demo", "-o", str(tmp_path / "out"), "--samples", str(SAMPLES)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    seed_part = proc.stdout.split("2. ", 1)[1].split("3. ", 1)[0]
    assert f"发现 {hard} 处错误、{soft} 处提示" in seed_part, seed_part[:400]
    left = re.search(r"另有 (\d+) 处提示（(R[\d.]+)[^）]*）未列出", seed_part)
    assert left, "what is not listed is said"
    listed = len(re.findall(r"^│ (?:错误|提示) ", seed_part, flags=re.M))
    assert listed + int(left.group(1)) == hard + soft
    assert sum(1 for f in checked if f["rule"] == left.group(2)) == int(left.group(1))


def test_compare_of_two_folders_reads_at_80_columns(tmp_path: Path) -> None:
    last, this = SAMPLES / "青禾县-2025" / "收文", SAMPLES / "青禾县-2026" / "收文"
    proc = _run(["compare", str(last), str(this)], tmp_path, columns=80)
    assert proc.returncode == 2, "the 2026 inbox holds unreadable files: 2 (see README)"
    doc = json.loads(_run(["compare", str(last), str(this), "--json"], tmp_path).stdout)
    lines = proc.stdout.splitlines()
    assert all(cell_len(line) <= 80 for line in lines)
    for unit in doc["units"]:  # each unit's name whole on a line of its own, with its years
        name = unit["this"]["unit"]
        assert any(line.startswith(name) and f"{unit['last']['year']} → {unit['this']['year']}" in line for line in lines), name
    for label in ("变化的单元格", "变化最大的单元格", "跨年度核对："):  # labels are never folded
        assert sum(label in line for line in lines) == len(doc["units"]), label
    changed = {u["this"]["unit"]: len(u["changes"]) for u in doc["units"]}
    for name, n in changed.items():
        block = proc.stdout.split(name, 1)[1]
        assert re.search(rf"变化的单元格 {n} 处", block.split("\n\n", 1)[0]), name


def test_readme_gives_the_exit_codes_of_compare() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next((x for x in readme.splitlines() if "nianbao compare" in x and "退出码" in x), "")
    assert "0" in line and "1" in line and "2" in line, "README: nianbao compare 的退出码"
