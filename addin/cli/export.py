"""``nianbao export`` and ``nianbao draft``: the command-line faces of the exports and the draft.

Exit codes as everywhere: 0 done · 1 refused because of findings, or the user's confirmation is
missing · 2 the workbook cannot be read or the command cannot run (no LibreOffice, bad option, an
existing file at the output that is not an earlier export — see ``addin.cli.outputs``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Optional

import typer

from checks import validate_report
from checks.findings import FileResult
from workbook.office import OfficeMissing
from workbook.read import ReadError, read_report
from workbook.report import Report
from workbook.spec import CURRENT_EDITION, load_edition

from addin.cli.app import app, console, err, fail
from addin.cli.outputs import EXPORTS, guard
from addin.publish.draft import DraftError, draft_text, merge_overview, write_overview
from addin.publish.data import ExportRefused, export_csv, export_json, rule_list
from addin.publish.doc import FRAGMENT_SUFFIX, export_docx, export_html
from addin.publish.pdf import export_pdf
from addin.cli.terminal import plain, print_results, shown

FORMATS = ("pdf", "html", "docx", "csv", "json")
DRAFT_SUFFIX = "-总体情况"
TEXT_RULE_KINDS = ("text_numbers", "text_year")


def _export_one(fmt: str, path: Path, out: Path, force: bool) -> list[Path]:
    exporters: dict[str, Callable[[Path, Path, bool], object]] = {
        "pdf": export_pdf, "html": export_html, "docx": export_docx, "csv": export_csv, "json": export_json}
    made = exporters[fmt](path, out, force)
    return list(made) if isinstance(made, tuple) else [Path(str(made))]


def _targets(workbook: Path, formats: list[str], output: Optional[Path]) -> dict[str, Path]:
    """One output per format: ``-o`` names the file for one format, the folder for several;
    by default the output sits beside the workbook with the same name."""
    if output is not None and len(formats) == 1 and not output.is_dir():
        return {formats[0]: output}
    folder = output if output is not None else workbook.parent
    return {fmt: folder / f"{workbook.stem}.{fmt}" for fmt in formats}


@app.command()
def export(
    workbook: Path = typer.Argument(..., metavar="工作簿", help="年报工作簿（单位填报的或汇总的）"),
    to: str = typer.Option(..., "--to", help="导出格式：pdf、html、docx、csv、json；多个用逗号分隔，如 pdf,html"),
    output: Optional[Path] = typer.Option(None, "-o", "--output",
                                          help="输出文件（多个格式时为输出文件夹）；默认与工作簿同名、同目录"),
    force: bool = typer.Option(False, "--force", help="有错误也导出（文档首页注明有未解决的错误）"),
    yes: bool = typer.Option(False, "--yes", "-y", help="输出位置已有不是本工具导出的同名文件时，也替换它"),
) -> None:
    """导出年报：PDF（三张表，A4 横向）、HTML（网页及网站编辑器用片段）、Word、CSV、JSON。"""
    formats = list(dict.fromkeys(f.strip().lower() for f in to.split(",") if f.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if not formats or unknown:
        fail(f"未知的导出格式“{'、'.join(unknown) or to}”，可选：{'、'.join(FORMATS)}")
    if output is not None and len(formats) > 1 and output.exists() and not output.is_dir():
        fail(f"导出多个格式时 -o 应为文件夹：{output}")
    targets = _targets(workbook, formats, output)
    for fmt, out in targets.items():  # every refusal before anything is written
        guard(out, EXPORTS[fmt], yes)
        if fmt == "html":
            guard(out.with_name(out.stem + FRAGMENT_SUFFIX + out.suffix), EXPORTS[fmt], yes)
    made: list[Path] = []
    for fmt, out in targets.items():
        try:
            made += _export_one(fmt, workbook, out, force)
        except ReadError as exc:
            fail(f"无法读取 {exc}")
        except ExportRefused as exc:
            print_results(console, [FileResult(str(workbook), exc.report.unit, exc.report.year,
                                                exc.report.edition_key, exc.hard)])
            fail(str(exc), 1)
        except OfficeMissing as exc:
            fail(f"导出 PDF 需要 LibreOffice。{exc}")
        except (RuntimeError, ValueError) as exc:
            fail(str(exc))
    for path in made:
        console.print(f"已导出：{shown(path)}")
    if force:
        report = read_report(workbook)
        hard = [f for f in validate_report(report) if f.severity == "hard"]
        if hard:
            err.print(f"[yellow]注意：[/yellow]工作簿有 {len(hard)} 处未解决的错误（{rule_list(hard)}），"
                      "已按 --force 导出，文档首页已注明。")


def _confirm(action: str, yes: bool) -> None:
    """Go on only with --yes or a “y” typed at a terminal; without a terminal, refuse (exit 1)."""
    if yes:
        return
    if not sys.stdin.isatty():
        fail(f"要{action}，需要确认：请在终端中运行并回答，或加 --yes。未做任何修改。", 1)
    if not typer.confirm(plain(f"{action}，是否继续？"), default=False):
        fail("已取消，未做任何修改。", 1)


def _overview_label() -> str:
    """The printed label of the text part the draft writes (“一、总体情况”)."""
    return next(t.label for t in load_edition(CURRENT_EDITION).texts if t.key == "overview")


def draft_target(workbook: Path) -> Path:
    """Where ``nianbao draft`` writes without ``-o``: “原名-总体情况.xlsx” in the working folder.

    Why the working folder and not the workbook's own: at the county office the command is run on
    a file in the folder being collected (``nianbao draft 收文/教育局.xlsx``), and a copy written
    there was read by the next ``nianbao consolidate 收文/`` as a second, newer report of the same
    unit — chosen instead of the file the unit sent. A county office expects the files it received
    to stay exactly as received and its own working files where it works (as ``consolidate``
    writes its summary into the working folder); a unit's clerk, who runs the command in the
    folder of their workbook, still gets the copy beside it."""
    return Path(f"{workbook.stem}{DRAFT_SUFFIX}{workbook.suffix}")


def _holds(target: Path, report: Report, text: str) -> bool:
    """Whether ``target`` already is ``report`` with ``text`` as 一、总体情况 (a second run)."""
    try:
        there = read_report(target)
    except ReadError:
        return False
    return (there.texts.get("overview", "").strip() == text.strip() and there.raw == report.raw
            and there.cover == report.cover)


@app.command(help=f"按表格数字生成“{_overview_label()}”的数据段落，写入工作簿（保留原有文字，只替换或添加这一段）。")
def draft(
    workbook: Path = typer.Argument(..., metavar="工作簿", help="年报工作簿"),
    output: Optional[Path] = typer.Option(None, "-o", "--output",
                                          help=f"写入的文件，默认在当前文件夹另存为“原名{DRAFT_SUFFIX}.xlsx”"
                                               "（不写入收文文件夹）；写回原文件请给原文件名并确认"),
    yes: bool = typer.Option(False, "--yes", "-y", help="不再询问，直接覆盖已有文件"),
    force: bool = typer.Option(False, "--force", help="表格有错误也生成（数字按重新计算的合计）"),
) -> None:
    """Write the overview's data paragraph, drafted from the tables, into the workbook."""
    try:
        report = read_report(workbook)
    except ReadError as exc:
        fail(f"无法读取 {exc}")
    hard = [f for f in validate_report(report) if f.severity == "hard"]
    if hard and not force:
        print_results(console, [FileResult(str(workbook), report.unit, report.year, report.edition_key, hard)])
        fail(f"表格有 {len(hard)} 处错误（{rule_list(hard)}），数字不平，先改正再生成；确需生成请加 --force。", 1)
    paragraph = draft_text(report)
    part = next(t.label for t in report.edition.texts if t.key == "overview")
    merged = merge_overview(report.texts.get("overview", ""), paragraph)
    target = output or draft_target(workbook)
    in_place = target.exists() and target.resolve() == workbook.resolve()
    if (in_place and not merged.changed) or (target.exists() and not in_place and _holds(target, report, merged.text)):
        where = "" if in_place else f"（{shown(target)}）"
        console.print(f"“{part}”中的数据段落已与表格一致{where}，无需修改。", highlight=False)
        raise typer.Exit(0)
    console.print("数据段落：")
    console.print(f"  {shown(paragraph, lines=True)}", highlight=False)
    if merged.replaced is not None:
        console.print(f"将替换“{part}”中原有的数据段落：", highlight=False)
        console.print(f"  原：{shown(merged.replaced, lines=True)}", highlight=False)
    elif report.texts.get("overview", "").strip():
        console.print(f"将添加在“{part}”原有文字之后（原有文字不变）。", highlight=False)
    if target.exists():
        _confirm(f"覆盖{'原工作簿' if in_place else '已有文件'} {target}", yes)
    try:
        write_overview(workbook, target, merged.text)
    except (DraftError, ReadError) as exc:
        fail(str(exc))
    console.print(f"已写入：{shown(target)}")
    # what the kept original text can still contradict: numbers quoted from the tables, years
    text_rules = {r.id for kind in TEXT_RULE_KINDS for r in report.edition.rules_of(kind)}
    left = [f for f in validate_report(read_report(target)) if f.rule in text_rules]
    for f in left:
        err.print(f"[yellow]提示：[/yellow]原有文字中{shown(f.message, limit=None)}", highlight=False)
