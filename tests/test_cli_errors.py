"""Whatever a person mistypes, the command line answers in Chinese with exit code 2, no traceback."""

from __future__ import annotations

import shutil
import subprocess

import pytest

CASES = [
    (["validate"], "缺少参数"),
    (["validate", "--bogus", "x"], "没有这个选项"),
    (["template", "--year", "abc"], "应为整数"),
    (["frob"], "没有这个命令"),
    (["show", "/nonexistent/年报.xlsx"], "不存在"),
]


@pytest.mark.parametrize(("args", "said"), CASES)
def test_usage_mistakes_get_chinese_messages(args: list[str], said: str) -> None:
    exe = shutil.which("nianbao")
    assert exe, "nianbao 命令未安装（pip install -e .）"
    proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    out = proc.stdout + proc.stderr
    assert said in out
    assert "Traceback" not in out and "Missing" not in out and "Error:" not in out
