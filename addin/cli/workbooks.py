"""``nianbao template``, ``validate``, ``show`` and ``samples``: the commands on single workbooks.

Each is a thin mirror of the Python API (``workbook.build``, ``checks.files``, ``workbook.read``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table as RichTable

from addin.cli.app import app, console, err, fail
from addin.cli.outputs import TEMPLATE, guard
from addin.cli.terminal import shown
from workbook.build import DEFAULT_PASSWORD, BuildOptions, write_template
from workbook.read import ReadError, read_report
from workbook.spec import CURRENT_EDITION, EDITIONS, edition_for_year, load_edition
from workbook.values import format_number


@app.command()
def template(
    edition: Optional[str] = typer.Option(None, "--edition", help="表格版本：2021（现行）或 2019（2019、2020 年度）"),
    year: Optional[int] = typer.Option(None, "--year", help="报告年度，如 2026；不给版本时按年度选择版本"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="输出文件，默认 年报模板-年度.xlsx"),
    password: str = typer.Option(DEFAULT_PASSWORD, "--password", help="工作表保护密码"),
    yes: bool = typer.Option(False, "--yes", "-y", help="-o 的位置已有不是空白模板的同名文件时，也替换它"),
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
    guard(out, TEMPLATE, yes)  # a filled-in report with that name is a unit's data
    write_template(out, edition, year, BuildOptions(password=password))
    console.print(f"已生成模板：{shown(out)}（{ed.name}）")


@app.command()
def show(files: list[Path] = typer.Argument(..., metavar="工作簿", help="年报工作簿（可给多个）")) -> None:
    """读取工作簿并显示其中的数字（不做校验）。"""
    code = 0
    for path in files:
        try:
            report = read_report(path)
        except ReadError as exc:
            err.print(f"[red]无法读取[/red] {shown(exc)}")
            code = 2
            continue
        ed = report.edition
        console.print(f"[bold]{shown(report.unit) or '（未填单位名称）'}[/bold] {shown(report.cover.get('year', ''))} 年度 · "
                      f"{ed.name} · {shown(path)}")
        numbers = report.numbers
        for table in ed.tables:
            for block in table.blocks:
                t = RichTable(title=shown(f"{table.title}{' · ' + block.title if block.title else ''}"), show_lines=False)
                t.add_column("")
                for col in block.columns:
                    t.add_column(shown(col.header), justify="right")
                for row in block.rows:
                    ids = [f"{table.key}.{block.key}.{row.key}.{c.key}" for c in block.columns]
                    # a cell an import could not place is unknown: never shown as 0
                    t.add_row(shown(row.label) or "—", *["未录入" if i in report.unknown else format_number(numbers[i])
                                                          for i in ids])
                console.print(t)
    raise typer.Exit(code)


@app.command()
def validate(
    inputs: list[Path] = typer.Argument(..., metavar="文件或文件夹", help="工作簿文件或文件夹（递归查找 .xlsx）"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON（便于其他系统读取）"),
    previous: Optional[Path] = typer.Option(None, "--previous", help="上年度的报告（同一单位的工作簿，或上年收文文件夹）"),
) -> None:
    """校验年报工作簿：列出每个文件的错误（必须改正）和提示（核实或说明）。"""
    from checks.files import expand, validate_paths
    from addin.cli.terminal import exit_code, print_results, results_json, totals_line

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
    console.print(f"已生成 {len(files)} 个样例文件于 {shown(root)}/")
