"""Chinese ``--help`` pages.

typer (through its vendored click) writes help pages with English furniture — “Usage:”,
“Options”, “Show this message and exit.”, “[default: all]”, “<path>” — and measures Chinese
characters as one column each, so Chinese help lines run past the terminal's edge. Rather than
change the installed packages, our command classes use :class:`ChineseContext`, whose formatter
translates that furniture and wraps text by display width. Our own help texts are Chinese already.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

from rich.cells import cell_len

try:  # typer ≥ 0.25 vendors click; older versions use click itself
    from typer._click import Context, HelpFormatter
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import Context, HelpFormatter  # type: ignore[assignment]

SECTIONS = {"Arguments": "参数", "Options": "选项", "Commands": "命令", "Positional arguments": "参数"}
#: click's and typer's fixed help phrases.
PHRASES = {"Show this message and exit.": "显示本帮助并退出。",
           "Show the version and exit.": "显示版本并退出。",
           "Install completion for the current shell.": "为当前 shell 安装命令补全。",
           "Show completion for the current shell, to copy it or customize the installation.": "显示当前 shell 的命令补全脚本。"}
#: Value types as typer shows them after an option (``--year <int>``).
TYPES = {"path": "路径", "int": "整数", "integer": "整数", "str": "文字", "text": "文字", "float": "数字",
         "bool": "是/否", "boolean": "是/否", "list[Path]": "路径", "list[str]": "文字", "list[int]": "整数",
         "file": "文件", "directory": "文件夹", "choice": "选项", "int range": "整数", "float range": "数字"}
_TYPE = re.compile(r"<([^<>]+)>")
_REQUIRED_ARG = re.compile(r"\{([^{}]+)\}")
#: Punctuation that must not begin a line (it stays at the end of the line before).
NO_LINE_START = frozenset("）】」』》〉，。、；：！？”’…%)]}>,.;:!?")
_NOTE = re.compile(r"\s*\[([^\[\]]*)\]\s*$")
_RANGE = re.compile(r"^(?:(?P<lo>-?[\d.]+)(?P<lop><=?))?x(?:(?P<hip>>=?|<=?)(?P<hi>-?[\d.]+))?$")


def _type_name(match: re.Match[str]) -> str:
    return f"<{TYPES.get(match.group(1), match.group(1))}>"


def _note_part(part: str) -> str | None:
    """One item of the trailing ``[…]`` note (default, required, environment variable, range) in
    Chinese; None for anything else (then the brackets are the author's own and stay)."""
    part = part.strip()
    if part.startswith("default: "):
        return f"默认：{part[len('default: '):]}"
    if part == "required":
        return "必填"
    if part.startswith("env var: "):
        return f"环境变量：{part[len('env var: '):]}"
    m = _RANGE.match(part.replace(" ", ""))
    if m and (m.group("lo") or m.group("hi")):
        words = []
        if m.group("lo"):
            words.append(f"不小于 {m.group('lo')}" if m.group("lop") == "<=" else f"大于 {m.group('lo')}")
        if m.group("hi"):
            op = m.group("hip")
            words.append({">=": f"不小于 {m.group('hi')}", ">": f"大于 {m.group('hi')}",
                          "<=": f"不大于 {m.group('hi')}", "<": f"小于 {m.group('hi')}"}[op])
        return "，".join(words)
    return None


def translate(text: str) -> str:
    """The English furniture of one help text (a term or a description) in Chinese."""
    for english, chinese in PHRASES.items():
        text = text.replace(english, chinese)
    text = _TYPE.sub(_type_name, text)
    note = _NOTE.search(text)
    parts = [_note_part(p) for p in note.group(1).split(";")] if note else []
    if note and parts and all(parts):
        before = text[: note.start()]
        text = f"{before}（{'；'.join(p for p in parts if p)}）" if before.strip() else f"（{'；'.join(p for p in parts if p)}）"
    return text


def _tokens(text: str) -> Iterable[str]:
    """Units a line may break between: runs of ASCII letters/digits/punctuation stay whole (an
    option name, a file name), every other character stands alone."""
    yield from re.findall(r"[!-~]+| +|.", text)


def wrap(text: str, width: int) -> list[str]:
    """``text`` broken into lines of at most ``width`` display cells (a Chinese character is two),
    keeping the author's paragraphs and line breaks. Closing punctuation never starts a line: the
    character before it moves down with it."""
    width = max(width, 10)
    lines: list[str] = []
    for source in text.splitlines() or [""]:
        line: list[str] = []
        for tok in _tokens(source):
            if not line and tok.isspace():
                continue
            if cell_len("".join(line) + tok) <= width:
                line.append(tok)
                continue
            carry: list[str] = []
            if tok in NO_LINE_START:
                while len(line) > 1 and line[-1] in NO_LINE_START:
                    carry.insert(0, line.pop())
                if len(line) > 1:
                    carry.insert(0, line.pop())
            if line:
                lines.append("".join(line).rstrip())
            line = [*carry, tok] if not tok.isspace() else carry
            while cell_len("".join(line)) > width:  # one token longer than a line (a long path): cut it
                joined = "".join(line)
                cut = len(joined)
                while cut > 1 and cell_len(joined[:cut]) > width:
                    cut -= 1
                lines.append(joined[:cut])
                line = [joined[cut:]]
        lines.append("".join(line).rstrip())
    return lines


class ChineseHelpFormatter(HelpFormatter):
    """click's formatter with Chinese headings and notes, measuring text in display cells."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        head = f"{'':>{self.current_indent}}{prefix if prefix is not None else '用法：'}{prog} "
        indent = " " * cell_len(head)
        body = wrap(_REQUIRED_ARG.sub(r"\1", translate(args)), max(self.width - cell_len(head), 20))
        self.write(head + body[0] + "\n")
        for line in body[1:]:
            self.write(indent + line + "\n")

    def write_heading(self, heading: str) -> None:
        self.write(f"{'':>{self.current_indent}}{SECTIONS.get(heading, heading)}：\n")

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        for line in wrap(text, self.width - self.current_indent):
            self.write(f"{indent}{line}\n" if line else "\n")

    def write_dl(self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        rows = [(translate(term), translate(text or "")) for term, text in rows]
        first = min(max((cell_len(t) for t, _ in rows), default=0), col_max) + col_spacing
        pad = " " * self.current_indent
        for term, text in rows:
            if not text:
                self.write(f"{pad}{term}\n")
                continue
            if cell_len(term) <= first - col_spacing:
                head = f"{pad}{term}{' ' * (first - cell_len(term))}"
            else:
                self.write(f"{pad}{term}\n")
                head = " " * (first + self.current_indent)
            lines = wrap(text, max(self.width - first - self.current_indent, 10))
            self.write(head + lines[0] + "\n")
            for line in lines[1:]:
                self.write(" " * (first + self.current_indent) + line + "\n")


class ChineseContext(Context):
    """The click context of every ``nianbao`` command: it makes the Chinese formatter."""

    formatter_class = ChineseHelpFormatter


__all__ = ["ChineseContext", "ChineseHelpFormatter", "translate", "wrap"]
