"""What a unit's workbook package holds beyond the values the reader returns: macros, formulas in
input cells, and where each sheet's XML is.

Why a second look at the package: python-calamine gives every cell's value — for a formula, the
result the file has stored — and nothing about formulas or macros. Both matter to a county summing
hundreds of files: a macro-enabled file is read for its numbers only (its macros never run), and an
input cell that holds a formula instead of a typed number is a finding the county must see. The
look is a plain scan of the sheets' XML: ~0.4 ms a file, against ~1 ms for reading it.
"""

from __future__ import annotations

import html
import re
import zipfile
import zlib
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Iterator

from defusedxml import ElementTree as DET

from workbook.layout import a1, layout_for
from workbook.report import Report

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
       "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → part name inside a package, from workbook.xml and its relationships (parsed
    with defusedxml: this also reads units' files, which are untrusted)."""
    book = DET.fromstring(z.read("xl/workbook.xml"))
    rels = DET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iterfind("p:Relationship", _NS)}
    out = {}
    for sheet in book.iterfind("m:sheets/m:sheet", _NS):
        target = targets.get(sheet.get(_REL_ID))
        if target:
            out[sheet.get("name", "")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    return out


def has_macros(path: Path) -> bool:
    """Whether a package carries a VBA project (its macros are never run; the county is told)."""
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.lower().endswith("vbaproject.bin") for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


#: How a formula element starts (``<f>``, ``<f t="shared" …/>``); its cell is the tag just before it
#: (a formula is a cell's first child). A pattern with a literal start: the regular expression
#: engine then skips through a sheet's XML about as fast as it can be read. Prefixed forms
#: (``<x:f>``) are rare and are searched only when a sheet has any.
_FORMULA = re.compile(rb"<f[\s>/]")
_FORMULA_PREFIXED = re.compile(rb"<\w+:f[\s>/]")
_REF = re.compile(rb'\sr="([A-Z]{1,3}[0-9]{1,7})"')
_SHEET_DATA_END = re.compile(rb"</(?:\w+:)?sheetData>")
_TAG = re.compile(rb"<(sheet|Relationship)\s([^>]*)>")
_ATTR = re.compile(rb'([\w:]+)\s*=\s*"([^"]*)"')


@cache
def _input_refs(edition_key: str) -> dict[str, dict[bytes, str]]:
    """Per table key: the A1 reference (as bytes, as in the XML) of each input cell → its id."""
    lay = layout_for(edition_key)
    out: dict[str, dict[bytes, str]] = defaultdict(dict)
    for c in lay.edition.input_cells:
        out[c.table][a1(*lay.pos(c.id)).encode()] = c.id
    return dict(out)


def _sheet_targets(z: zipfile.ZipFile, wanted: set[str]) -> dict[str, str]:
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


def _cells_xml(z: zipfile.ZipFile, part: str, chunk: int = 16384) -> bytes:
    """A sheet's XML up to the end of its cells: what follows (merges, conditional formats, data
    validations) holds no cell and is most of a template's sheet, so it is neither inflated nor
    searched."""
    data = b""
    with z.open(part) as fh:
        while block := fh.read(chunk):
            data += block
            end = _SHEET_DATA_END.search(data, max(0, len(data) - len(block) - 16))
            if end:
                return data[:end.start()]
    return data


def _formula_refs(xml: bytes) -> Iterator[bytes]:
    """The A1 references of the cells holding a formula in a sheet's XML."""
    for pattern in (_FORMULA, _FORMULA_PREFIXED) if b":f" in xml else (_FORMULA,):
        for m in pattern.finditer(xml):
            ref = _REF.search(xml, xml.rfind(b"<", 0, m.start()), m.start())
            if ref:
                yield ref[1]


def formula_inputs(path: Path, rep: Report) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Input cells that hold a formula, as "sheet!A1": all of them, and those saved without a result.

    Input cells are for typed numbers. A formula there is something the county must see: it may
    pull a number from elsewhere, or be a link (``=HYPERLINK("http://…",7)`` shows 7). The summary
    sums what every reader of the file sees — the result the formula has stored, the number the
    clerk saw on screen — and names the cells on 报送情况 and in the account (exit status 1). A
    workbook saved by a program that stores no results (openpyxl, some web tools) shows such a
    cell blank to every reader: it counts as 0, and is named among the second tuple. Every input
    cell of the three table sheets is looked at: one scan of each sheet's XML (~0.5 ms a file)."""
    refs = _input_refs(rep.edition_key)
    sheets = {table.key: rep.sheet_names.get(table.key) or table.sheet for table in rep.edition.tables}
    found: list[str] = []
    blank: list[str] = []
    try:
        with zipfile.ZipFile(path) as z:
            parts = _sheet_targets(z, set(sheets.values()))
            for key, sheet in sheets.items():
                cells = refs.get(key)
                if not cells or sheet not in parts:
                    continue
                for ref in _formula_refs(_cells_xml(z, parts[sheet])):
                    cid = cells.get(ref)
                    if cid is not None:
                        where = f"{sheet}!{ref.decode()}"
                        found.append(where)
                        if rep.raw.get(cid) is None:
                            blank.append(where)
    except (zipfile.BadZipFile, zlib.error, OSError, KeyError, ValueError, RuntimeError, NotImplementedError, EOFError):
        return (), ()  # the reader read this file: a package it cannot rescan holds nothing new
    return tuple(found), tuple(blank)


__all__ = ["formula_inputs", "has_macros", "sheet_parts"]
