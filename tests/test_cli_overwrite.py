"""What the commands write next to the user's files: never over a file that is not theirs, no
temporary debris left by a killed run, and no draft copy inside a folder being collected.

* ``consolidate -o 其他.xlsx`` and ``export`` used to replace whatever file had that name;
* a ``kill -9`` mid-write left ``.~sum.XXXXXXXX.xlsx``, ``.~nianbao-*`` and ``nianbao-spool-*``;
* ``nianbao draft 收文/x.xlsx`` wrote ``x-总体情况.xlsx`` into the inbox, and the next consolidation
  took that copy instead of the unit's own file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

ROOT = Path(__file__).resolve().parents[1]
INBOX = ROOT / "samples" / "青禾县-2026" / "收文"
UNITS = ["青禾县教育局.xlsx", "青禾县交通运输局.xlsx", "青禾县人力资源和社会保障局.xlsx"]
NAME = "青禾县人民政府"
HOUR = 3600


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("nianbao")
    assert exe, "nianbao 命令未安装（pip install -e .）"
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "250", "NO_COLOR": "1", **env})


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _inbox(root: Path) -> Path:
    inbox = root / "收文"
    inbox.mkdir()
    for name in UNITS:
        shutil.copyfile(INBOX / name, inbox / name)
    return inbox


def _someone_elses_workbook(path: Path) -> Path:
    wb = openpyxl.Workbook()
    wb.active.append(["科室经费台账", 2026])
    wb.save(path)
    return path


# --- 1. replacing only our own earlier outputs ----------------------------------------------------

def test_consolidate_keeps_an_unrelated_workbook_unless_told(tmp_path: Path) -> None:
    _inbox(tmp_path)
    other = _someone_elses_workbook(tmp_path / "台账.xlsx")
    before = _sha(other)
    proc = _run(["consolidate", "收文", "-o", "台账.xlsx", "--name", NAME], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "台账.xlsx" in proc.stderr and "不是本工具生成的汇总表" in proc.stderr and "--yes" in proc.stderr
    assert _sha(other) == before
    # our own earlier summary there is replaced without asking (re-running is the normal case)
    proc = _run(["consolidate", "收文", "-o", "汇总.xlsx", "--name", NAME], tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    first = (tmp_path / "汇总.xlsx").stat().st_ino
    proc = _run(["consolidate", "收文", "-o", "汇总.xlsx", "--name", NAME, "--csv"], tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    assert (tmp_path / "汇总.xlsx").stat().st_ino != first, "written anew (atomically: a new file)"
    assert (tmp_path / "汇总.csv").exists()
    # and --yes replaces the unrelated one
    proc = _run(["consolidate", "收文", "-o", "台账.xlsx", "--name", NAME, "--yes"], tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    assert "明细" in CalamineWorkbook.from_path(str(other)).sheet_names


def test_consolidate_keeps_a_units_report_and_a_foreign_csv(tmp_path: Path) -> None:
    _inbox(tmp_path)
    unit = tmp_path / "交来的报表.xlsx"  # a unit's report that is not among the inputs: data, not ours
    shutil.copyfile(INBOX / "青禾县卫生健康局.xlsx", unit)
    proc = _run(["consolidate", "收文", "-o", "交来的报表.xlsx", "--name", NAME], tmp_path)
    assert proc.returncode == 2 and "不是本工具生成的汇总表" in proc.stderr
    assert _sha(unit) == _sha(INBOX / "青禾县卫生健康局.xlsx")
    (tmp_path / "汇总.csv").write_text("姓名,电话\n张三,123\n", encoding="utf-8")
    proc = _run(["consolidate", "收文", "-o", "汇总.xlsx", "--name", NAME, "--csv"], tmp_path)
    assert proc.returncode == 2 and "汇总.csv" in proc.stderr
    assert (tmp_path / "汇总.csv").read_text(encoding="utf-8") == "姓名,电话\n张三,123\n"
    assert not (tmp_path / "汇总.xlsx").exists(), "nothing is written when one output is refused"


def test_export_replaces_its_own_exports_only(tmp_path: Path) -> None:
    book = tmp_path / "教育局.xlsx"
    shutil.copyfile(INBOX / "青禾县教育局.xlsx", book)
    scanned = tmp_path / "教育局.html"
    scanned.write_text("<html><body>签发稿（扫描件说明）</body></html>", encoding="utf-8")
    data = tmp_path / "教育局.csv"
    data.write_text("项目,金额\n办公,100\n", encoding="utf-8-sig")
    before = {p: _sha(p) for p in (scanned, data)}
    proc = _run(["export", "教育局.xlsx", "--to", "json,csv,html"], tmp_path)
    assert proc.returncode == 2 and "--yes" in proc.stderr
    assert {p: _sha(p) for p in (scanned, data)} == before
    assert not (tmp_path / "教育局.json").exists(), "every target is checked before anything is written"
    proc = _run(["export", "教育局.xlsx", "--to", "json,csv,html", "--yes"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert data.read_text(encoding="utf-8-sig").startswith("单位,年度,部分")
    again = _run(["export", "教育局.xlsx", "--to", "json,csv,html"], tmp_path)  # our own now: no question
    assert again.returncode == 0, again.stderr


def test_template_compare_rules_and_audit_outputs_are_guarded(tmp_path: Path) -> None:
    filled = tmp_path / "模板.xlsx"
    shutil.copyfile(INBOX / "青禾县教育局.xlsx", filled)  # a filled report named like a template
    other = _someone_elses_workbook(tmp_path / "对比.xlsx")
    notes = tmp_path / "规则.md"
    notes.write_text("# 会议记录\n", encoding="utf-8")
    book = _someone_elses_workbook(tmp_path / "核查.xlsx")
    before = {p: _sha(p) for p in (filled, other, notes, book)}
    last = ROOT / "samples" / "青禾县-2025" / "收文" / "青禾县教育局.xlsx"
    runs = [_run(["template", "--year", "2026", "-o", "模板.xlsx"], tmp_path),
            _run(["compare", str(last), str(INBOX / "青禾县教育局.xlsx"), "-o", "对比.xlsx"], tmp_path),
            _run(["rules", "-o", "规则.md"], tmp_path),
            _run(["audit", str(INBOX / "青禾县教育局.xlsx"), "--xlsx", "核查.xlsx"], tmp_path)]
    for proc in runs:
        assert proc.returncode == 2 and "--yes" in proc.stderr, proc.args
    assert {p: _sha(p) for p in before} == before
    # an empty template and our own rule page are replaced without asking
    assert _run(["template", "--year", "2026", "-o", "空白.xlsx"], tmp_path).returncode == 0
    assert _run(["template", "--year", "2026", "-o", "空白.xlsx"], tmp_path).returncode == 0
    assert _run(["rules", "-o", "规则2.md"], tmp_path).returncode == 0
    assert _run(["rules", "-o", "规则2.md"], tmp_path).returncode == 0


# --- 2. debris of a killed run ---------------------------------------------------------------------

def _age(path: Path, seconds: float) -> None:
    t = time.time() - seconds
    os.utime(path, (t, t), follow_symlinks=False)


def test_stale_temporary_files_of_ours_are_swept_and_nothing_else(tmp_path: Path) -> None:
    out, scratch = tmp_path / "汇总", tmp_path / "tmp"
    out.mkdir()
    scratch.mkdir()
    stale = [out / ".~sum.k3j9x_2a.xlsx",                  # the atomic writer's earlier naming
             out / ".~nianbao-汇总.a8f3k2m1.xlsx",          # its naming now
             out / ".~nianbao-q1w2e3r4",                    # the summary's staging folder
             scratch / "nianbao-spool-abcd1234",             # a consolidation's spool
             scratch / "nianbao-pdf-zz99yy88"]               # a PDF conversion's folder
    fresh = [out / ".~nianbao-汇总.b7g4h5j6.xlsx", scratch / "nianbao-spool-efgh5678"]  # another run, now
    others = [out / ".~lock.汇总.xlsx#", out / "~$汇总.xlsx", out / ".~笔记.txt", out / "汇总.xlsx.bak",
              scratch / "nianbao-addin", scratch / "nianbao-spool-notours"]
    for path in stale + fresh + others:
        if path.suffix or path.name.startswith((".~lock", "~$")):
            path.write_bytes(b"x")
        else:
            path.mkdir()
            (path / "part.f64").write_bytes(b"x")
            _age(path / "part.f64", 5 * HOUR)
    user_file = out / "自己的文件.xlsx"
    user_file.write_bytes(b"mine")
    link = out / ".~nianbao-link.l1n2k3s4.xlsx"  # a link named like ours, pointing at the user's file
    link.symlink_to(user_file)
    foreign = out / ".~nianbao-他人.f0r31gn1.xlsx"  # ours by name, but another user's file
    foreign.write_bytes(b"x")
    if os.geteuid() == 0:
        os.chown(foreign, 54321, 54321)
    for path in stale + others + [foreign, user_file]:
        _age(path, 5 * HOUR)
    _age(link, 5 * HOUR)
    proc = _run(["template", "--year", "2026", "-o", str(out / "模板.xlsx")], tmp_path, TMPDIR=str(scratch))
    assert proc.returncode == 0, proc.stderr
    for path in stale:
        assert not path.exists(), f"stale {path.name} left behind"
    for path in fresh + others + [user_file]:
        assert path.exists(), f"{path.name} was removed"
    assert link.is_symlink() and user_file.read_bytes() == b"mine"
    if os.geteuid() == 0:
        assert foreign.exists(), "another user's file was removed"
    kept = [fresh[0].name, link.name] + ([foreign.name] if os.geteuid() == 0 else [])
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".~nianbao-") and p.name.endswith(".xlsx")) == sorted(
        kept), "the run itself left a temporary file"


def test_a_killed_consolidation_leaves_debris_the_next_run_clears(tmp_path: Path) -> None:
    """The real thing: kill -9 while the summary is written, then run again."""
    _inbox(tmp_path)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    exe = shutil.which("nianbao")
    assert exe
    env = {**os.environ, "TMPDIR": str(scratch), "NO_COLOR": "1"}
    found: list[Path] = []
    for attempt in range(40):  # kill at a moment when a temporary entry exists
        proc = subprocess.Popen([exe, "consolidate", "收文", "-o", "汇总.xlsx", "--name", NAME], cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while proc.poll() is None and time.time() < deadline:
            found = [p for p in [*tmp_path.iterdir(), *scratch.iterdir()] if p.name.startswith((".~", "nianbao-spool-"))]
            if found:
                proc.kill()
                break
            time.sleep(0.002)
        proc.wait(timeout=60)
        found = [p for p in [*tmp_path.iterdir(), *scratch.iterdir()] if p.name.startswith((".~", "nianbao-spool-"))]
        if found:
            break
    if not found:
        pytest.skip("the run never left a temporary entry at the moment it was killed (too fast here)")
    for path in found:
        _age(path, 5 * HOUR)
        if path.is_dir():
            for inner in path.rglob("*"):
                _age(inner, 5 * HOUR)
    again = _run(["consolidate", "收文", "-o", "汇总.xlsx", "--name", NAME], tmp_path, TMPDIR=str(scratch))
    assert again.returncode in (0, 1), again.stderr
    left = [p.name for p in [*tmp_path.iterdir(), *scratch.iterdir()] if p.name.startswith((".~", "nianbao-"))]
    assert left == [], f"debris left: {left}"


# --- 3. the draft is not dropped into the inbox ---------------------------------------------------

def test_draft_of_a_received_file_stays_out_of_the_inbox(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    received = {p.name: _sha(p) for p in inbox.iterdir()}
    proc = _run(["draft", "收文/青禾县教育局.xlsx"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert {p.name: _sha(p) for p in inbox.iterdir()} == received, "the inbox is exactly as received"
    assert (tmp_path / "青禾县教育局-总体情况.xlsx").exists()
    proc = _run(["consolidate", "收文", "-o", "汇总.xlsx", "--name", NAME], tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    assert "重复报送" not in proc.stdout and "总体情况.xlsx" not in proc.stdout
