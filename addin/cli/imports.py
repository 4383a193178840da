"""Commands for published reports: ``nianbao import``, ``nianbao audit``, ``nianbao compare``.

import — published reports (text, web page, Word) into template workbooks, showing what was
normalised and what could not be placed. audit — import and validate a folder of reports at once
(units × rules), and check a parent's report against the sum of its children's. compare — a
unit's report against last year's (or two folders of them).

Exit codes: 0 all good · 1 something was left out, or findings · 2 a file could not be read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import typer
from rich.table import Table as RichTable

from workbook.published import Imported, PublishedError, import_report, write_imported
from workbook.read import ReadError, read_report
from workbook.values import format_number

from addin.county.register import RegisterError
from addin.cli.app import app, console, err, fail, os_error_text

if TYPE_CHECKING:
    from addin.county.audit import Audit
    from addin.county.compare import Comparison

MAX_ROWS = 40


def _target(imported: Imported, out_dir: Path, taken: set[Path]) -> Path:
    """``out_dir/<input name>.xlsx``; a second input of the same name keeps its suffix in the name."""
    path = out_dir / f"{imported.path.stem}.xlsx"
    if path in taken:
        path = out_dir / f"{imported.path.stem}-{imported.path.suffix.lstrip('.')}.xlsx"
    return path


def _may_overwrite(path: Path) -> bool:
    """Only a workbook this command wrote before (an imported report) is replaced."""
    if not path.exists():
        return True
    try:
        return read_report(path).source == "published"
    except ReadError:
        return False


def _notes_table(title: str, rows: Sequence[tuple[str, str, str]], headers: tuple[str, str, str]) -> None:
    t = RichTable(title=title, show_header=True, header_style="bold", title_justify="left")
    for h in headers:
        t.add_column(h, overflow="fold")
    for row in rows[:MAX_ROWS]:
        t.add_row(*row)
    console.print(t)
    if len(rows) > MAX_ROWS:
        console.print(f"  …还有 {len(rows) - MAX_ROWS} 处未列出（用 --json 查看全部）")


def print_import(imported: Imported, target: Path | None) -> None:
    rep = imported.report
    mark = "[green]✓[/green]" if not imported.problems else "[yellow]![/yellow]"
    where = f" → {target}" if target else ""
    console.print(f"{mark} [bold]{rep.unit or '（未找到单位名称）'}[/bold] {rep.year or '？'} 年度 · {rep.edition.name} · "
                  f"{imported.path}{where}")
    done = [(n.where, n.found, n.detail) for n in imported.normalised]
    if done:
        _notes_table(f"已规范的写法（{len(done)} 处）", done, ("位置", "原文", "处理"))
    left = [(n.where, n.found, n.detail) for n in imported.problems]
    if left:
        _notes_table(f"[red]未能录入（{len(left)} 处）[/red]", left, ("位置", "内容", "原因"))


@app.command("import")
def import_(
    reports: list[Path] = typer.Argument(..., help="公开发布的年报：.txt 文本、.html/.htm 网页、.docx Word 文件，或其所在文件夹"),
    output: Path = typer.Option(Path("."), "-o", "--output-dir", help="工作簿的输出文件夹（默认当前文件夹）"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON：每个文件规范了什么、什么未能录入"),
) -> None:
    """把公开发布的年报（文本、网页、Word）录入为年报工作簿，并列出规范了哪些写法、哪些内容未能录入。"""
    from checks import validate_report

    from addin.county.audit import find_inputs

    if output.exists() and not output.is_dir():
        fail(f"-o 应为输出文件夹，但 {output} 是一个文件。")
    paths = [p for p in find_inputs(reports) if p.suffix.lower() not in (".xlsx", ".xlsm") or p in reports]
    if not paths:
        fail("没有找到可导入的文件（.txt、.html、.htm、.docx）。")
    code = 0
    taken: set[Path] = set()
    records = []
    inputs = {p.resolve() for p in paths}
    for path in paths:
        try:
            imported = import_report(path)
        except PublishedError as exc:
            code = 2
            records.append({"path": str(path), "error": exc.reason})
            if not as_json:
                err.print(f"[red]✗ 无法导入[/red] {exc}")
            continue
        target = _target(imported, output, taken)
        if target.resolve() in inputs or not _may_overwrite(target):
            code = 2
            reason = f"输出文件 {target} 已存在（不是本工具导入生成的），未覆盖；请用 -o 指定其他文件夹"
            records.append({**imported.to_json(), "error": reason})
            if not as_json:
                err.print(f"[red]✗[/red] {reason}")
            continue
        write_imported(imported, target)
        taken.add(target)
        findings = validate_report(imported.report)
        hard = sum(1 for f in findings if f.severity == "hard")
        records.append({**imported.to_json(), "output": str(target), "hard_findings": hard})
        if imported.problems:
            code = max(code, 1)
        if not as_json:
            print_import(imported, target)
            soft = len(findings) - hard
            verdict = f"发现 {hard} 处错误、{soft} 处提示" if findings else "校验通过"
            console.print(f"  校验：{verdict}（详见 nianbao validate {target}）\n")
    if as_json:
        print(json.dumps({"files": records}, ensure_ascii=False, indent=2))
    raise typer.Exit(code)


@app.command()
def audit(
    inputs: list[Path] = typer.Argument(..., help="公开发布的年报或工作簿，或其所在文件夹（递归查找）"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
    xlsx: Optional[Path] = typer.Option(None, "--xlsx", help="把核查结果另存为 Excel 工作簿"),
    parent: Optional[Path] = typer.Option(None, "--parent", help="上级（如县人民政府）的报告；不给时按单位名称识别"),
    units: Optional[Path] = typer.Option(None, "--units", help="下级单位名单（.csv 或 .xlsx，含“单位名称”列），用于列出缺报单位"),
) -> None:
    """核查公开发布的年报：全部录入并一起校验，列出各单位违反的规则；给出上级报告时核对上级与下级合计。"""
    from addin.county.audit import audit as run_audit
    from addin.county.audit import find_inputs, read_register, units_json, write_xlsx

    paths = find_inputs(inputs)
    if not paths:
        fail("没有找到任何年报文件（.txt、.html、.htm、.docx、.xlsx）。")
    if units is not None:
        try:
            read_register(units)
        except OSError as exc:
            fail(f"单位名单无法读取：{os_error_text(exc)}")
        except RegisterError as exc:
            fail(str(exc))
    result = run_audit(paths, parent=parent, units=units)
    if xlsx is not None:
        write_xlsx(result, xlsx)
    if as_json:
        print(json.dumps(units_json(result), ensure_ascii=False, indent=2))
    else:
        _print_audit(result)
        if xlsx is not None:
            console.print(f"已另存为：{xlsx}")
    raise typer.Exit(result.exit_code())


def _print_audit(result: Audit) -> None:
    from addin.county.audit import rule_title

    rules = result.rules()
    t = RichTable(title="各单位违反的规则（数字为处数；红色为错误，黄色为提示）", header_style="bold", title_justify="left")
    for h in ("单位", "年度", "版本", "未能录入"):
        t.add_column(h, overflow="fold")
    sev = {f.rule: f.severity for e in result.readable for f in e.result.findings}
    for r in rules:
        t.add_column(f"[{'red' if sev[r] == 'hard' else 'yellow'}]{r}[/]", justify="right")
    for e in result.entries:
        res = e.result
        if res.error:
            t.add_row(f"[red]{e.path.name}[/red]", "", "", f"[red]无法读取：{res.error}[/red]", *[""] * len(rules))
            continue
        counts = result.counts(e)
        t.add_row(e.unit or e.path.name, str(res.year or ""), res.edition, str(e.problems or ""),
                  *[(f"[{'red' if sev[r] == 'hard' else 'yellow'}]{counts[r]}[/]" if counts[r] else "") for r in rules])
    console.print(t)
    if rules:
        console.print("  " + "；".join(f"{r} {rule_title(r)}" for r in rules))
    bad = [e for e in result.readable if e.result.hard]
    console.print(f"共 {len(result.entries)} 份：{len(result.readable) - len(bad)} 份无错误，{len(bad)} 份有错误，"
                  f"{len(result.entries) - len(result.readable)} 份无法读取。")
    if result.parent_note:
        console.print(result.parent_note)
    pc = result.parent
    if pc is None:
        return
    console.print(f"\n[bold]上级与下级合计核对[/bold]：{pc.parent.unit}（{pc.parent.path.name}），下级 {len(pc.children)} 份"
                  "（比较第三、四部分；第二部分按本级填报，不作比较）")
    if pc.diffs:
        d = RichTable(header_style="bold")
        for h in ("表", "行", "列", "上级报告", "下级合计", "差额"):
            d.add_column(h, overflow="fold", justify="right" if h in ("上级报告", "下级合计", "差额") else "left")
        for x in pc.diffs[:MAX_ROWS]:
            d.add_row(x.table, x.row, x.column, format_number(x.parent), format_number(x.children), format_number(x.difference))
        console.print(d)
        if len(pc.diffs) > MAX_ROWS:
            console.print(f"  …还有 {len(pc.diffs) - MAX_ROWS} 处未列出（用 --json 或 --xlsx 查看全部）")
    else:
        console.print("  上级报告与下级合计一致。")
    for e, why in pc.excluded:
        console.print(f"  未计入：{e.unit or e.path.name}（{why}）")
    if pc.expected_from:
        console.print(f"  缺报单位（{pc.expected_from}）：" + ("、".join(pc.missing) if pc.missing else "无"))
        if pc.unlisted:
            console.print("  名单外的单位：" + "、".join(pc.unlisted))
    else:
        console.print("  未给单位名单（--units），无法列出缺报单位。")


@app.command()
def compare(
    last: Path = typer.Argument(..., help="上年度的报告（工作簿或公开发布的年报），或上年度的文件夹"),
    this: Path = typer.Argument(..., help="本年度的报告，或本年度的文件夹"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="把对比另存为 Excel 工作簿"),
    html_out: Optional[Path] = typer.Option(None, "--html", help="把对比另存为网页（HTML）"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    """对比同一单位两个年度的报告：每个单元格的变化、新出现和消失的行、跨年度核对、考核比率。"""
    from workbook.atomic import write_text_atomic

    from addin.county.compare import LoadError, compare as run_compare, load_folder, load_report, pair_folders, to_html, to_json, write_xlsx

    only_last: list[str] = []
    only_this: list[str] = []
    skipped: list[tuple[Path, str]] = []
    if last.is_dir() != this.is_dir():
        fail("请给两个文件，或两个文件夹。")
    try:
        if last.is_dir():
            olds, news = load_folder(last), load_folder(this)
            skipped = olds.skipped + news.skipped
            pairs, lone_last, lone_this = pair_folders(olds.reports, news.reports)
            only_last, only_this = [r.unit for r in lone_last], [r.unit for r in lone_this]
        else:
            pairs = [(load_report(last), load_report(this))]
    except LoadError as exc:
        fail(f"无法读取：{exc}")
    if not pairs:
        fail("两个文件夹中没有同一单位的报告。")
    cmps = [run_compare(a, b) for a, b in pairs]
    if output is not None:
        write_xlsx(cmps, output, only_last, only_this)
    if html_out is not None:
        write_text_atomic(html_out, to_html(cmps, only_last, only_this))
    if as_json:
        doc = [to_json(c) for c in cmps]
        print(json.dumps(doc[0] if not last.is_dir() else
                         {"units": doc, "only_last": only_last, "only_this": only_this,
                          "skipped": [{"path": str(p), "why": why} for p, why in skipped]}, ensure_ascii=False, indent=2))
    else:
        _print_compare(cmps, only_last, only_this)
        for p, why in skipped:
            err.print(f"[yellow]未比较[/yellow] {p}：{why}")
        for p in (output, html_out):
            if p is not None:
                console.print(f"已另存为：{p}")
    unreadable = any(not why.startswith("与 ") for _, why in skipped)
    differs = any(c.findings or any(k.ok is False for k in c.checks) for c in cmps)
    raise typer.Exit(2 if unreadable else 1 if differs else 0)


def _print_compare(cmps: list[Comparison], only_last: list[str], only_this: list[str]) -> None:
    from addin.county.compare import fmt, points, summary, summary_headers

    if len(cmps) > 1 or only_last or only_this:
        heads = summary_headers(cmps)
        t = RichTable(title="各单位年度对比", header_style="bold", title_justify="left")
        for _, h in heads:
            t.add_column(h, overflow="fold")
        for c in cmps:
            row = summary(c)
            t.add_row(*[fmt(row[k]) if isinstance(row[k], float) else str(row[k] if row[k] is not None else "—") for k, _ in heads])
        console.print(t)
        if only_last:
            console.print("只有上年度报告：" + "、".join(only_last))
        if only_this:
            console.print("只有本年度报告：" + "、".join(only_this))
        return
    c = cmps[0]
    console.print(f"[bold]{c.unit}[/bold]：{c.last.year} 年度（{c.last.edition.name}）→ {c.this.year} 年度（{c.this.edition.name}）")
    for f in c.findings:
        if f.rule not in {k.rule for k in c.checks}:
            console.print(f"[yellow]{f.message}[/yellow]")
    t = RichTable(title="跨年度核对", header_style="bold", title_justify="left")
    for h in ("规则", "位置", "本年", "按上年推算", "结论"):
        t.add_column(h, overflow="fold")
    for k in c.checks:
        verdict = "无法核对" if k.ok is None else ("一致" if k.ok else "[red]不一致[/red]")
        t.add_row(k.rule, k.label, fmt(k.found), fmt(k.expected), verdict)
    console.print(t)
    r = RichTable(title="考核比率", header_style="bold", title_justify="left")
    for h in ("比率", "分母", "上年", "本年", "变化（百分点）"):
        r.add_column(h)
    for x in c.rates:
        r.add_row(x.name, x.base, fmt(x.last, True), fmt(x.this, True), points(x.points))
    console.print(r)
    for what, rows in (("新出现的行", c.appeared), ("消失的行", c.vanished)):
        if rows:
            console.print(f"{what}：" + "；".join(rows))
    ch = RichTable(title=f"变化最大的单元格（共 {len(c.changes)} 处变化，{c.unchanged} 处未变）", header_style="bold",
                   title_justify="left")
    for h in ("表", "行", "列", "上年", "本年", "变化"):
        ch.add_column(h, overflow="fold")
    for x in c.changes[:20]:
        ch.add_row(x.table, x.row, x.column, fmt(x.last), fmt(x.this), fmt(x.delta))
    console.print(ch)
