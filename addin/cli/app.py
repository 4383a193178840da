"""The ``nianbao`` command line: a thin mirror of the Python API, every message in Chinese.

Exit codes: 0 all good · 1 the reports have hard findings (or inputs were left out) ·
2 a file could not be read or the command could not run.

The help pages are Chinese too: click's help formatter is replaced (through the context class of
our own command classes, not by changing the installed packages) by :class:`ChineseHelpFormatter`,
which names the sections, the value types and the ``[default: …]``/``[required]`` notes in
Chinese and wraps by display width, so Chinese help lines fit the terminal.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from workbook.errors import os_error_text

from addin.cli.help import ChineseContext
from addin.cli.terminal import make_console, shown


class NianbaoGroup(TyperGroup):
    """The ``nianbao`` group: its help page (and a bare ``nianbao``) in Chinese."""

    context_class = ChineseContext


class NianbaoCommand(TyperCommand):
    """Every ``nianbao`` command: its ``--help`` in Chinese."""

    context_class = ChineseContext


class NianbaoTyper(typer.Typer):
    """A Typer whose commands use :class:`NianbaoCommand` (Chinese help) unless told otherwise."""

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", NianbaoCommand)
        return super().command(*args, **kwargs)


app = NianbaoTyper(cls=NianbaoGroup, add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                   options_metavar="[选项]", subcommand_metavar="命令 [参数]...",
                   context_settings={"help_option_names": ["--help", "-h"]},
                   help="政府信息公开工作年度报告工具：模板、校验、汇总、导出。")
console = make_console()
err = make_console(stderr=True)


#: Modules of ``addin.cli`` that register no command.
NOT_COMMANDS = frozenset({"app", "terminal", "help", "outputs"})


def fail(message: str, code: int = 2) -> None:
    """Print ``message`` (plain text: brackets and file names print as written) and exit."""
    err.print(f"[red]错误：[/red]{shown(message, lines=True)}")
    raise typer.Exit(code)


def _load_commands() -> None:
    """Import every command module of ``addin.cli``: each registers its commands on ``app``."""
    import importlib
    import pkgutil

    import addin.cli as package

    found = [m.name for m in pkgutil.iter_modules(package.__path__) if m.name not in NOT_COMMANDS]
    for mod in sorted(found, key=lambda name: (name != "workbooks", name)):  # single-workbook commands first in --help
        importlib.import_module(f"addin.cli.{mod}")


_USAGE = ((r"Missing argument '(.+?)'", "缺少参数 {0}"), (r"Missing option '(.+?)'", "缺少选项 {0}"),
          (r"No such option: (\S+)", "没有这个选项：{0}"), (r"No such command '(.+?)'", "没有这个命令：{0}"),
          (r"Invalid value for '(.+?)': (.+)", "选项 {0} 的取值无效（{1}）"),
          (r"Got unexpected extra arguments? \((.+)\)", "多余的参数：{0}"),
          (r"Option '(.+?)' requires an argument", "选项 {0} 需要一个值"))


def usage_text(message: str) -> str:
    """click's usage errors in Chinese (the command line is for people who read Chinese)."""
    for english, chinese in (("Input should be a valid integer", "应为整数"), ("unable to parse string as an integer", "无法识别为整数"),
                             ("is not one of", "不在可选值中"), ("does not exist", "不存在"), ("is a directory", "是文件夹")):
        message = message.replace(english, chinese)
    for pattern, text in _USAGE:
        m = re.search(pattern, message)
        if m:
            return text.format(*m.groups())
    return message


def _sweep_temp() -> None:
    """Remove what a killed earlier run left in the temporary folder (its spool and conversion
    folders); output folders are swept by ``workbook.atomic`` when a command first writes there."""
    from workbook.atomic import sweep_temp

    try:
        sweep_temp()
    except OSError:  # tidying up must never stop the command the user asked for
        pass


def main() -> None:
    """Entry point: no traceback ever reaches the user; every failure has a Chinese message and
    exit code 2 (1 is reserved for "the reports have findings")."""
    import logging
    import subprocess

    try:  # typer ≥ 0.25 vendors click; older versions use click itself
        from typer._click import exceptions as click_exceptions
    except ImportError:  # pragma: no cover - depends on the installed typer
        from click import exceptions as click_exceptions

    no_args = getattr(click_exceptions, "NoArgsIsHelpError", ())  # click ≥ 8.2
    _load_commands()
    _sweep_temp()
    try:
        code = app(standalone_mode=False)
    except no_args as exc:  # bare “nianbao” or a command without its inputs: the help page
        console.print(exc.format_message(), markup=False, highlight=False)
        sys.exit(2)
    except click_exceptions.UsageError as exc:
        hint = f"（查看用法：nianbao {exc.ctx.command_path.split(' ', 1)[-1] if exc.ctx and ' ' in exc.ctx.command_path else ''} --help）"
        err.print(f"[red]用法错误：[/red]{shown(usage_text(exc.format_message()), lines=True)}{hint.replace('  ', ' ')}")
        sys.exit(2)
    except typer.Abort:
        err.print("已取消。")
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("已中断。")
        sys.exit(130)
    except OSError as exc:
        err.print(f"[red]错误：[/red]{shown(os_error_text(exc))}")
        sys.exit(2)
    except subprocess.TimeoutExpired as exc:
        program = shown(Path(str(exc.cmd[0] if isinstance(exc.cmd, list) else exc.cmd)).name)
        err.print(f"[red]错误：[/red]外部程序超时（{program}，{exc.timeout:.0f} 秒）。请稍后重试。")
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
