"""The documents that tell people how to use the toolkit agree with the code."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from addin.cli.app import _load_commands, app
from addin.cli.rules import rules_markdown

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## 两条命令", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```\n(.+?)\n```", section)


def test_readme_has_exactly_two_setup_commands() -> None:
    assert len(_readme_commands()) == 2


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_command = _readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()


def test_rule_documentation_is_generated_from_the_spec() -> None:
    committed = (ROOT / "docs" / "校验规则.md").read_text(encoding="utf-8")
    assert committed == rules_markdown(), "docs/校验规则.md 已过期：运行 nianbao rules -o docs/校验规则.md"


def test_every_command_is_documented_in_the_readme() -> None:
    _load_commands()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    missing = [n for n in names if f"nianbao {n}" not in readme]
    assert not missing, f"README 未说明的命令：{missing}"


def test_help_is_chinese_and_runs() -> None:
    _load_commands()
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "校验" in result.output
