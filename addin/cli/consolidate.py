"""``nianbao consolidate``: the county's units into one summary workbook, from the command line.

A thin mirror of ``addin.county.consolidate.consolidate``: options in, a progress bar while files are
read, then a short account in Chinese of what was summed and what was left out and why. Two things
are settled here before any work: a folder holding only old-format (.xls) files gets the reason
and the way out (save as .xlsx) rather than a question about --year; and an existing file at the
output that is not an earlier summary is not replaced without ``--yes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from workbook.build import DEFAULT_PASSWORD
from workbook.read import OLE_MAGIC, ReadError, read_report

from addin.cli.app import app, console, err, fail
from addin.cli.outputs import LONG_CSV, LONG_JSON, SUMMARY, Kind, guard
from addin.cli.terminal import plain
from addin.county.consolidate import (STATUS, ConsolidateOptions, ConsolidationError, ConsolidationResult, check_output, consolidate,
                          default_output, save)

MAX_NAMES = 10


def _names(items: list[str]) -> str:
    shown = "、".join(items[:MAX_NAMES])
    return shown + (f" 等 {len(items)} 个" if len(items) > MAX_NAMES else "")


def account(result: ConsolidationResult) -> list[str]:
    """What the office reads at the end: counts, names, reasons, where the summary is."""
    lines = [f"汇总完成：{result.name} {result.year} 年度（{result.edition.name}），汇总范围：{result.scope_label}，"
             f"共汇总 {len(result.included)} 个单位。"]
    if result.missing:
        lines.append(f"未报送 {len(result.missing)} 个：{_names([e.name for e, _ in result.missing])}。")
    if result.covered:
        lines.append(f"已含在下级汇总中 {len(result.covered)} 个单位。")
    for s in result.by_status("duplicate"):
        lines.append(f"重复报送：{s.name} 未采用 {s.path}（{s.reason}）。")
    for key in ("unreadable", "wrong_year", "wrong_edition", "unlisted", "strict"):
        for s in result.by_status(key):
            lines.append(f"{STATUS[key]}：{s.path}：{s.reason}")
    scope_out = result.by_status("out_of_scope")
    if scope_out:
        lines.append(f"本级汇总不含的单位 {len(scope_out)} 个（已校验，见“报送情况”）。")
    for s in result.included:
        if s.formulas:
            lines.append(f"输入单元格中有公式：{s.path}：{s.formula_note()}")
        if s.macro:
            lines.append(f"含宏的文件（只读取数值，宏未运行）：{s.path}")
    with_errors = [s for s in result.included if s.hard]
    if with_errors:
        lines.append(f"已汇总的单位中 {len(with_errors)} 个有错误（共 {sum(s.hard for s in with_errors)} 处）："
                     f"{_names([s.name for s in with_errors])}；详见汇总表“校验结果”，请退回单位改正。")
    own = [f for f in result.summary_findings if f.severity == "hard"]
    if own:
        lines.append(f"汇总表本身有 {len(own)} 处错误：" + "；".join(f.message for f in own[:3]))
    if result.written:
        lines.append("已写出：" + "、".join(str(p) for p in result.written))
    lines.append("结论：全部文件均已采用，没有错误。" if result.exit_code == 0 else
                 "结论：有文件未采用、单位未报送或存在错误（见上），退出码 1。")
    return [plain(line, limit=None) for line in lines]  # names and reasons come from the files


OLD_SUFFIXES = (".xls", ".et")


def old_format_files(inputs: list[Path]) -> list[tuple[Path, str]]:
    """The inputs that are old-format (.xls/.et) or password-protected files, with the reason the
    reader gives (the same words ``nianbao validate`` prints)."""
    from checks.files import expand

    found: list[tuple[Path, str]] = []
    for path in expand([p for p in inputs if p.exists()]):
        try:
            with open(path, "rb") as fh:
                magic = fh.read(len(OLE_MAGIC))
        except OSError:
            continue
        if magic != OLE_MAGIC and path.suffix.lower() not in OLD_SUFFIXES:
            continue
        try:
            read_report(path)
        except ReadError as exc:
            found.append((path, exc.reason))
    return found


def _targets(output: Path, as_csv: bool, as_json: bool) -> list[tuple[Path, Kind]]:
    return [(output, SUMMARY)] + [(output.with_suffix(f".{fmt}"), kind) for fmt, kind, wanted in
                                  (("csv", LONG_CSV, as_csv), ("json", LONG_JSON, as_json)) if wanted]


@app.command("consolidate")
def consolidate_command(
    inputs: list[Path] = typer.Argument(..., metavar="文件或文件夹", help="各单位的年报工作簿或文件夹（递归查找 .xlsx）"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="汇总表文件（.xlsx），默认“单位名称+年度+汇总.xlsx”"),
    year: Optional[int] = typer.Option(None, "--year", help="汇总年度，如 2026；不给时取收到份数最多的年度"),
    name: Optional[str] = typer.Option(None, "--name", help="汇总单位名称，如 青禾县人民政府；不给时取单位名单中的上级单位"),
    units: Optional[Path] = typer.Option(None, "--units", help="单位名单（.xlsx 或 .csv，列：单位名称、统一社会信用代码、单位类型、上级单位）"),
    scope: str = typer.Option("all", "--scope", help="all：全部单位（本级、部门、乡镇街道）；self：仅本级（县级人民政府）"),
    strict: bool = typer.Option(False, "--strict", help="有错误的单位不汇总（列入报送情况）"),
    previous: Optional[Path] = typer.Option(None, "--previous", help="上年汇总表（或上年收文文件夹），用于跨年度核对"),
    workers: int = typer.Option(0, "--workers", help="并行读取的进程数（0：按文件数自动选择）"),
    as_csv: bool = typer.Option(False, "--csv", help="另存长表 CSV（每单位每格一行，与汇总表同名）"),
    as_json: bool = typer.Option(False, "--json", help="另存长表 JSON（同上）"),
    password: str = typer.Option(DEFAULT_PASSWORD, "--password", help="汇总表的工作表保护密码"),
    yes: bool = typer.Option(False, "--yes", "-y", help="输出位置已有不是汇总表的同名文件时，也替换它"),
) -> None:
    """汇总各单位年报：生成汇总表（汇总、明细、校验结果、报送情况、图表），说明采用和未采用的每个文件。"""
    from checks.files import expand

    options = ConsolidateOptions(year=year, name=name, units=units, scope=scope, strict=strict, previous=previous,
                                 workers=workers or None, csv=as_csv, json=as_json, password=password)
    old = old_format_files(inputs)
    given = {p.resolve() for p in expand([p for p in inputs if p.exists()])}
    if old and len(old) == len(given):
        fail(f"没有可以汇总的文件：{len(old)} 个文件都无法读取——\n"
             + "\n".join(f"  {path}：{why}" for path, why in old[:20])
             + (f"\n  …等 {len(old)} 个" if len(old) > 20 else "")
             + "\n旧版 .xls 文件请在 Excel 或 WPS 中打开，点“文件→另存为”，保存类型选“Excel 工作簿（*.xlsx）”，再汇总另存后的文件。")
    # an input, the register or last year's summary there: consolidate refuses and says which
    read = given | {Path(p).resolve() for p in (units, previous) if p is not None}
    if output is not None and output.resolve() not in given:
        for target, kind in _targets(output, as_csv, as_json):
            if target.resolve() not in read:
                guard(target, kind, yes)
    columns = (TextColumn("读取并校验"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err, transient=True, auto_refresh=False) as bar:
            task = bar.add_task("read", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)
                bar.refresh()

            result = consolidate(inputs, output, options, progress)
        if output is None:
            target = default_output(result)
            check_output(target, [s.path for s in result.sources], options)
            for path, kind in _targets(target, as_csv, as_json):
                guard(path, kind, yes)
            save(result, target)
    except ConsolidationError as exc:
        note = f"\n（另有 {len(old)} 个文件是旧版 .xls 或加密文件，无法读取，请另存为 .xlsx：" \
               f"{'、'.join(p.name for p, _ in old[:5])}{' 等' if len(old) > 5 else ''}）" if old else ""
        fail(str(exc) + note, 2)
    except OSError as exc:
        fail(f"无法写出汇总表（{exc.strerror or exc}）：{exc.filename or output}", 2)
    for line in account(result):
        console.print(line, highlight=False, markup=False)
    raise typer.Exit(result.exit_code)
