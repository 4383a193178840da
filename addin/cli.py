"""The ``nianbao`` command line: a thin mirror of the Python API, every message in Chinese.

Exit codes: 0 all good · 1 the reports have hard findings (or inputs were left out) ·
2 a file could not be read or the command could not run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table as RichTable

from workbook.errors import os_error_text
from workbook.build import DEFAULT_PASSWORD, BuildOptions, write_template
from workbook.read import ReadError, read_report
from workbook.spec import CURRENT_EDITION, EDITIONS, edition_for_year, load_edition
from workbook.values import format_number

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="政府信息公开工作年度报告工具：模板、校验、汇总、导出。")
console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    err.print(f"[red]错误：[/red]{message}")
    raise typer.Exit(code)


@app.command()
def template(
    edition: Optional[str] = typer.Option(None, "--edition", help="表格版本：2021（现行）或 2019（2019、2020 年度）"),
    year: Optional[int] = typer.Option(None, "--year", help="报告年度，如 2026；不给版本时按年度选择版本"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="输出文件，默认 年报模板-年度.xlsx"),
    password: str = typer.Option(DEFAULT_PASSWORD, "--password", help=f"工作表保护密码（默认 {DEFAULT_PASSWORD}）"),
) -> None:
    """生成受保护的年报填报模板（.xlsx，无宏）。"""
    if edition is None:
        edition = edition_for_year(year).key if year else CURRENT_EDITION
    if edition not in EDITIONS:
        fail(f"未知的表格版本“{edition}”，可选：{'、'.join(EDITIONS)}")
    ed = load_edition(edition)
    if year is not None and not ed.covers_year(year):
        fail(f"{year} 年度的报告应使用 {edition_for_year(year).name}，不能使用 {ed.name}")
    out = output or Path(f"年报模板-{year or edition}.xlsx")
    write_template(out, edition, year, BuildOptions(password=password))
    console.print(f"已生成模板：{out}（{ed.name}）")


@app.command()
def show(files: list[Path] = typer.Argument(..., help="年报工作簿")) -> None:
    """读取工作簿并显示其中的数字（不做校验）。"""
    code = 0
    for path in files:
        try:
            report = read_report(path)
        except ReadError as exc:
            err.print(f"[red]无法读取[/red] {exc}")
            code = 2
            continue
        ed = report.edition
        console.print(f"[bold]{report.unit or '（未填单位名称）'}[/bold] {report.cover.get('year', '')} 年度 · {ed.name} · {path}")
        numbers = report.numbers
        for table in ed.tables:
            for block in table.blocks:
                t = RichTable(title=f"{table.title}{' · ' + block.title if block.title else ''}", show_lines=False)
                t.add_column("")
                for col in block.columns:
                    t.add_column(col.header, justify="right")
                for row in block.rows:
                    t.add_row(row.label or "—", *[format_number(numbers[f"{table.key}.{block.key}.{row.key}.{c.key}"]) for c in block.columns])
                console.print(t)
    raise typer.Exit(code)


@app.command()
def validate(
    inputs: list[Path] = typer.Argument(..., help="工作簿文件或文件夹（递归查找 .xlsx）"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON（便于其他系统读取）"),
    previous: Optional[Path] = typer.Option(None, "--previous", help="上年度的报告（同一单位的工作簿，或上年收文文件夹）"),
) -> None:
    """校验年报工作簿：列出每个文件的错误（必须改正）和提示（核实或说明）。"""
    from checks.files import expand, validate_paths
    from .terminal import exit_code, print_results, results_json, totals_line

    paths = expand(inputs)
    if not paths:
        fail("没有找到任何 Excel 文件。")
    try:
        results, _ = validate_paths(paths, previous=previous)
    except ReadError as exc:
        fail(f"上年报告无法读取：{exc}")
    if as_json:
        print(results_json(results))
    else:
        print_results(console, results)
        console.print(totals_line(results))
    raise typer.Exit(exit_code(results))


@app.command()
def samples(root: Path = typer.Option(Path("samples"), "--root", help="样例目录")) -> None:
    """重新生成随附的样例工作簿（结果固定，可重复生成）。"""
    from workbook.samples import write_samples

    files = write_samples(root)
    console.print(f"已生成 {len(files)} 个样例文件于 {root}/")


def _load_commands() -> None:
    """Import every ``addin/cmd_*.py``: each registers its commands on ``app``."""
    import importlib
    import pkgutil

    import addin

    for mod in sorted(m.name for m in pkgutil.iter_modules(addin.__path__) if m.name.startswith("cmd_")):
        importlib.import_module(f"addin.{mod}")


_USAGE = ((r"Missing argument '(.+?)'", "缺少参数 {0}"), (r"Missing option '(.+?)'", "缺少选项 {0}"),
          (r"No such option: (\S+)", "没有这个选项：{0}"), (r"No such command '(.+?)'", "没有这个命令：{0}"),
          (r"Invalid value for '(.+?)': (.+)", "选项 {0} 的取值无效（{1}）"),
          (r"Got unexpected extra arguments? \((.+)\)", "多余的参数：{0}"),
          (r"Option '(.+?)' requires an argument", "选项 {0} 需要一个值"))


def usage_text(message: str) -> str:
    """click's usage errors in Chinese (the command line is for people who read Chinese)."""
    import re

    for english, chinese in (("Input should be a valid integer", "应为整数"), ("unable to parse string as an integer", "无法识别为整数"),
                             ("is not one of", "不在可选值中"), ("does not exist", "不存在"), ("is a directory", "是文件夹")):
        message = message.replace(english, chinese)
    for pattern, text in _USAGE:
        m = re.search(pattern, message)
        if m:
            return text.format(*m.groups())
    return message


def main() -> None:
    """Entry point: no traceback ever reaches the user; every failure has a Chinese message and
    exit code 2 (1 is reserved for "the reports have findings")."""
    import logging
    import subprocess

    try:  # typer ≥ 0.25 vendors click; older versions use click itself
        from typer._click import exceptions as click_exceptions
    except ImportError:  # pragma: no cover - depends on the installed typer
        from click import exceptions as click_exceptions

    _load_commands()
    try:
        code = app(standalone_mode=False)
    except click_exceptions.UsageError as exc:
        hint = f"（查看用法：nianbao {exc.ctx.command_path.split(' ', 1)[-1] if exc.ctx and ' ' in exc.ctx.command_path else ''} --help）"
        err.print(f"[red]用法错误：[/red]{usage_text(exc.format_message())}{hint.replace('  ', ' ')}")
        sys.exit(2)
    except typer.Abort:
        err.print("已取消。")
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("已中断。")
        sys.exit(130)
    except OSError as exc:
        err.print(f"[red]错误：[/red]{os_error_text(exc)}")
        sys.exit(2)
    except subprocess.TimeoutExpired as exc:
        err.print(f"[red]错误：[/red]外部程序超时（{Path(str(exc.cmd[0] if isinstance(exc.cmd, list) else exc.cmd)).name}，{exc.timeout:.0f} 秒）。请稍后重试。")
        sys.exit(2)
    except Exception as exc:  # the last resort: a Chinese line for the user, details in the log
        logging.getLogger("nianbao").debug("unexpected error", exc_info=True)
        err.print(f"[red]内部错误：[/red]{type(exc).__name__}。请把所用命令和文件发给维护人员；设置环境变量 NIANBAO_DEBUG=1 可显示详细信息。")
        if os.environ.get("NIANBAO_DEBUG"):
            raise
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
