"""Published reports as web pages: paragraphs, tables with rowspan/colspan, pictures.

Government sites serve hand-edited HTML: unclosed ``<td>`` and ``<p>``, layout tables around the
article, GBK pages, the report's tables nested in a layout cell, and sometimes a table published
as an ``<img>``. The standard library's tolerant parser builds a small tree; a table that holds
other tables is layout (walked as flowing text), a table without one is data and is laid out on
a grid exactly as a browser would (``model.expand``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from .model import Document, Image, Para, SpanCell, TooLarge, expand
from .text import decode, is_omitted_note

VOID = frozenset({"br", "img", "hr", "meta", "link", "input", "col", "wbr", "area", "base", "source", "embed", "param"})
SKIP = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object", "select", "button"})
BLOCK = frozenset({"p", "div", "section", "article", "main", "header", "footer", "aside", "nav", "h1", "h2", "h3",
                   "h4", "h5", "h6", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre", "table", "tr",
                   "td", "th", "caption", "center", "form", "fieldset", "address", "figure", "figcaption", "body"})
TITLE_META = ("articletitle", "title", "og:title", "dc.title", "contenttitle")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)
_SPACE = re.compile(r"[ \t\r\n\f]+")
#: Elements open at once. Real pages nest a few dozen deep (layout tables in divs); a page nested
#: 200,000 deep must cost its text, not a recursion error. Table elements still open past the
#: bound, so the whole tree stays under ~2 × MAX_DEPTH (each walk below recurses per level).
MAX_DEPTH = 100
_TABLE_TAGS = frozenset({"table", "tbody", "thead", "tfoot", "tr", "td", "th", "br", "img"})


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    line: int
    children: list["Node | Text"] = field(default_factory=list)


@dataclass
class Text:
    text: str
    line: int


# What an opening tag implicitly closes (the HTML rules that matter for sloppy tables).
_CLOSES = {"td": ("td", "th"), "th": ("td", "th"), "tr": ("tr", "td", "th"), "p": ("p",), "li": ("li",),
           "tbody": ("tbody", "thead", "tfoot", "tr", "td", "th"), "thead": ("tbody", "tr", "td", "th"),
           "tfoot": ("tbody", "tr", "td", "th")}
_SCOPE = {"td": "tr", "th": "tr", "tr": "table", "tbody": "table", "thead": "table", "tfoot": "table",
          "p": "td", "li": "ul"}


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, 1)
        self.stack: list[Node] = [self.root]
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skipping:
            if tag in SKIP:
                self.skipping += 1
            return
        if tag in SKIP:
            self.skipping = 1
            return
        if tag in _CLOSES:
            self._close_open(_CLOSES[tag], _SCOPE.get(tag, "table"))
        depth = len(self.stack)
        if depth >= MAX_DEPTH and (tag not in _TABLE_TAGS or depth >= 2 * MAX_DEPTH):
            # deeper than any page nests: the element adds only depth; its text is kept, and a
            # block still breaks the line (as a browser shows it)
            if tag in BLOCK:
                self.stack[-1].children.append(Node("br", {}, self.getpos()[0]))
            return
        node = Node(tag, {k: (v or "") for k, v in attrs}, self.getpos()[0])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and not self.skipping and self.stack[-1].tag == tag:
            self.stack.pop()

    def _close_open(self, tags: tuple[str, ...], scope: str) -> None:
        """Close the outermost open element among ``tags`` inside ``scope`` (and all it holds):
        a new ``<tr>`` ends the previous row even when its last ``<td>`` was never closed."""
        found = None
        for i in range(len(self.stack) - 1, 0, -1):
            t = self.stack[i].tag
            if t == scope or (t == "table" and scope != "table"):
                break
            if t in tags:
                found = i
            if t == "table":
                break
        if found is not None:
            del self.stack[found:]

    def handle_endtag(self, tag: str) -> None:
        if self.skipping:
            if tag in SKIP:
                self.skipping -= 1
            return
        for i in range(len(self.stack) - 1, max(0, len(self.stack) - 64), -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return
            if self.stack[i].tag == "table" and tag != "table":
                break
        if tag in BLOCK and len(self.stack) >= MAX_DEPTH:  # the end of a block never opened (too deep)
            self.stack[-1].children.append(Node("br", {}, self.getpos()[0]))

    def handle_data(self, data: str) -> None:
        if not self.skipping and data:
            self.stack[-1].children.append(Text(data, self.getpos()[0]))


def _has(node: Node, tag: str) -> bool:
    return any(isinstance(c, Node) and (c.tag == tag or _has(c, tag)) for c in node.children)


def _span(value: str) -> int:
    m = re.match(r"\s*(\d{1,6})", value or "")
    return max(1, int(m.group(1))) if m else 1  # bounded where the grid is laid out (model.expand)


class _Flow:
    """Walks the tree in reading order, producing paragraphs, tables and images."""

    def __init__(self) -> None:
        self.items: list = []
        self.parts: list[str] = []
        self.line = 0
        self.titles: list[str] = []

    def flush(self) -> None:
        text = _SPACE.sub(" ", "".join(self.parts)).strip()
        if text:
            if is_omitted_note(text):
                self.items.append(Image(text, f"第 {self.line} 行"))
            else:
                self.items.append(Para(text, f"第 {self.line} 行"))
        self.parts = []

    def walk(self, node: Node) -> None:
        for child in node.children:
            if isinstance(child, Text):
                if not self.parts or not "".join(self.parts).strip():
                    self.line = child.line
                self.parts.append(child.text)
                continue
            tag = child.tag
            if tag in ("head", "title", "meta"):
                self._head(child if tag == "head" else Node("head", {}, child.line, [child]))
            elif tag == "br":
                self.flush()
            elif tag == "img":
                self.flush()
                src = child.attrs.get("src", "")
                alt = child.attrs.get("alt", "")
                self.items.append(Image(f"<img src=\"{src[:80]}\"{' alt=' + alt if alt else ''}>", f"第 {child.line} 行"))
            elif tag == "table" and not _has(child, "table"):
                self.flush()
                try:
                    self.items.append(self._table(child))
                except TooLarge as exc:
                    self.items.append(Image(f"表格过大，未读取（{exc}）", f"第 {child.line} 行"))
            elif tag in BLOCK:
                self.flush()
                self.walk(child)
                self.flush()
            else:
                self.walk(child)

    def _head(self, head: Node) -> None:
        for c in head.children:
            if isinstance(c, Node) and c.tag == "title":
                self.titles.append(_SPACE.sub(" ", _text(c)).strip())
            elif isinstance(c, Node) and c.tag == "meta":
                name = (c.attrs.get("name") or c.attrs.get("property") or "").lower()
                if name in TITLE_META and c.attrs.get("content"):
                    self.titles.insert(0, c.attrs["content"].strip())

    def _table(self, table: Node) -> object:
        rows: list[list[SpanCell]] = []
        wheres: list[str] = []
        for tr in _rows(table):
            cells = [c for c in tr.children if isinstance(c, Node) and c.tag in ("td", "th")]
            rows.append([SpanCell(_cell_text(c), f"第 {c.line} 行", _span(c.attrs.get("rowspan", "")),
                                  _span(c.attrs.get("colspan", ""))) for c in cells])
            wheres.append(f"第 {tr.line} 行")
        return expand(rows, wheres, f"第 {table.line} 行")


def _rows(table: Node) -> list[Node]:
    out: list[Node] = []
    for c in table.children:
        if isinstance(c, Node):
            if c.tag == "tr":
                out.append(c)
            elif c.tag in ("tbody", "thead", "tfoot"):
                out += _rows(c)
    return out


def _text(node: Node) -> str:
    return "".join(c.text if isinstance(c, Text) else ("\n" if c.tag == "br" else _text(c)) for c in node.children)


def _cell_text(node: Node) -> str:
    """A cell's text with line breaks where ``<br>``/``<p>`` broke it (labels fold them away)."""
    parts: list[str] = []
    for c in node.children:
        if isinstance(c, Text):
            parts.append(_SPACE.sub(" ", c.text))
        elif c.tag == "br":
            parts.append("\n")
        elif c.tag in BLOCK:
            parts.append("\n" + _cell_text(c) + "\n")
        else:
            parts.append(_cell_text(c))
    return "\n".join(s.strip() for s in "".join(parts).split("\n") if s.strip())


def parse_html(path: Path, data: bytes) -> Document:
    """Read a web page (a saved page or a CMS fragment) into a ``Document``."""
    m = _CHARSET.search(data[:4096])
    text, encoding = decode(data, m.group(1).decode("ascii", "replace") if m else None)
    builder = _TreeBuilder()
    builder.feed(text)
    builder.close()
    flow = _Flow()
    flow.walk(builder.root)
    flow.flush()
    return Document(Path(path), "html", flow.items, flow.titles, encoding)


__all__ = ["parse_html"]
