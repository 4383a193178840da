"""``nianbao demo``: the README's main job, on the bundled samples.

What a county office's January looks like, start to finish: the templates it sends out, the check
of the real published seed report, the check of every unit's file, the consolidation of the
fictional county 青禾县, and the exports for signature and for the website.
"""

from __future__ import annotations

from pathlib import Path

import typer

from checks.files import expand, validate_paths
from workbook.build import write_template
from workbook.office import OfficeMissing
from workbook.samples import COUNTY, REPO_SAMPLES, SEED_NAME
from workbook.spec import CURRENT_EDITION, edition_for_year

from addin.cli.app import app, console, fail
from addin.cli.terminal import print_results, shown, totals_line

YEAR = 2026


def _samples(root: Path) -> Path:
    if (root / f"{SEED_NAME}.xlsx").exists():
        return root
    if (REPO_SAMPLES / f"{SEED_NAME}.xlsx").exists():
        return REPO_SAMPLES
    fail(f"找不到随附样例（{root}）。请在项目目录中运行，或用 --samples 指定样例目录。")
    raise AssertionError  # fail() exits


@app.command()
def demo(
    out: Path = typer.Option(Path("out"), "-o", "--out", help="输出目录"),
    samples: Path = typer.Option(Path("samples"), "--samples", help="样例目录"),
) -> None:
    """用随附样例演示全年流程：生成模板、校验、汇总青禾县、导出 PDF 和 HTML。"""
    from addin.cli.consolidate import account
    from addin.county.consolidate import ConsolidateOptions, consolidate
    from addin.publish.doc import export_html
    from addin.publish.pdf import export_pdf

    root = _samples(samples)
    out.mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, Path]] = []

    console.rule("1. 十二月：生成并下发模板")
    for year in (YEAR, 2020):
        path = out / f"年报模板-{year}.xlsx"
        write_template(path, edition_for_year(year).key, year)
        written.append((f"{year} 年度模板（{edition_for_year(year).name}）", path))
        console.print(f"已生成 {shown(path)}")
    assert edition_for_year(YEAR).key == CURRENT_EDITION

    console.rule("2. 核查一份真实公开的年报（宁海县交通运输局 2020 年度）")
    results, _ = validate_paths([root / f"{SEED_NAME}.xlsx"])
    # the same counts as ``nianbao validate`` gives; its many blank-cell hints are counted, not listed
    for r in results:
        blank = _blank_rule(r.edition)
        print_results(console, [r], hide=lambda f: f.severity != "hard" and f.rule == blank,
                      hidden_why=f"提示（{blank}：空白单元格按 0 计，公开的原文此处为空白）")

    console.rule(f"3. 一月：校验 {COUNTY} 各单位报送的文件")
    inbox = root / f"{COUNTY}-{YEAR}" / "收文"
    results, _ = validate_paths(expand([inbox]), previous=root / f"{COUNTY}-{YEAR - 1}" / "收文")
    for r in results:
        mark = "[red]✗[/red]" if not r.ok else "[green]✓[/green]"
        console.print(f"{mark} {shown(Path(r.path).name)}：{shown(r.verdict())}")
    console.print(totals_line(results))

    console.rule(f"4. 汇总 {COUNTY}（有错误的单位退回修改，不计入：--strict）")
    summary = out / f"{COUNTY}{YEAR}年度汇总.xlsx"
    result = consolidate([inbox], summary, ConsolidateOptions(
        year=YEAR, name=f"{COUNTY}人民政府", units=root / f"{COUNTY}-{YEAR}" / "单位名单.csv", strict=True,
        previous=root / f"{COUNTY}-{YEAR - 1}" / "收文"))
    for line in account(result):
        console.print(line, markup=False, highlight=False)
    written.append(("汇总工作簿", summary))

    console.rule("5. 导出：签发用 PDF、网站用 HTML")
    html, fragment = export_html(summary, out / f"{COUNTY}{YEAR}年度汇总.html")
    written += [("网页", html), ("网页片段（粘贴到网站编辑器）", fragment)]
    try:
        pdf = export_pdf(summary, out / f"{COUNTY}{YEAR}年度汇总.pdf")
        written.append(("PDF", pdf))
    except OfficeMissing as exc:
        console.print(f"[yellow]未导出 PDF：{shown(exc)}[/yellow]")

    console.rule("生成的文件")
    for what, path in written:
        console.print(f"{what}：{shown(path)}")


def _blank_rule(edition: str) -> str:
    """The rule of blank cells (“空白按 0 计”) in ``edition``: the seed's point is its arithmetic
    errors, and its many blank-cell hints would drown them in the listing."""
    from workbook.spec import load_edition

    return load_edition(edition).rules_of("blank")[0].id if edition else ""
