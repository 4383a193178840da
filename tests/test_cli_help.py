"""``--help`` is Chinese from the first line to the last, and fits an 80-column terminal.

typer/click write “Usage:”, “Options”, “Show this message and exit.”, “[default: all]”,
“<path>” and measure a Chinese character as one column; the command line is for people who read
Chinese, in the Windows console's default 80 columns.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from rich.cells import cell_len
from typer.main import get_command
from typer.testing import CliRunner

from addin.cli.app import _load_commands, app

_load_commands()
COMMANDS = sorted(get_command(app).commands)  # type: ignore[attr-defined]
#: English that click/typer put into help pages.
ENGLISH = ("Usage", "Options", "Commands", "Arguments", "Show this message", "default:", "required", "[OPTIONS]",
           "COMMAND", "[ARGS]", "<path>", "<int", "<str>", "<list", "<float>", "env var", "Error")
ASCII_WORD = re.compile(r"[A-Za-z]{3,}")
#: ASCII words allowed in a help page: option names, formats, product names, examples.
ALLOWED = re.compile(r"^(nianbao|xlsx|xls|csv|json|html|htm|docx|txt|pdf|PDF|HTML|CSV|JSON|Word|Excel|WPS|HTTPS|PEM|TOML|"
                     r"Office|VBA|RunServerPython|LibreOffice|Markdown|all|self|sha256)$")


def _help(args: list[str]) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "80"}, prog_name="nianbao")
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_is_chinese_and_fits_80_columns(command: str | None) -> None:
    text = _help([command] if command else [])
    assert text.startswith("用法：nianbao"), text[:80]
    for word in ENGLISH:
        assert word not in text, f"{command}: “{word}” in\n{text}"
    assert "显示本帮助并退出。" in text
    assert ("参数：" in text or "命令：" in text or command in ("rules", "samples", "template", "demo", "serve"))
    for line in text.splitlines():
        assert cell_len(line) <= 80, f"{command}: line of {cell_len(line)} columns: {line}"
        assert not line.lstrip().startswith(("）", "，", "。", "、")), f"{command}: punctuation starts a line: {line}"
    # option names (“--year”), option values and formats aside, no English words are left
    prose = re.sub(r"--?[a-z][a-z-]*|\[[^\]]*\]|[a-z_]*\.[a-z]+\b|https?://\S+|（默认：[^）]*）", " ", text)
    leftover = [w for w in ASCII_WORD.findall(prose) if not ALLOWED.match(w) and w not in COMMANDS]
    assert not leftover, f"{command}: English words {leftover} in\n{text}"


def test_defaults_and_required_are_said_in_chinese() -> None:
    text = _help(["consolidate"])
    assert "（默认：all）" in text and "（必填）" in text
    assert "<路径>" in text and "<整数>" in text


def test_the_installed_command_prints_the_same_help() -> None:
    """The console script (not only the in-process runner) goes through the Chinese formatter."""
    exe = shutil.which("nianbao")
    assert exe, "nianbao 命令未安装（pip install -e .）"
    proc = subprocess.run([exe, "validate", "-h"], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "80", "HOME": "/tmp"})
    assert proc.returncode == 0 and proc.stdout.startswith("用法：nianbao validate [选项] 文件或文件夹..."), proc.stdout
    bare = subprocess.run([exe], capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    assert bare.returncode == 2 and bare.stdout.startswith("用法：nianbao") and "用法错误" not in bare.stderr
