"""How findings look in a terminal: a bounded table per file, hard first, and a verdict line."""

from __future__ import annotations

import json
from typing import Sequence

from rich.console import Console
from rich.table import Table

from checks.findings import SEVERITY_LABEL, FileResult

MAX_ROWS = 40


def print_results(console: Console, results: Sequence[FileResult], max_rows: int = MAX_ROWS) -> None:
    for res in results:
        title = f"{res.unit or '（未填单位）'} · {res.year or ''} · {res.path}"
        if res.error:
            console.print(f"[bold red]✗[/bold red] {res.path}：[red]{res.error}[/red]")
            continue
        mark = "[green]✓[/green]" if res.ok else "[red]✗[/red]"
        console.print(f"{mark} [bold]{title}[/bold]：{res.verdict()}")
        if not res.findings:
            continue
        t = Table(show_header=True, header_style="bold", expand=False, show_lines=False)
        for name in ("级别", "规则", "位置", "问题", "说明"):
            t.add_column(name, overflow="fold")
        for f in res.findings[:max_rows]:
            level = f"[red]{SEVERITY_LABEL[f.severity]}[/red]" if f.severity == "hard" else f"[yellow]{SEVERITY_LABEL[f.severity]}[/yellow]"
            t.add_row(level, f.rule, f.location, f.message, f.explanation)
        console.print(t)
        if len(res.findings) > max_rows:
            console.print(f"  …还有 {len(res.findings) - max_rows} 处未列出（用 --json 查看全部）")


def totals_line(results: Sequence[FileResult]) -> str:
    unreadable = sum(1 for r in results if r.error)
    hard_files = sum(1 for r in results if not r.error and r.hard)
    hard = sum(len(r.hard) for r in results)
    soft = sum(len(r.soft) for r in results)
    ok = sum(1 for r in results if r.ok)
    return (f"共 {len(results)} 个文件：{ok} 个无错误，{hard_files} 个有错误（共 {hard} 处错误），"
            f"{unreadable} 个无法读取；提示 {soft} 处。")


def results_json(results: Sequence[FileResult]) -> str:
    return json.dumps({"files": [r.to_json() for r in results]}, ensure_ascii=False, indent=2)


def exit_code(results: Sequence[FileResult]) -> int:
    """2 when any file could not be read, else 1 when any has a hard finding, else 0."""
    if any(r.error for r in results):
        return 2
    return 1 if any(r.hard for r in results) else 0
