"""The README's main command runs the whole year on the bundled samples and leaves usable files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

ROOT = Path(__file__).resolve().parents[1]


def test_demo_writes_templates_summary_and_exports(tmp_path: Path) -> None:
    exe = shutil.which("nianbao")
    assert exe, "nianbao 命令未安装（pip install -e .）"
    out = tmp_path / "out"
    proc = subprocess.run([exe, "demo", "-o", str(out), "--samples", str(ROOT / "samples")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    for name in ("年报模板-2026.xlsx", "年报模板-2020.xlsx", "青禾县2026年度汇总.xlsx", "青禾县2026年度汇总.html"):
        assert (out / name).stat().st_size > 0, name
    # the seed's real mistakes are shown
    for rule in ("R3.1", "R3.2", "R3.3", "R4.3"):
        assert rule in proc.stdout
    # the summed numbers themselves are proven in test_consolidate.py; here: the sheets are there
    summary = CalamineWorkbook.from_path(str(out / "青禾县2026年度汇总.xlsx"))
    assert "明细" in summary.sheet_names and "报送情况" in summary.sheet_names
    html = (out / "青禾县2026年度汇总.html").read_text(encoding="utf-8")
    assert "三、收到和处理政府信息公开申请情况" in html and "<script" not in html
    if shutil.which("soffice") is None:
        pytest.skip("未安装 LibreOffice（soffice），PDF 未导出；其余已检查")
    pdf = out / "青禾县2026年度汇总.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert "A4" in info
