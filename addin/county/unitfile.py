"""What a unit's workbook package holds beyond the values the reader returns: macros, formulas in
input cells, and where each sheet's XML is.

Why a second look at the package: python-calamine gives every cell's value — for a formula, the
result the file has stored — and nothing about formulas or macros. Both matter to a county summing
hundreds of files: a macro-enabled file is read for its numbers only (its macros never run), and an
input cell that holds a formula instead of a typed number is a finding the county must see. The
look is a plain scan of the sheets' XML: ~0.4 ms a file, against ~1 ms for reading it.
"""

from __future__ import annotations

import zipfile
import zlib
from collections import defaultdict
from functools import cache
from pathlib import Path

from workbook.formulas import sheet_formulas, sheet_parts, sheet_targets
from workbook.layout import a1, layout_for
from workbook.report import Report


def has_macros(path: Path) -> bool:
    """Whether a package carries a VBA project (its macros are never run; the county is told)."""
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.lower().endswith("vbaproject.bin") for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


@cache
def _input_refs(edition_key: str) -> dict[str, dict[str, str]]:
    """Per table key: the A1 reference of each input cell → its id."""
    lay = layout_for(edition_key)
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for c in lay.edition.input_cells:
        out[c.table][a1(*lay.pos(c.id))] = c.id
    return dict(out)


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
            parts = sheet_targets(z, set(sheets.values()))
            for key, sheet in sheets.items():
                cells = refs.get(key)
                if not cells or sheet not in parts:
                    continue
                for ref in sheet_formulas(z, parts[sheet], cells):  # bounded and linear (workbook.formulas)
                    cid = cells.get(ref)
                    if cid is not None:
                        where = f"{sheet}!{ref}"
                        found.append(where)
                        if rep.raw.get(cid) is None:
                            blank.append(where)
    except (zipfile.BadZipFile, zlib.error, OSError, KeyError, ValueError, RuntimeError, NotImplementedError, EOFError):
        return (), ()  # the reader read this file: a package it cannot rescan holds nothing new
    return tuple(found), tuple(blank)


__all__ = ["formula_inputs", "has_macros", "sheet_parts"]
