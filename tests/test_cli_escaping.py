"""Text from files reaches the terminal as text: never as rich markup, never as control codes.

A unit named ``青禾县教育局[/bold]`` once stopped ``validate`` for a whole folder (MarkupError),
``[初稿]…[red].xlsx`` printed without ``[red]``, ``[link=…]`` became a link and ESC sequences in a
cell or a file name reached the clerk's terminal. Here every command is run, as a clerk runs it,
on files whose names, unit names and cells carry all of that, and what they print is read back.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from workbook.build import BuildOptions, write_report
from workbook.samples import county_units, fake_report

ROOT = Path(__file__).resolve().parents[1]
SEED_TEXT = ROOT / "samples" / "published" / "宁海县交通运输局2020年政府信息公开工作年度报告.txt"

BRACKETED = "[初稿]青禾县教育局[red]"           # a file name as units really send them
UNIT = "青禾县教育局[/bold]"                    # a unit name that is a closing tag
LINK = "[link=http://evil.example/]点我[/link]"  # a unit's “link” in its text
TITLE = "\x1b]0;PWNED\x07"                       # OSC: retitle the terminal
CLEAR = "\x1b[2J"                                # CSI: clear the screen
RLO = "\u202e"                                   # right-to-left override
CONTROLS = ("\x1b", "\x07", RLO)


def _unit_report(name: str, year: int, seed: int = 3, hostile_cell: bool = False) -> Any:
    rep = fake_report(county_units(n=20)[1], year, seed=seed)
    rep.cover["unit_name"] = name
    rep.texts["overview"] = f"{LINK}{TITLE}本年度工作概况。"
    if hostile_cell:  # a text in a number cell: its finding quotes the text back
        cell = [c for c in rep.edition.input_cells if c.table == "part3"][0]
        rep.raw[cell.id] = f"[/red]见附表{CLEAR}"
    return rep


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder: this year's inbox, last year's, a published report, all hostile."""
    root = tmp_path_factory.mktemp("hostile")
    inbox, last, published = root / "收文", root / "上年收文", root / "公开年报"
    for folder in (inbox, last, published):
        folder.mkdir()
    opts = BuildOptions()
    write_report(_unit_report(f"{UNIT}{TITLE}{RLO}", 2026, hostile_cell=True), inbox / f"{BRACKETED}.xlsx", opts)
    write_report(_unit_report(f"{UNIT}{TITLE}{RLO}", 2025, seed=4), last / f"{BRACKETED}.xlsx", opts)
    other = fake_report(county_units(n=20)[2], 2026, seed=5)
    write_report(other, inbox / f"青禾县{CLEAR}公安局[/].xlsx", opts)  # an ESC sequence in a file name
    text = SEED_TEXT.read_text(encoding="utf-8").replace("宁海县交通运输局", f"宁海县交通运输局[/bold]{TITLE}", 1)
    (published / f"{BRACKETED}年报.txt").write_text(text, encoding="utf-8")
    return root


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "TERM")}
    return {**env, "COLUMNS": "400", **extra}


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None,
         prelude: str = "") -> subprocess.CompletedProcess[str]:
    """The real command in a subprocess (``prelude`` runs first, e.g. to hide a package)."""
    exe = shutil.which("nianbao")
    cmd = ([exe] if exe and not prelude else
           [sys.executable, "-c", f"{prelude}import sys; sys.argv[0] = 'nianbao'; from addin.cli.app import main; main()"])
    return subprocess.run([*cmd, *args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=env or _env(), errors="surrogateescape")


#: (name, arguments, texts that must be printed exactly as written)
COMMANDS: list[tuple[str, list[str], tuple[str, ...]]] = [
    ("validate", ["validate", "收文"], (f"{BRACKETED}.xlsx", UNIT, "公安局[/].xlsx", "[/red]见附表")),
    ("validate-file", ["validate", f"收文/{BRACKETED}.xlsx", "--previous", "上年收文"], (f"{BRACKETED}.xlsx", UNIT)),
    ("show", ["show", f"收文/{BRACKETED}.xlsx"], (f"{BRACKETED}.xlsx", UNIT)),
    ("export-refused", ["export", f"收文/{BRACKETED}.xlsx", "--to", "csv"], (f"{BRACKETED}.xlsx", UNIT, "[/red]见附表")),
    ("export", ["export", f"收文/{BRACKETED}.xlsx", "--to", "csv,json,html", "-o", "导出[red]", "--force"],
     (f"导出[red]/{BRACKETED}.csv", f"导出[red]/{BRACKETED}-片段.html")),
    ("draft-refused", ["draft", f"收文/{BRACKETED}.xlsx"], (f"{BRACKETED}.xlsx", UNIT, "[/red]见附表")),
    ("draft", ["draft", f"上年收文/{BRACKETED}.xlsx"], (f"{BRACKETED}-总体情况.xlsx",)),
    ("consolidate", ["consolidate", "收文", "--year", "2026", "--name", "青禾县[/bold]人民政府", "-o", "汇总[red].xlsx"],
     ("汇总[red].xlsx", "青禾县[/bold]人民政府")),
    ("import", ["import", "公开年报", "-o", "录入[red]"], (f"{BRACKETED}年报.txt", f"录入[red]/{BRACKETED}年报.xlsx")),
    ("audit", ["audit", "公开年报", "收文", "--xlsx", "核查[red].xlsx"], (UNIT, "核查[red].xlsx")),
    ("compare", ["compare", f"上年收文/{BRACKETED}.xlsx", f"收文/{BRACKETED}.xlsx", "-o", "对比[red].xlsx"],
     (UNIT, "对比[red].xlsx")),
    ("compare-folders", ["compare", "上年收文", "收文", "--html", "对比[red].html"], (UNIT, "对比[red].html")),
    ("template", ["template", "--year", "2026", "-o", "[初稿]模板[red].xlsx"], ("[初稿]模板[red].xlsx",)),
    ("rules", ["rules", "-o", "[规则][red].md"], ("[规则][red].md",)),
    ("samples", ["samples", "--root", "样例[red]"], ("样例[red]/",)),
    ("usage", ["[red]命令"], ("[red]命令",)),
    ("missing", ["show", "[不存在][red].xlsx"], ("[不存在][red].xlsx",)),
]


@pytest.fixture(scope="module")
def runs(work: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every command once (two at a time: the machine has two cores)."""
    order = ["draft-refused", "draft", *[n for n, _, _ in COMMANDS if not n.startswith("draft")]]
    args = {n: a for n, a, _ in COMMANDS}
    first = {n: _run(args[n], work) for n in order[:2]}  # the draft reads 上年收文 before compare does
    with ThreadPoolExecutor(2) as pool:
        rest = dict(zip(order[2:], pool.map(lambda n: _run(args[n], work), order[2:])))
    return {**first, **rest}


@pytest.mark.parametrize(("name", "expected"), [(n, e) for n, _, e in COMMANDS], ids=[n for n, _, _ in COMMANDS])
def test_every_command_prints_file_text_as_written(runs: dict[str, subprocess.CompletedProcess[str]], name: str,
                                                    expected: tuple[str, ...]) -> None:
    proc = runs[name]
    out = proc.stdout + proc.stderr
    assert "内部错误" not in out and "Traceback" not in out and "MarkupError" not in out, out[-2000:]
    for control in CONTROLS:
        assert control not in out, f"{name}: {control!r} reached the terminal"
    flat = "".join(line.strip(" │┃") for line in out.splitlines())  # a table may fold a long cell
    for text in expected:
        assert text in out or text in flat, f"{name}: {text!r} not printed as written:\n{out[-3000:]}"


def test_exit_codes_are_the_documented_ones(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    """The hostile names change nothing about the verdicts: findings → 1, refusals as before."""
    codes = {name: proc.returncode for name, proc in runs.items()}
    assert codes["validate"] == 1 and codes["show"] == 0 and codes["export-refused"] == 1
    assert codes["export"] == 0 and codes["draft-refused"] == 1 and codes["draft"] == 0
    assert codes["template"] == 0 and codes["rules"] == 0 and codes["samples"] == 0 and codes["import"] in (0, 1)
    assert codes["usage"] == 2 and codes["missing"] == 2 and codes["consolidate"] == 1


def test_colour_terminal_gets_no_link_and_no_foreign_escape(work: Path) -> None:
    """With colours on, rich writes its own SGR codes; the unit's link, retitle and clear-screen
    must still not be among them."""
    proc = _run(["validate", "收文"], work, _env(FORCE_COLOR="1", TERM="xterm-256color"))
    out = proc.stdout + proc.stderr
    assert "\x1b[" in out, "colours were expected in this run"
    assert "内部错误" not in out and UNIT in out, out[-2000:]
    assert "\x1b]8;" not in out and "\x1b]0;" not in out and CLEAR not in out and "\x07" not in out


def test_install_hint_keeps_its_brackets(tmp_path: Path) -> None:
    """``nianbao serve`` without the server extra: the pip line must be copyable as printed."""
    hide = "import sys; sys.modules['xlwings_server'] = None; "  # as if the extra were not installed
    proc = _run(["serve"], tmp_path, _env(HOME=str(tmp_path)), prelude=hide)
    assert proc.returncode == 2
    assert 'pip install "xxgk-nianbao[server]"' in proc.stderr.replace("\n", ""), proc.stderr


# --- the helper itself, on any text -------------------------------------------------------------

PIECES = [*"[]/\\:=@#ab 红色链接", "[red]", "[/]", "[bold]", "[link=x]", "[#f00]", "[@click]", ":warning:", "\\[",
          "\x1b", "\x07", "\r", "\n", "\t", RLO, "\x00", "\x9b"]
TRICKY = st.lists(st.sampled_from(PIECES), max_size=20).map("".join)


@settings(max_examples=400, deadline=None)
@given(TRICKY, st.sampled_from(["[bold]{}[/bold]", "{}：[red]错误[/red]", "[green]✓[/green] {} · 2026", "{}"]))
def test_shown_text_prints_exactly_as_plain_text(text: str, context: str) -> None:
    """Whatever the text and wherever it sits among our tags, it prints as :func:`plain` gives it
    (a trailing backslash is doubled for a tag of ours that may follow, so only there)."""
    from addin.cli.terminal import make_console, plain, shown

    if not context.startswith("[bold]") and plain(text).endswith("\\"):
        text += "。"
    console: Console = make_console()
    console.file = io.StringIO()
    console.width = 10_000
    console.print(context.format(shown(text)), highlight=False, soft_wrap=True)
    printed = console.file.getvalue()
    expected = context.replace("[bold]", "").replace("[/bold]", "").replace("[red]", "").replace("[/red]", "")
    expected = expected.replace("[green]", "").replace("[/green]", "").format(plain(text))
    assert printed == expected + "\n"
    assert not any(c in printed for c in CONTROLS)
