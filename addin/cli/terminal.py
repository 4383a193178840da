"""How things look in a terminal: user data made inert, a bounded table of findings per file, and
a verdict line.

Everything the command line prints that came from a file — a unit's name, a cell's text, a file
or folder name, a reason that quotes either — passes through :func:`shown` (or :func:`plain` where
no markup is parsed). Two reasons, both found in real folders:

* rich parses ``[...]`` as markup: a unit named ``青禾县教育局[/bold]`` stopped ``validate`` for the
  whole folder with a MarkupError, ``[初稿]…[red].xlsx`` lost ``[red]``, and ``[link=…]`` made a
  clickable link the unit chose;
* a cell or file name may hold control characters: ESC sequences would move the cursor, recolour
  or retitle the clerk's terminal, and bidirectional overrides can make a name read differently
  from what it is. They are removed (line breaks become spaces where one line is expected).
"""

from __future__ import annotations

import json
import re
from typing import Callable, Sequence

from rich.console import Console
from rich.table import Table

from checks.findings import SEVERITY_LABEL, FileResult, Finding

MAX_ROWS = 40
#: One-line fields (names, paths, reasons) longer than this are cut: a 30,000-character unit name
#: would fill the screen and hide every other line.
MAX_FIELD = 300
# C0 and C1 controls (tab, line feed handled apart), DEL, the bidirectional and invisible format
# characters (Trojan-source style reordering), line/paragraph separators, BOM, interlinear
# annotation marks, and lone surrogates (undecodable bytes of a file name, which a UTF-8 terminal
# cannot print at all).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u206f"
                     "\ufeff\ufff9-\ufffb]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def plain(value: object, *, lines: bool = False, limit: int | None = MAX_FIELD) -> str:
    """``value`` as text safe to write to a terminal: no control or invisible format characters.

    ``lines=True`` keeps line breaks (a paragraph); otherwise they become spaces (a name)."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    if not lines:
        text = text.replace("\n", " ")
    text = _SURROGATE.sub("\ufffd", _UNSAFE.sub("", text))
    if limit is not None and not lines and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


_BRACKET = re.compile(r"(\\*)\[")
_TAG_REST = re.compile(r"[a-z#/@][^\[]*?\]")  # what follows “[” in rich's tag pattern
_TRAILING = re.compile(r"(\\+)\Z")


def escape_markup(text: str) -> str:
    """``text`` such that rich prints it exactly, wherever it sits in a markup string.

    ``rich.markup.escape`` escapes only brackets that look like tags; rich then also turns a
    “\\[” elsewhere into “[”, so ``C:\\收文\\[初稿]x.xlsx`` lost its backslash. Here every “[”
    is escaped, with the backslashes before it doubled the way rich counts them: before a
    tag-like bracket rich halves a run of backslashes, before any other bracket it drops one.
    Trailing backslashes are doubled (as rich does), so a tag of ours that follows still works."""

    def one(m: re.Match[str]) -> str:
        run = len(m.group(1))
        if _TAG_REST.match(text, m.end()):
            return "\\" * (2 * run + 1) + "["
        return "\\" * (run + 1) + "["

    return _TRAILING.sub(lambda m: m.group(1) * 2, _BRACKET.sub(one, text))


def shown(value: object, *, lines: bool = False, limit: int | None = MAX_FIELD) -> str:
    """``value`` for a rich markup string: :func:`plain`, with every bracket escaped, so it
    prints exactly as written."""
    return escape_markup(plain(value, lines=lines, limit=limit))


def make_console(stderr: bool = False) -> Console:
    """The consoles of the command line. Emoji codes are off: a unit named “:warning:” prints as
    those nine characters, not as a symbol the unit chose. The automatic highlighter is off too:
    it coloured brackets, slashes and digits inside names and paths as if they were Python."""
    return Console(stderr=stderr, emoji=False, highlight=False)


def _table() -> Table:
    return Table(show_header=True, header_style="bold", expand=False, show_lines=False)


def print_results(console: Console, results: Sequence[FileResult], max_rows: int = MAX_ROWS,
                  hide: Callable[[Finding], bool] | None = None, hidden_why: str = "") -> None:
    """Each file's verdict line (over all its findings) and a table of them, hard first.

    ``hide`` leaves findings out of the table only — the verdict still counts them — and a line
    says how many were left out and why, so the counts agree with ``nianbao validate``."""
    for res in results:
        title = f"{shown(res.unit) or '（未填单位）'} · {res.year or ''} · {shown(res.path)}"
        if res.error:
            console.print(f"[bold red]✗[/bold red] {shown(res.path)}：[red]{shown(res.error)}[/red]")
            continue
        mark = "[green]✓[/green]" if res.ok else "[red]✗[/red]"
        console.print(f"{mark} [bold]{title}[/bold]：{shown(res.verdict())}")
        listed = [f for f in res.findings if hide is None or not hide(f)]
        if listed:
            t = _table()
            for name in ("级别", "规则", "位置", "问题", "说明"):
                t.add_column(name, overflow="fold")
            for f in listed[:max_rows]:
                colour = "red" if f.severity == "hard" else "yellow"
                t.add_row(f"[{colour}]{SEVERITY_LABEL[f.severity]}[/{colour}]", shown(f.rule), shown(f.location),
                          shown(f.message, limit=None), shown(f.explanation, lines=True))
            console.print(t)
            if len(listed) > max_rows:
                console.print(f"  …还有 {len(listed) - max_rows} 处未列出（用 --json 查看全部）")
        left_out = len(res.findings) - len(listed)
        if left_out:
            console.print(f"  另有 {left_out} 处{hidden_why}未列出（nianbao validate 可查看全部）。")


def totals_line(results: Sequence[FileResult]) -> str:
    unreadable = sum(1 for r in results if r.error)
    hard_files = sum(1 for r in results if not r.error and r.hard)
    hard = sum(len(r.hard) for r in results)
    soft = sum(len(r.soft) for r in results)
    ok = sum(1 for r in results if r.ok)
    unknown = sum(1 for r in results if not r.error and r.unknown)
    partly = f"{unknown} 个有未能录入的单元格（未能核查），" if unknown else ""
    return (f"共 {len(results)} 个文件：{ok} 个无错误，{hard_files} 个有错误（共 {hard} 处错误），{partly}"
            f"{unreadable} 个无法读取；提示 {soft} 处。")


def json_text(doc: object) -> str:
    """JSON for stdout. Non-ASCII stays readable; a file name's undecodable bytes (lone
    surrogates) become U+FFFD so printing cannot fail half-way. Control characters are escaped
    by JSON itself."""
    return _SURROGATE.sub("\ufffd", json.dumps(doc, ensure_ascii=False, indent=2))


def results_json(results: Sequence[FileResult]) -> str:
    return json_text({"files": [r.to_json() for r in results]})


def exit_code(results: Sequence[FileResult]) -> int:
    """2 when any file could not be read, else 1 when any has a hard finding or a table cell
    that could not be imported (an unknown cell may hide an error), else 0."""
    if any(r.error for r in results):
        return 2
    return 1 if any(r.hard or r.unknown for r in results) else 0
