"""Commands for published reports: ``nianbao import``, ``nianbao audit``, ``nianbao compare``.

import — published reports (text, web page, Word) into template workbooks, showing what was
normalised and what could not be placed. audit — import and validate a folder of reports at once
(units × rules), and check a parent's report against the sum of its children's. compare — a
unit's report against last year's (or two folders of them).

Exit codes: 0 all good · 1 something was left out, or findings · 2 a file could not be read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import typer
from rich.table import Table as RichTable

from workbook.published import Imported, PublishedError, write_imported
from workbook.published.batch import import_many
from workbook.read import ReadError, read_report
from workbook.values import format_number

from addin.county.register import RegisterError
from addin.cli.app import app, console, err, fail, os_error_text
from addin.cli.outputs import AUDIT, COMPARE, COMPARE_HTML, guard
from addin.cli.terminal import json_text, shown

if TYPE_CHECKING:
    from addin.county.audit import Audit
    from addin.county.compare import Comparison

MAX_ROWS = 40
MAX_NAMES = 12  # cells named in the “未能录入” line (the rest are counted; --json lists all)


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
        t.add_row(*(shown(x, limit=None) for x in row))
    console.print(t)
    if len(rows) > MAX_ROWS:
        console.print(f"  …还有 {len(rows) - MAX_ROWS} 处未列出（用 --json 查看全部）")


def placed_line(imported: Imported) -> str:
    """“表格单元格：录入 185 / 200（2021 版共 200 格）；未能录入：…” (rich markup, text escaped)."""
    ed = imported.report.edition
    head = f"  表格单元格：录入 {imported.placed} / {imported.cells}（{ed.key} 版共 {imported.cells} 格）"
    if imported.placed == imported.cells:
        return head + "，全部录入"
    names = imported.unplaced()
    listed = "、".join(names[:MAX_NAMES]) + (f" 等 {len(names)} 处" if len(names) > MAX_NAMES else "")
    return head + f"；[red]未能录入（数字不详，不按 0 计）：{shown(listed, limit=None)}[/red]"


def print_import(imported: Imported, target: Path | None) -> None:
    rep = imported.report
    mark = "[green]✓[/green]" if not imported.problems else "[yellow]![/yellow]"
    where = f" → {shown(target)}" if target else ""
    console.print(f"{mark} [bold]{shown(rep.unit) or '（未找到单位名称）'}[/bold] {rep.year or '？'} 年度 · {rep.edition.name} · "
                  f"{shown(imported.path)}{where}")
    console.print(placed_line(imported))
    done = [(n.where, n.found, n.detail) for n in imported.normalised]
    if done:
        _notes_table(f"已规范的写法（{len(done)} 处）", done, ("位置", "原文", "处理"))
    left = [(n.where, n.found, n.detail) for n in imported.problems]
    if left:
        _notes_table(f"[red]未能录入（{len(left)} 处）[/red]", left, ("位置", "内容", "原因"))


@app.command("import")
def import_(
    reports: list[Path] = typer.Argument(..., metavar="文件或文件夹", help="公开发布的年报：.pdf、.txt 文本、.html/.htm 网页、.docx/.doc/.wps Word 文件，或其所在文件夹"),
    output: Path = typer.Option(Path("."), "-o", "--output-dir", help="工作簿的输出文件夹（默认当前文件夹）"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON：每个文件录入了多少单元格、规范了什么、什么未能录入"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, max=64, help="并行导入的进程数（默认按文件数自动选择）"),
) -> None:
    """把公开发布的年报（PDF、文本、网页、Word）录入为年报工作簿，列出每个文件录入了多少表格单元格、规范了哪些写法、哪些内容未能录入。"""
    from checks import validate_report

    from addin.county.audit import find_inputs

    if output.exists() and not output.is_dir():
        fail(f"-o 应为输出文件夹，但 {shown(output)} 是一个文件。")
    paths = [p for p in find_inputs(reports) if p.suffix.lower() not in (".xlsx", ".xlsm") or p in reports]
    if not paths:
        fail("没有找到可导入的文件（.pdf、.txt、.html、.htm、.docx、.doc、.wps）。")
    code = 0
    taken: set[Path] = set()
    records = []
    inputs = {p.resolve() for p in paths}
    for path, got in zip(paths, import_many(paths, workers)):
        if isinstance(got, PublishedError):
            code = 2
            records.append({"path": str(path), "error": got.reason})
            if not as_json:
                err.print(f"[red]✗ 无法导入[/red] {shown(path.name)}：{shown(got.reason, limit=None)}")
            continue
        imported = got
        target = _target(imported, output, taken)
        if target.resolve() in inputs or not _may_overwrite(target):
            code = 2
            reason = f"输出文件 {target} 已存在（不是本工具导入生成的），未覆盖；请用 -o 指定其他文件夹"
            records.append({**imported.to_json(), "error": reason})
            if not as_json:
                err.print(f"[red]✗[/red] {shown(reason, limit=None)}")
            continue
        write_imported(imported, target)
        taken.add(target)
        findings = validate_report(imported.report)
        hard = sum(1 for f in findings if f.severity == "hard")
        records.append({**imported.to_json(), "output": str(target), "hard_findings": hard})
        if imported.problems or imported.report.unknown:
            code = max(code, 1)
        if not as_json:
            print_import(imported, target)
            soft = len(findings) - hard
            verdict = f"发现 {hard} 处错误、{soft} 处提示" if findings else "校验通过"
            if imported.report.unknown:
                verdict += f"；{len(imported.report.unknown)} 个单元格未能录入，相关规则未能核查"
            console.print(f"  校验：{verdict}（详见 nianbao validate {shown(target)}）\n")
    if as_json:
        print(json_text({"files": records}))
    raise typer.Exit(code)


@app.command()
def audit(
    inputs: list[Path] = typer.Argument(..., metavar="文件或文件夹", help="公开发布的年报或工作簿，或其所在文件夹（递归查找）"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
    xlsx: Optional[Path] = typer.Option(None, "--xlsx", help="把核查结果另存为 Excel 工作簿"),
    parent: Optional[Path] = typer.Option(None, "--parent", help="上级（如县人民政府）的报告；不给时按单位名称识别"),
    units: Optional[Path] = typer.Option(None, "--units", help="下级单位名单（.csv 或 .xlsx，含“单位名称”列），用于列出缺报单位"),
    yes: bool = typer.Option(False, "--yes", "-y", help="--xlsx 的位置已有不是核查结果的同名文件时，也替换它"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, max=64,
                                          help="并行读取的进程数（默认按文件数自动选择；每个文件在独立进程中读取，出错只影响该文件）"),
) -> None:
    """核查公开发布的年报：全部录入并一起校验，列出各单位违反的规则和未能录入的单元格；给出上级报告时核对上级与下级合计。

    退出码：0 全部录入且没有错误；1 有错误、有未能录入的内容或上下级不一致；2 有文件无法读取。"""
    from addin.county.audit import audit as run_audit
    from addin.county.audit import find_inputs, read_register, units_json, write_xlsx

    paths = find_inputs(inputs)
    if not paths:
        fail("没有找到任何年报文件（.txt、.html、.htm、.docx、.xlsx）。")
    if xlsx is not None:
        guard(xlsx, AUDIT, yes)
    if units is not None:
        try:
            read_register(units)
        except OSError as exc:
            fail(f"单位名单无法读取：{os_error_text(exc)}")
        except RegisterError as exc:
            fail(str(exc))
    result = run_audit(paths, parent=parent, units=units, workers=workers)
    if xlsx is not None:
        write_xlsx(result, xlsx)
    if as_json:
        print(json_text(units_json(result)))
    else:
        _print_audit(result)
        if xlsx is not None:
            console.print(f"已另存为：{shown(xlsx)}")
    raise typer.Exit(result.exit_code())


def _print_audit(result: Audit) -> None:
    from addin.county.audit import rule_title

    rules = result.rules()
    t = RichTable(title="各单位违反的规则（数字为处数；红色为错误，黄色为提示）", header_style="bold", title_justify="left")
    for h in ("单位", "年度", "版本", "未能录入", "单元格"):
        t.add_column(h, overflow="fold")
    sev = {f.rule: f.severity for e in result.readable for f in e.result.findings}
    for r in rules:
        t.add_column(f"[{'red' if sev[r] == 'hard' else 'yellow'}]{shown(r)}[/]", justify="right")
    for e in result.entries:
        res = e.result
        if res.error:
            t.add_row(f"[red]{shown(e.path.name)}[/red]", "", "", f"[red]无法读取：{shown(res.error)}[/red]", "",
                      *[""] * len(rules))
            continue
        counts = result.counts(e)
        cells = e.placed_text if e.placed == e.cells else f"[red]{e.placed_text}[/red]"
        t.add_row(shown(e.unit or e.path.name), shown(res.year or ""), shown(res.edition), str(e.problems or ""), cells,
                  *[(f"[{'red' if sev[r] == 'hard' else 'yellow'}]{counts[r]}[/]" if counts[r] else "") for r in rules])
    console.print(t)
    if rules:
        console.print("  " + "；".join(f"{shown(r)} {shown(rule_title(r))}" for r in rules))
    bad = [e for e in result.readable if e.result.hard]
    partly = [e for e in result.readable if e.result.unknown and not e.result.hard]
    clean = len(result.readable) - len(bad) - len(partly)
    console.print(f"共 {len(result.entries)} 份：{clean} 份无错误，{len(bad)} 份有错误，"
                  f"{len(partly)} 份有未能录入的单元格（不按 0 计，未能核查），"
                  f"{len(result.entries) - len(result.readable)} 份无法读取。"
                  "（“单元格”列：录入的表格单元格 / 应有的单元格）")
    if result.parent_note:
        console.print(shown(result.parent_note, lines=True, limit=None))
    pc = result.parent
    if pc is None:
        return
    console.print(f"\n[bold]上级与下级合计核对[/bold]：{shown(pc.parent.unit)}（{shown(pc.parent.path.name)}），下级 {len(pc.children)} 份"
                  "（比较第三、四部分；第二部分按本级填报，不作比较）")
    if pc.diffs:
        d = RichTable(header_style="bold")
        for h in ("表", "行", "列", "上级报告", "下级合计", "差额"):
            d.add_column(h, overflow="fold", justify="right" if h in ("上级报告", "下级合计", "差额") else "left")
        for x in pc.diffs[:MAX_ROWS]:
            d.add_row(shown(x.table), shown(x.row), shown(x.column), format_number(x.parent), format_number(x.children),
                      format_number(x.difference))
        console.print(d)
        if len(pc.diffs) > MAX_ROWS:
            console.print(f"  …还有 {len(pc.diffs) - MAX_ROWS} 处未列出（用 --json 或 --xlsx 查看全部）")
    else:
        console.print("  上级报告与下级合计一致。" if not pc.not_compared else "  可核对的单元格中，上级报告与下级合计一致。")
    if pc.not_compared:
        console.print(f"  [red]另有 {len(pc.not_compared)} 个单元格未能核对：上级或下级的报告中有未能录入的数字（不按 0 计）。[/red]")
    for e, why in pc.excluded:
        console.print(f"  未计入：{shown(e.unit or e.path.name)}（{shown(why)}）")
    if pc.expected_from:
        console.print(f"  缺报单位（{shown(pc.expected_from)}）：" + ("、".join(shown(m) for m in pc.missing) if pc.missing else "无"))
        if pc.unlisted:
            console.print("  名单外的单位：" + "、".join(shown(u) for u in pc.unlisted))
    else:
        console.print("  未给单位名单（--units），无法列出缺报单位。")


@app.command()
def compare(
    last: Path = typer.Argument(..., metavar="上年度", help="上年度的报告（工作簿或公开发布的年报），或上年度的文件夹"),
    this: Path = typer.Argument(..., metavar="本年度", help="本年度的报告，或本年度的文件夹"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="把对比另存为 Excel 工作簿"),
    html_out: Optional[Path] = typer.Option(None, "--html", help="把对比另存为网页（HTML）"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
    yes: bool = typer.Option(False, "--yes", "-y", help="-o 或 --html 的位置已有不是对比结果的同名文件时，也替换它"),
) -> None:
    """对比同一单位两个年度的报告：每个单元格的变化、新出现和消失的行、跨年度核对、考核比率。

    退出码：0 两年一致、没有发现；1 有跨年度核对不一致、其他发现或未能录入的单元格；2 有文件无法读取。"""
    from workbook.atomic import write_text_atomic

    from addin.county.compare import LoadError, compare as run_compare, load_folder, load_report, pair_folders, to_html, to_json, write_xlsx

    only_last: list[str] = []
    only_this: list[str] = []
    skipped: list[tuple[Path, str]] = []
    if last.is_dir() != this.is_dir():
        fail("请给两个文件，或两个文件夹。")
    if output is not None:
        guard(output, COMPARE, yes)
    if html_out is not None:
        guard(html_out, COMPARE_HTML, yes)
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
        print(json_text(doc[0] if not last.is_dir() else
                        {"units": doc, "only_last": only_last, "only_this": only_this,
                         "skipped": [{"path": str(p), "why": why} for p, why in skipped]}))
    else:
        _print_compare(cmps, only_last, only_this)
        for p, why in skipped:
            err.print(f"[yellow]未比较[/yellow] {shown(p)}：{shown(why)}")
        for p in (output, html_out):
            if p is not None:
                console.print(f"已另存为：{shown(p)}")
    unreadable = any(not why.startswith("与 ") for _, why in skipped)
    differs = any(c.findings or any(k.ok is False for k in c.checks) or not c.complete for c in cmps)
    raise typer.Exit(2 if unreadable else 1 if differs else 0)


def _signed(v: float) -> str:
    from addin.county.compare import fmt

    return f"+{fmt(v)}" if v > 0 else fmt(v)


def _print_units(cmps: list[Comparison], only_last: list[str], only_this: list[str]) -> None:
    """Two folders: a few lines per unit rather than a table. The units × changes table has a
    dozen columns; at 80 columns rich folded them to 2–4 characters a cell. Labelled lines read
    at any width (the full table is in ``-o``/``--html``)."""
    from addin.county.compare import fmt, summary, summary_headers

    heads = dict(summary_headers(cmps))
    rules = [k for k in heads if re.fullmatch(r"R\d+(?:\.\d+)*", k)]
    bad = sum(1 for c in cmps if any(k.ok is False for k in c.checks))
    console.print(f"[bold]各单位年度对比[/bold]：共 {len(cmps)} 个单位，跨年度核对有不一致的 {bad} 个。")
    for c in cmps:
        row = summary(c)
        console.print(f"\n[bold]{shown(row['unit'])}[/bold]  {shown(row['last_year'])} → {shown(row['this_year'])} 年度")
        console.print(f"  {heads['changed']} {row['changed']} 处；{heads['appeared']} {row['appeared']} 行，"
                      f"{heads['vanished']} {row['vanished']} 行")
        if row["largest"]:
            console.print(f"  {heads['largest']}：{shown(row['largest'], limit=None)}")
        deltas = [k for k in heads if k not in rules and isinstance(row[k], (int, float)) and not isinstance(row[k], bool)
                  and k not in ("last_year", "this_year", "changed", "appeared", "vanished", "unknown")]
        for k in deltas:  # one per line: a label split over two lines reads as two things
            value = _signed(float(row[k])) if heads[k].endswith(("变化", "（百分点）")) else fmt(float(row[k]))
            console.print(f"  {shown(heads[k])}：{value}")
        if c.unknown_note():
            console.print(f"  [red]{shown(c.unknown_note(), limit=None)}[/red]")
        verdicts = [(k, row[k]) for k in rules if row[k]]
        if verdicts:
            console.print("  跨年度核对：" + "；".join(
                f"{k} {'[red]' + v + '[/red]' if '不一致' in v else v}" for k, v in verdicts))
    if only_last:
        console.print("\n只有上年度报告：" + "、".join(shown(u) for u in only_last))
    if only_this:
        console.print(("\n" if not only_last else "") + "只有本年度报告：" + "、".join(shown(u) for u in only_this))


def _print_compare(cmps: list[Comparison], only_last: list[str], only_this: list[str]) -> None:
    from addin.county.compare import fmt, points

    if len(cmps) > 1 or only_last or only_this:
        _print_units(cmps, only_last, only_this)
        return
    c = cmps[0]
    console.print(f"[bold]{shown(c.unit)}[/bold]：{shown(c.last.year)} 年度（{c.last.edition.name}）→ "
                  f"{shown(c.this.year)} 年度（{c.this.edition.name}）")
    for f in c.findings:
        if f.rule not in {k.rule for k in c.checks}:
            console.print(f"[yellow]{shown(f.message, limit=None)}[/yellow]")
    if c.unknown_note():
        console.print(f"[red]{shown(c.unknown_note(), limit=None)}[/red]")
    t = RichTable(title="跨年度核对", header_style="bold", title_justify="left")
    for h in ("规则", "位置", "本年", "按上年推算", "结论"):
        t.add_column(h, overflow="fold")
    for k in c.checks:
        verdict = "无法核对" if k.ok is None else ("一致" if k.ok else "[red]不一致[/red]")
        t.add_row(shown(k.rule), shown(k.label), fmt(k.found), fmt(k.expected), verdict)
    console.print(t)
    r = RichTable(title="考核比率", header_style="bold", title_justify="left")
    for h in ("比率", "分母", "上年", "本年", "变化（百分点）"):
        r.add_column(h, overflow="fold")
    for x in c.rates:
        r.add_row(shown(x.name), shown(x.base), fmt(x.last, True), fmt(x.this, True), points(x.points))
    console.print(r)
    for what, rows in (("新出现的行", c.appeared), ("消失的行", c.vanished)):
        if rows:
            console.print(f"{what}（{len(rows)} 行）：")
            for x in rows:
                console.print(f"  · {shown(x, limit=None)}")
    ch = RichTable(title=f"变化最大的单元格（共 {len(c.changes)} 处变化，{c.unchanged} 处未变）", header_style="bold",
                   title_justify="left")
    for h in ("表", "行", "列", "上年", "本年", "变化"):
        ch.add_column(h, overflow="fold")
    for x in c.changes[:20]:
        ch.add_row(shown(x.table), shown(x.row), shown(x.column), fmt(x.last), fmt(x.this), fmt(x.delta))
    console.print(ch)
