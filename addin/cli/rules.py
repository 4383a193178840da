"""``nianbao rules``: the rule documentation, generated from the spec (never written by hand)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from checks.findings import SEVERITY_ACTION, SEVERITY_LABEL, render_known
from checks.instances import constant_fields
from checks.textual import rule_fields
from workbook.atomic import write_text_atomic
from workbook.livecheck import live_rule_ids
from workbook.spec import EDITIONS, load_edition

from addin.cli.app import app, console
from addin.cli.outputs import RULES, guard
from addin.cli.terminal import shown


def severity(sev: str) -> str:
    """“错误（必须改正）”: the severity and what it asks of the unit."""
    return f"{SEVERITY_LABEL[sev]}（{SEVERITY_ACTION[sev]}）"


def shown_message(rule_id: str, editions: list[str]) -> str:
    """A rule's message template with the labels that are the same wherever it applies (in every
    edition that has it) filled in from the spec; what varies stays a placeholder (“{found}”)."""
    fields: dict[str, str] | None = None
    for key in editions:
        ed = load_edition(key)
        rule = ed.rule(rule_id)
        mine = {**rule_fields(ed, rule), **constant_fields(ed, rule_id)}
        fields = mine if fields is None else {k: v for k, v in fields.items() if mine.get(k) == v}
    return render_known(load_edition(editions[0]).rule(rule_id).message, fields or {})


def rules_markdown() -> str:
    """A Markdown page listing every rule of every edition, with its message template."""
    lines = ["# 校验规则", "", "本页由 `nianbao rules --markdown` 从 `workbook/specs/` 生成，请勿手工修改。", ""]
    seen: dict[str, list[str]] = {}
    for key in EDITIONS:
        for rule in load_edition(key).rules:
            seen.setdefault(rule.id, []).append(key)
    lines += ["| 编号 | 级别 | 规则 | 适用版本 | 模板内实时检查 | 提示文字 |", "|---|---|---|---|---|---|"]
    done: set[str] = set()
    for key in EDITIONS:
        ed = load_edition(key)
        for rule in ed.rules:
            if rule.id in done:
                continue
            done.add(rule.id)
            live = "是" if any(rule.id in live_rule_ids(k) for k in seen[rule.id]) else "否"
            editions = "、".join(f"{k} 版" for k in seen[rule.id])
            lines.append(f"| {rule.id} | {severity(rule.severity)} | {rule.title} | {editions} | {live} "
                         f"| {shown_message(rule.id, seen[rule.id])} |")
    return "\n".join(lines) + "\n"


@app.command()
def rules(
    markdown: bool = typer.Option(False, "--markdown", help="输出 Markdown 文档"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="写入文件"),
    yes: bool = typer.Option(False, "--yes", "-y", help="-o 的位置已有不是规则文档的同名文件时，也替换它"),
) -> None:
    """列出全部校验规则（编号、级别、含义、提示文字）。"""
    text = rules_markdown()
    if output:
        guard(output, RULES, yes)
        write_text_atomic(output, text)
        console.print(f"已写入 {shown(output)}")
    elif markdown:
        print(text, end="")
    else:
        for key in EDITIONS:
            for rule in load_edition(key).rules:
                console.print(f"{key} 版 {rule.id} [{'red' if rule.severity == 'hard' else 'yellow'}]{severity(rule.severity)}[/] "
                              f"{shown(rule.title, limit=None)}")
