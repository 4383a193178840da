"""The whole annual report as a document: HTML (a fragment for a website editor, and a page) and DOCX.

Both follow the official order — title, then 一 to 六 — with the text parts taken from the
workbook and the three tables laid out exactly as the template lays them out: the merged header
and label rectangles come from ``workbook.layout`` (which derives them from the spec), so every
label is verbatim and no label or span is written here. Numbers are right-aligned and a blank is
printed as 0.

The HTML fragment is what website editors (CMS rich-text boxes) accept: no scripts, no external
resources (no images, links, fonts or style sheets), every style inline on its element, every
piece of text escaped. The DOCX has real Word tables with merged cells (not images), so Word and
WPS open it as an editable document.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from workbook.atomic import atomic_path, write_text_atomic
from workbook.layout import TABLE_TOP, layout_for, stretch

from addin.publish.data import ExportData, output_path, part_order, prepare
from addin.publish.safety import xml_text

FRAGMENT_SUFFIX = "-片段"
EMPTY_TEXT = "（未填写）"


@dataclass(frozen=True)
class GridCell:
    """One rectangle of a table as printed: header, row label, block title or number."""

    text: str
    rowspan: int = 1
    colspan: int = 1
    role: str = "label"


@dataclass(frozen=True)
class Grid:
    """A table below its title row: anchored cells per row (column, cell), the number of leading
    header rows (repeated on each page) and relative column widths."""

    title: str
    width: int
    rows: tuple[tuple[tuple[int, GridCell], ...], ...]
    header_rows: int
    weights: tuple[float, ...]


def table_grid(data: ExportData, key: str) -> Grid:
    """The printed grid of a table from the spec-derived layout (rows below the title and the
    blank row under it, which the document prints as a heading instead)."""
    tl = layout_for(data.edition.key).tables[key]
    blocks = len(tl.table.blocks) > 1
    anchors: dict[tuple[int, int], GridCell] = {}
    for m in tl.merges:
        if m.first_row < TABLE_TOP:
            continue
        role = "head" if m.first_row in tl.header_rows or m.last_row in tl.header_rows else "label"
        if blocks and m.first_col == 0 and m.last_col == tl.width - 1:
            role = "block"
        anchors[(m.first_row, m.first_col)] = GridCell(m.text, m.last_row - m.first_row + 1,
                                                       m.last_col - m.first_col + 1, role)
    for cid, (r, c) in tl.cells.items():
        anchors[(r, c)] = GridCell(data.display(cid), 1, stretch(tl, cid) - c + 1, "number")
    covered = {(r + i, c + j) for (r, c), g in anchors.items() for i in range(g.rowspan) for j in range(g.colspan)}
    for r in range(TABLE_TOP, tl.height):
        for c in range(tl.width):
            if (r, c) not in covered:
                anchors[(r, c)] = GridCell("")
    rows = tuple(tuple(sorted(((c, g) for (rr, c), g in anchors.items() if rr == r), key=lambda x: x[0]))
                 for r in range(TABLE_TOP, tl.height))
    repeat = 0 if blocks else max(tl.header_rows) - TABLE_TOP + 1
    return Grid(tl.table.title, tl.width, rows, repeat, _weights(tl.width, anchors))


def _weights(width: int, anchors: dict[tuple[int, int], GridCell]) -> tuple[float, ...]:
    """Relative column widths: number columns 1, label columns by their longest one-column label."""
    weights = [0.0] * width
    for (_, c), g in anchors.items():
        if g.role == "number":
            weights[c] = max(weights[c], 1.0)
        elif g.colspan == 1 and g.role != "head":
            weights[c] = max(weights[c], min(max(len(g.text) / 6, 1.0), 4.5))
    return tuple(w or 1.0 for w in weights)


def _paragraphs(text: str) -> list[str]:
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").split("\n")]
    return [ln for ln in lines if ln] or [EMPTY_TEXT]


# --- HTML -----------------------------------------------------------------------------------------

_FONT = "font-family:SimSun,STSong,serif;color:#000;"
_CELL = "border:1px solid #000;padding:4px 6px;vertical-align:middle;"
_STYLE = {
    "wrap": _FONT + "font-size:16px;line-height:1.8;",
    "h1": "text-align:center;font-size:22px;font-weight:bold;margin:16px 0 8px;",
    "sub": "text-align:center;margin:0 0 12px;",
    "h2": "font-size:18px;font-weight:bold;margin:20px 0 8px;",
    "p": "text-indent:2em;margin:0 0 8px;",
    "notice": "border:2px solid #c00000;color:#c00000;padding:8px 12px;margin:8px 0 16px;",
    "notice_p": "margin:0 0 4px;",
    "table": "border-collapse:collapse;width:100%;font-size:14px;line-height:1.4;margin:0 0 12px;",
    "head": _CELL + "text-align:center;font-weight:bold;",
    "block": _CELL + "text-align:left;font-weight:bold;",
    "label": _CELL + "text-align:left;",
    "number": _CELL + "text-align:right;white-space:nowrap;",
}


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _tag(name: str, style: str, body: str, **attrs: int | str) -> str:
    extra = "".join(f' {k}="{_esc(str(v))}"' for k, v in attrs.items())
    return f'<{name}{extra} style="{_STYLE[style]}">{body}</{name}>'


def _html_table(grid: Grid) -> str:
    total = sum(grid.weights)
    cols = "".join(f'<col style="width:{100 * w / total:.1f}%">' for w in grid.weights)
    rows = []
    for row in grid.rows:
        cells = []
        for _, g in row:
            spans: dict[str, int | str] = {}
            if g.rowspan > 1:
                spans["rowspan"] = g.rowspan
            if g.colspan > 1:
                spans["colspan"] = g.colspan
            name = "td" if g.role == "number" else "th"
            if g.role == "label":
                spans["scope"] = "row"
            cells.append(_tag(name, g.role, _esc(g.text), **spans))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table style="{_STYLE["table"]}"><colgroup>{cols}</colgroup><tbody>'
            + "\n".join(rows) + "</tbody></table>")


def html_fragment(data: ExportData) -> str:
    """The report as one ``<div>``: headings, paragraphs and tables, styles inline, text escaped."""
    ed = data.edition
    texts = {t.key: t.label for t in ed.texts}
    out = [_tag("h1", "h1", _esc(data.title))]
    if sub := data.subtitle:
        out.append(_tag("p", "sub", _esc(sub)))
    if notice := data.notice_lines():
        out.append(_tag("div", "notice", "".join(_tag("p", "notice_p", _esc(line)) for line in notice)))
    for kind, key in part_order(ed):
        if kind == "text":
            out.append(_tag("h2", "h2", _esc(texts[key])))
            out += [_tag("p", "p", _esc(p)) for p in _paragraphs(data.report.texts.get(key, ""))]
        else:
            grid = table_grid(data, key)
            out.append(_tag("h2", "h2", _esc(grid.title)))
            out.append(_html_table(grid))
    return f'<div class="nianbao-report" style="{_STYLE["wrap"]}">\n' + "\n".join(out) + "\n</div>\n"


def html_page(data: ExportData, fragment: str | None = None) -> str:
    """A standalone page around the fragment; its policy forbids any script or outside resource."""
    body = fragment if fragment is not None else html_fragment(data)
    return ("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_esc(data.title)}</title>\n</head>\n<body style=\"max-width:960px;margin:0 auto;padding:16px;\">\n"
            f"{body}</body>\n</html>\n")


def export_html(path_in: Path | str, path_out: Path | str, force: bool = False) -> tuple[Path, Path]:
    """Write the standalone page at ``path_out`` and the fragment beside it (“…-片段.html”)."""
    data = prepare(path_in, force)
    out = output_path(path_in, path_out)
    fragment = html_fragment(data)
    frag = out.with_name(out.stem + FRAGMENT_SUFFIX + out.suffix)
    write_text_atomic(out, html_page(data, fragment))
    write_text_atomic(frag, fragment)
    return out, frag


# --- DOCX -----------------------------------------------------------------------------------------

def _docx(data: ExportData):  # type: ignore[no-untyped-def]  # python-docx has no type hints
    """Build the Word document (python-docx imported here: only the DOCX export needs it)."""
    from docx import Document
    from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt, RGBColor

    def fonts(rpr_owner, east_asia: str) -> None:  # type: ignore[no-untyped-def]
        rpr = rpr_owner.get_or_add_rPr()
        rfonts = rpr.find(qn("w:rFonts"))
        if rfonts is None:
            rfonts = OxmlElement("w:rFonts")
            rpr.insert(0, rfonts)
        for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            rfonts.attrib.pop(qn(attr), None)
        for attr in ("w:ascii", "w:hAnsi"):
            rfonts.set(qn(attr), "Times New Roman")
        rfonts.set(qn("w:eastAsia"), east_asia)

    def run(par, text: str, size: float, bold: bool = False, east_asia: str = "宋体", red: bool = False):  # type: ignore[no-untyped-def]
        r = par.add_run(xml_text(text))
        r.font.size, r.font.bold = Pt(size), bold
        if red:
            r.font.color.rgb = RGBColor(0xC0, 0, 0)
        fonts(r._r, east_asia)
        return r

    doc = Document()
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21), Cm(29.7)
    sec.left_margin = sec.right_margin = Cm(1.8)
    sec.top_margin = sec.bottom_margin = Cm(2.2)
    text_width = 21 - 2 * 1.8
    fonts(doc.styles["Normal"].element, "宋体")
    doc.styles["Normal"].font.size = Pt(12)
    doc.core_properties.title = xml_text(data.title)
    doc.core_properties.author = xml_text(data.report.unit)
    head = doc.styles["Heading 1"]
    head.font.color.rgb, head.font.size, head.font.bold = RGBColor(0, 0, 0), Pt(14), True
    fonts(head.element, "黑体")

    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run(p, data.title, 18, bold=True)
    if sub := data.subtitle:
        p = doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run(p, sub, 12)
    for line in data.notice_lines():
        run(doc.add_paragraph(), line, 11, bold=True, red=True)
    texts = {t.key: t.label for t in data.edition.texts}
    for kind, key in part_order(data.edition):
        if kind == "text":
            doc.add_paragraph(xml_text(texts[key]), style="Heading 1")
            for para in _paragraphs(data.report.texts.get(key, "")):
                p = doc.add_paragraph()
                p.paragraph_format.first_line_indent = Pt(24)
                run(p, para, 12)
            continue
        grid = table_grid(data, key)
        doc.add_paragraph(xml_text(grid.title), style="Heading 1")
        table = doc.add_table(rows=len(grid.rows), cols=grid.width)
        table.style = "Table Grid"
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        total = sum(grid.weights)
        widths = [Cm(text_width * w / total) for w in grid.weights]
        for j, column in enumerate(table.columns):  # the grid Writer and WPS lay out by
            column.width = widths[j]
        for row in table.rows:  # the cell widths Word lays out by
            for j, cell in enumerate(row.cells):
                cell.width = widths[j]
        for r in range(grid.header_rows):
            flag = OxmlElement("w:tblHeader")
            flag.set(qn("w:val"), "true")
            table.rows[r]._tr.get_or_add_trPr().append(flag)
        for r, row_cells in enumerate(grid.rows):
            for c, g in row_cells:
                cell = table.cell(r, c)
                if g.rowspan > 1 or g.colspan > 1:
                    cell = cell.merge(table.cell(r + g.rowspan - 1, c + g.colspan - 1))
                cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
                par = cell.paragraphs[0]
                par.alignment = {"number": WD_ALIGN_PARAGRAPH.RIGHT, "head": WD_ALIGN_PARAGRAPH.CENTER}.get(
                    g.role, WD_ALIGN_PARAGRAPH.LEFT)
                run(par, g.text, 9, bold=g.role in ("head", "block"))
        doc.add_paragraph()
    return doc


def export_docx(path_in: Path | str, path_out: Path | str, force: bool = False) -> Path:
    data = prepare(path_in, force)
    out = output_path(path_in, path_out)
    doc = _docx(data)
    with atomic_path(out) as tmp:
        doc.save(str(tmp))
    return out


__all__ = ["Grid", "GridCell", "table_grid", "html_fragment", "html_page", "export_html", "export_docx"]
