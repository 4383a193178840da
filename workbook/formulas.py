"""What the sheets' XML says about formulas: which cells hold one, its text, and whether the file
stored its result.

Why a look at the XML at all: python-calamine gives every cell's value — for a formula, the result
the file has stored — and nothing about the formula itself. Two things need more:

* a workbook written by a program that does not calculate (openpyxl, pandas, many web systems'
  exports) keeps the template's ``=SUM(…)`` totals *without results*; every reader then sees the
  locked totals blank. ``settle_unsaved_totals`` recognises the template's own formulas there and
  computes them, as a spreadsheet would on opening the file;
* an input cell holding a formula instead of a typed number is something a county must see
  (``addin.county.unitfile``).

One scanner serves both, so that it is bounded and linear in one place: a sheet's XML is read in
chunks only up to the end of its cells (what follows — merges, conditional formats, validations —
is most of a template's sheet and holds no cell), never beyond ``MAX_CELLS_XML`` bytes, and the
formula cells are found with a pattern that has a literal start, each byte looked at a bounded
number of times whatever the file holds.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Collection, Iterable, Mapping

from defusedxml import ElementTree as DET

from .layout import a1, layout_for
from .report import Report, derived_items, settle_formulas

#: The most of a sheet's XML (up to the end of its cells) that is read. A report's table sheet is
#: ~30–100 KB; a file beyond this is not a report, and nothing is concluded from its formulas.
MAX_CELLS_XML = 8 * 1024 * 1024
#: The longest a formula cell's XML may be (Excel's formula limit is 8,192 characters, escaped).
MAX_CELL_XML = 64 * 1024

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_FORMULA = re.compile(rb"<(?:(\w+):)?f(?=[\s>/])")
_REF = re.compile(rb'\sr="([A-Z]{1,3}[0-9]{1,7})"')
_SHEET_DATA_END = re.compile(rb"</(?:\w+:)?sheetData>")
_TAG = re.compile(rb"<(sheet|Relationship)\s([^>]*)>")
_ATTR = re.compile(rb'([\w:]+)\s*=\s*"([^"]*)"')
_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>|<(?:\w+:)?is[\s>]")
_A1 = re.compile(r"(\$?)([A-Z]{1,3})(\$?)([0-9]{1,7})")
_SUM = re.compile(r"SUM\(([A-Z0-9$:,]+)\)")


class SheetTooLarge(ValueError):
    """A sheet whose cells run past ``MAX_CELLS_XML``: not a report; its formulas are not read."""


@dataclass(frozen=True)
class FormulaCell:
    """A cell holding a formula: its text as stored (unescaped, without “=”), whether the file
    stored a result, and for a cell of a shared formula group its group and the group's anchor."""

    ref: str
    text: str
    has_value: bool
    shared: str = ""
    anchor: bool = False


def sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → part name inside a package, from workbook.xml and its relationships (parsed
    with defusedxml: the files are untrusted)."""
    book = DET.fromstring(z.read("xl/workbook.xml"))
    rels = DET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iterfind("p:Relationship", _NS)}
    out = {}
    for sheet in book.iterfind("m:sheets/m:sheet", _NS):
        target = targets.get(sheet.get(_REL_ID))
        if target:
            out[sheet.get("name", "")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return out


def sheet_targets(z: zipfile.ZipFile, wanted: set[str]) -> dict[str, str]:
    """Sheet name → part name, read with a plain scan of workbook.xml and its relationships (a
    sixth of the time of an XML parser, which matters at thousands of files); when a wanted sheet
    is not found that way, the XML parser decides (``sheet_parts``)."""
    def tags(data: bytes, kind: bytes) -> list[dict[bytes, bytes]]:
        return [dict(_ATTR.findall(m[2])) for m in _TAG.finditer(data) if m[1] == kind]

    rels = {r.get(b"Id"): r.get(b"Target", b"").decode("utf-8", "replace")
            for r in tags(z.read("xl/_rels/workbook.xml.rels"), b"Relationship")}
    out: dict[str, str] = {}
    for sheet in tags(z.read("xl/workbook.xml"), b"sheet"):
        rid = next((v for k, v in sheet.items() if k.endswith(b":id")), None)
        target = rels.get(rid)
        if target and b"name" in sheet:
            out[html.unescape(sheet[b"name"].decode("utf-8", "replace"))] = (
                target.lstrip("/") if target.startswith("/") else "xl/" + target)
    return out if wanted <= out.keys() else sheet_parts(z)


def cells_xml(z: zipfile.ZipFile, part: str, chunk: int = 65536, limit: int = MAX_CELLS_XML) -> bytes:
    """A sheet's XML up to the end of its cells, read in chunks (linear: the chunks are joined
    once, and only the newest is searched for the end). Raises ``SheetTooLarge`` past ``limit``."""
    parts: list[bytes] = []
    size = 0
    tail = b""
    with z.open(part) as fh:
        while block := fh.read(chunk):
            window = tail + block
            end = _SHEET_DATA_END.search(window)
            if end:
                cut = size - len(tail) + end.start()  # where the cells end, from the start
                if cut > limit:
                    raise SheetTooLarge(part)
                parts.append(block)
                return b"".join(parts)[:cut]
            parts.append(block)
            size += len(block)
            if size > limit:
                raise SheetTooLarge(part)
            tail = window[-16:]
    return b"".join(parts)


def formula_cells(xml: bytes, wanted: Collection[str] | None = None) -> dict[str, FormulaCell]:
    """Every cell holding a formula in a sheet's cell XML, by A1 reference (only the ``wanted``
    ones, and the anchors of shared formulas, when given: the others are passed over unparsed).

    A formula is a cell's first child, so its cell is the tag just before it; the cell ends at its
    closing tag, looked for within ``MAX_CELL_XML`` bytes (the scan then continues after it, so
    no byte is searched twice however the XML is built)."""
    out: dict[str, FormulaCell] = {}
    pos = 0
    while (m := _FORMULA.search(xml, pos)) is not None:
        prefix = m[1] + b":" if m[1] else b""
        start = xml.rfind(b"<", 0, m.start())
        limit = min(len(xml), m.end() + MAX_CELL_XML)
        end = xml.find(b"</" + prefix + b"c>", m.end(), limit)
        pos = (end if end >= 0 else limit)
        tag = b"<" + prefix + b"c"
        is_cell = xml.startswith(tag, start) and xml[start + len(tag): start + len(tag) + 1] in (b" ", b"\t", b"\r", b"\n")
        ref = _REF.search(xml, start, m.start()) if is_cell else None
        if ref is None or end < 0:
            continue
        cell = xml[m.start():end]
        head_end = cell.find(b">")
        head = cell[: head_end + 1]
        if wanted is not None and ref[1].decode() not in wanted and b"ref=" not in head:
            continue
        attrs = dict(_ATTR.findall(head))
        if head.endswith(b"/>"):
            text, rest = b"", cell[head_end + 1:]
        else:
            close = cell.find(b"</" + prefix + b"f>", head_end)
            text, rest = (cell[head_end + 1: close], cell[close:]) if close >= 0 else (b"", b"")
        value = _VALUE.search(rest)
        has_value = value is not None and (value[1] is None or value[1].strip() != b"")
        shared = attrs.get(b"si", b"").decode("ascii", "replace") if attrs.get(b"t") == b"shared" else ""
        out[ref[1].decode()] = FormulaCell(ref[1].decode(), html.unescape(text.decode("utf-8", "replace")), has_value,
                                           shared, bool(shared) and b"ref" in attrs)
    return out


def sheet_formulas(z: zipfile.ZipFile, part: str, wanted: Collection[str] | None = None) -> dict[str, FormulaCell]:
    """``formula_cells`` of one sheet part (bounded, see ``cells_xml``)."""
    return formula_cells(cells_xml(z, part), wanted)


# ------------------------------------------------------------------------------------------------
# The template's own totals
# ------------------------------------------------------------------------------------------------

def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def sum_cells(text: str, dr: int = 0, dc: int = 0, most: int = 64) -> list[tuple[int, int]] | None:
    """The (row, col) cells a plain ``SUM(A1, B2:C3, …)`` of this sheet adds, each relative part
    moved by (``dr``, ``dc``) — as a spreadsheet moves a shared formula to another cell of its
    group. None for any other formula, or one adding more than ``most`` cells (no total of the
    template adds more; the limit keeps a hostile range from being expanded)."""
    t = "".join(text.split()).upper().removeprefix("=")
    m = _SUM.fullmatch(t)
    if not m:
        return None
    out: list[tuple[int, int]] = []
    for arg in m[1].split(","):
        ends = arg.split(":")
        if len(ends) > 2:
            return None
        corners = []
        for end in ends:
            ref = _A1.fullmatch(end)
            if not ref:
                return None
            col = _col_number(ref[2]) + (0 if ref[1] else dc)
            row = int(ref[4]) - 1 + (0 if ref[3] else dr)
            corners.append((row, col))
        (r0, c0), (r1, c1) = corners[0], corners[-1]
        r0, r1, c0, c1 = min(r0, r1), max(r0, r1), min(c0, c1), max(c0, c1)
        if (r1 - r0 + 1) * (c1 - c0 + 1) + len(out) > most:
            return None
        out += [(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]
    return out


def _a1_pos(ref: str) -> tuple[int, int]:
    m = _A1.fullmatch(ref)
    assert m is not None
    return int(m[4]) - 1, _col_number(m[2])


def shared_anchors(found: Mapping[str, FormulaCell]) -> dict[str, FormulaCell]:
    """Each shared formula group's anchor (the cell that stores the group's text)."""
    return {f.shared: f for f in found.values() if f.shared and f.anchor and f.text.strip()}


def _text_at(cell: FormulaCell, anchors: Mapping[str, FormulaCell]) -> tuple[str, int, int]:
    """A formula's text and the shift to apply to its relative references: its own (0, 0), or its
    shared group's anchor's text moved from the anchor to this cell."""
    if cell.text.strip() or not cell.shared:
        return cell.text, 0, 0
    anchor = anchors.get(cell.shared)
    if anchor is None:
        return "", 0, 0
    (r, c), (ar, ac) = _a1_pos(cell.ref), _a1_pos(anchor.ref)
    return anchor.text, r - ar, c - ac


@cache
def _template_sums(edition_key: str) -> dict[str, dict[str, tuple[str, tuple[tuple[int, int], ...]]]]:
    """Per table: A1 of each derived cell → (cell id, the cells its template formula adds)."""
    lay = layout_for(edition_key)
    out: dict[str, dict[str, tuple[str, tuple[tuple[int, int], ...]]]] = {}
    for cell in lay.edition.derived_cells:
        adds = tuple(sorted(lay.pos(item) for item in cell.items))
        out.setdefault(cell.table, {})[a1(*lay.pos(cell.id))] = (cell.id, adds)
    return out


def unsaved_totals(z: zipfile.ZipFile, report: Report) -> tuple[str, ...]:
    """The derived cells of ``report`` that still hold the template's own formula (a SUM of exactly
    the cells the spec names) and were saved without its result."""
    sums = _template_sums(report.edition_key)
    sheets = {t.key: report.sheet_names.get(t.key) or t.sheet for t in report.edition.tables}
    blank = {c.table for c in report.edition.derived_cells if report.raw.get(c.id) is None}
    parts = sheet_targets(z, {sheets[k] for k in blank})
    out: list[str] = []
    for key in sorted(blank):
        part = parts.get(sheets[key])
        if part is None:
            continue
        found = sheet_formulas(z, part, sums.get(key, {}).keys())
        anchors = shared_anchors(found)
        for ref, (cid, adds) in sums.get(key, {}).items():
            cell = found.get(ref)
            if cell is None or cell.has_value or report.raw.get(cid) is not None:
                continue
            text, dr, dc = _text_at(cell, anchors)
            cells = sum_cells(text, dr, dc)
            if cells is not None and tuple(sorted(cells)) == adds:
                out.append(cid)
    return tuple(out)


def settle_unsaved_totals(report: Report, data: bytes | Path) -> Report:
    """Give the template's totals saved without results (a file written by openpyxl, pandas or a
    web system) the values their formulas compute, and record them in ``report.unsaved``.

    Only when a derived cell reads blank is the package looked at again: a file saved by Excel,
    WPS or LibreOffice (or written by this project) carries every result and costs nothing here. A
    package that cannot be scanned (damaged, or a sheet past the bounds) is left as read."""
    raw = report.raw
    if not any(raw.get(cid) is None for cid in derived_items(report.edition_key)):
        return report
    try:
        source = io.BytesIO(data) if isinstance(data, bytes) else data
        with zipfile.ZipFile(source) as z:
            cells = unsaved_totals(z, report)
    except (zipfile.BadZipFile, zlib.error, OSError, KeyError, ValueError, RuntimeError, NotImplementedError,
            EOFError, SyntaxError):
        return report
    if cells:
        settle_formulas(report, cells)
    return report


def addresses(report: Report, cells: Iterable[str]) -> list[str]:
    """Cells as “sheet!A1”, in the sheets the report was read from."""
    lay = layout_for(report.edition_key)
    out = []
    for cid in cells:
        table = cid.split(".", 1)[0]
        out.append(f"{report.sheet_names.get(table) or lay.sheet_of(cid)}!{a1(*lay.pos(cid))}")
    return out


__all__ = ["FormulaCell", "MAX_CELLS_XML", "SheetTooLarge", "addresses", "cells_xml", "formula_cells",
           "settle_unsaved_totals", "sheet_formulas", "sheet_parts", "sheet_targets", "sum_cells", "unsaved_totals"]
