"""Build, from an .xlsx file on disk, the JSON body an Excel client posts to xlwings Server.

Why: the server door (``xw.Book(json=payload)`` → our check → ``book.json()``) must be
testable on Linux without Excel. This module plays the part of the client: the VBA
``RunServerPython`` function of the xlwings add-in (``xlwings/addin/Remote.bas`` +
``WebHelpers.bas``) or the Office.js task pane of xlwings-server (``getBookData`` in
``static/js/custom-scripts/index.js``). Every rule below was read from those sources
(xlwings 0.37.8 / xlwings-server 1.20.0); where the hand-made example payloads differ
from the real clients, the real clients win:

* VBA sends an empty cell as ``null`` (VBA-JSON turns ``Empty`` inside an array into
  null) and an empty sheet as ``[[]]``; the grid runs from A1 to the end of Excel's
  UsedRange, which also counts formatted blank cells.
* Office.js sends an empty cell as ``""``; the grid runs from A1 to the last cell that
  holds a value (``getUsedRangeOrNullObject(true)``); an empty sheet is ``[[""]]`` with
  ``used_range_address`` null. Sheet-scoped names carry the bare name (xlwings adds
  the ``Sheet!`` prefix itself), VBA sends ``Sheet!name``.
* Numbers are Excel doubles (sent as float); dates go as ISO strings with ``Z``;
  error cells go as their text (``#DIV/0!``), which xlwings reads as None.

Values are the cached results stored in the file (``data_only=True``). Files saved by
Excel, WPS or LibreOffice carry them; a file written by openpyxl with formulas has none,
and the client would show computed values we cannot reproduce, so a formula cell
without a cached result is refused (ValueError) instead of guessed at. Our templates
must therefore carry cached values wherever they hold formulas.
Not reproduced: pictures and charts (openpyxl cannot read them without Pillow and
drops charts), pivot tables (sent as ``[]``), chart sheets (skipped, as the clients
only walk worksheets).

Bounded: the value grids are dense (A1 to the farthest cell), so one cell at ``XFD1048576`` in
any sheet — also a sheet the report reader never looks at — would ask for 17 billion cells. The
package is checked with ``workbook.limits`` before openpyxl opens it (every sheet, not only the
report's), and the grids' cells are counted from openpyxl's sparse cells before any grid is
built (``max_cells``, all sheets together): a file beyond either raises ``PayloadTooLarge``.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import zipfile
from pathlib import Path
from typing import Any, Literal

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

import xlwings

from workbook.limits import MAX_CELLS, MAX_SHEETS, LimitError, check_package
from workbook.read import MAX_BYTES

Client = Literal["VBA", "Office.js"]

#: The seven error values VBA-JSON knows (``WebHelpers.ConvertToJson``); any other
#: error (``#SPILL!``, ``#CALC!`` …) would make the VBA client post broken JSON, we
#: send null instead.
VBA_ERRORS = frozenset({"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!"})
_VISIBILITY = {"visible": "Visible", "hidden": "Hidden", "veryHidden": "VeryHidden"}
_CALC_MODE = {"auto": "Automatic", "manual": "Manual", "autoNoTable": "AutomaticExceptTables"}
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
#: Larger than any count or amount (万元) an annual report holds, and than a phone number typed
#: as a number; Excel itself cannot hold more than 15 exact digits.
ABSURD = 1e12
#: Cells of all value grids of one payload together. A report workbook's grids hold ~5,000; a
#: county summary's (which Excel posts for 汇总) up to a million. Each cell of a grid costs ~8
#: bytes of list and, once xlwings has it, several times that.
MAX_PAYLOAD_CELLS = MAX_CELLS


class PayloadTooLarge(ValueError):
    """A workbook whose grids would be far larger than any report's; ``str()`` is the Chinese reason."""


def build_payload(
    path: Path,
    client: Client,
    *,
    selection: str | None = None,
    active_sheet: int = 0,
    max_cells: int = MAX_PAYLOAD_CELLS,
) -> dict[str, Any]:
    """Return the request body ``client`` would post for the workbook at ``path``.

    ``selection`` is the selected A1 range on the active sheet (None: nothing selected,
    e.g. a shape); ``active_sheet`` is the 0-based worksheet index, which must be
    visible because Excel cannot activate a hidden sheet. Raises ``PayloadTooLarge`` when the
    package is outside ``workbook.limits`` or its grids together would exceed ``max_cells``.
    """
    if client not in ("VBA", "Office.js"):
        raise ValueError(f"不支持的客户端类型：{client!r}（只支持 VBA 或 Office.js）")
    path = Path(path)
    check_sheets(path)
    wb_f = openpyxl.load_workbook(path)  # formulas, styles, names, comments
    check_grids(wb_f.worksheets, client, max_cells)
    wb_v = openpyxl.load_workbook(path, data_only=True)  # cached values
    sheets_f, sheets_v = wb_f.worksheets, wb_v.worksheets
    if not 0 <= active_sheet < len(sheets_f):
        raise ValueError(f"活动工作表序号 {active_sheet} 超出范围（共 {len(sheets_f)} 张表）")
    if sheets_f[active_sheet].sheet_state != "visible":
        raise ValueError(f"工作表“{sheets_f[active_sheet].title}”是隐藏的，不能作为活动工作表")

    book: dict[str, Any] = {
        "name": path.name,
        "active_sheet_index": active_sheet,
        "selection": _strip_address(selection) if selection else None,
    }
    if client == "Office.js":
        mode = wb_f.calculation.calcMode if wb_f.calculation is not None else None
        book["calculation"] = _CALC_MODE.get(mode or "auto", "Automatic")
    return {
        "client": client,
        "version": xlwings.__version__,
        "book": book,
        "names": _names(wb_f, client),
        "sheets": [_sheet(f, v, client) for f, v in zip(sheets_f, sheets_v)],
    }


def check_sheets(path: Path) -> None:
    """Refuse, before openpyxl parses it, a package outside ``workbook.limits``: its directory, the
    parts loaded whole, and the extent of EVERY sheet (openpyxl builds all of them, the report
    reader only the report's). Raises ``PayloadTooLarge``; a file that is no zip is left to
    openpyxl, which says so."""
    if path.stat().st_size > MAX_BYTES:
        raise PayloadTooLarge(f"文件超过 {MAX_BYTES // 1024 // 1024} MB，不是正常的年报工作簿")
    data = path.read_bytes()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            package = check_package(data, zf)
            names = list(package.sheet_parts())
            if len(names) > MAX_SHEETS:
                raise PayloadTooLarge(f"文件内容异常（有 {len(names)} 张工作表），不是正常的年报工作簿")
            for name in names:
                package.check_sheet(name)
    except LimitError as exc:
        raise PayloadTooLarge(exc.reason) from None
    except zipfile.BadZipFile:
        return


def grid_size(ws: Worksheet, client: Client) -> tuple[int, int]:
    """(rows, columns) of the grid ``_values`` builds for ``ws``, from its sparse cells alone."""
    cells = ws._cells
    coords = [rc for rc, c in cells.items() if c.value is not None] if client == "Office.js" else list(cells)
    return _last_cell(coords) if coords else (1, 1)


def check_grids(sheets: list[Worksheet], client: Client, max_cells: int) -> None:
    """Refuse a workbook whose grids, all sheets together, would exceed ``max_cells`` — counted
    before any grid is built (openpyxl keeps cells sparse; a grid is dense from A1)."""
    total = 0
    for ws in sheets:
        rows, cols = grid_size(ws, client)
        total += rows * cols
        if total > max_cells:
            corner = f"{get_column_letter(min(cols, 16384))}{rows}"
            raise PayloadTooLarge(f"文件内容异常（“{ws.title}”工作表的数据区域延伸到 {corner}，远大于年报工作簿），"
                                  "不是正常的年报工作簿")


def flag_unusable_numbers(payload: dict[str, Any]) -> int:
    """The server's side of the payload: replace, in every sheet's values, each number that no
    Excel cell can hold or no report can mean — NaN and ±Infinity (JSON has neither, but Python's
    parser accepts them) and anything beyond ``ABSURD`` — by its text (“NaN”, “1e+308”). The checks
    then report the cell as holding something that is not a number (a hard finding that names the
    cell and what it held), where NaN used to read as a blank (and print as 0) and 1e308 as a
    valid count (printed as ###). Returns how many cells were replaced; anything that is not a
    payload's shape is left alone for xlwings to refuse."""
    sheets = payload.get("sheets") if isinstance(payload, dict) else None
    count = 0
    for sheet in sheets if isinstance(sheets, list) else []:
        rows = sheet.get("values") if isinstance(sheet, dict) else None
        for row in rows if isinstance(rows, list) else []:
            if not isinstance(row, list):
                continue
            for j, value in enumerate(row):
                kind = type(value)  # one cheap test per cell: a city's summary posts a million
                if (kind is float or kind is int) and not -ABSURD <= value <= ABSURD:  # NaN fails too
                    row[j] = _unusable(value)
                    count += 1
    return count


def _unusable(value: float) -> str:
    """The text that replaces an unusable number: “NaN”, “Infinity”, “1e+308”."""
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return "1e+999" if value > 0 else "-1e+999"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return f"{number:g}"


def _strip_address(address: str) -> str:
    """Unqualified A1 address without ``$``, as both clients send it."""
    return address.split("!")[-1].replace("$", "").upper()


def _names(wb: Workbook, client: Client) -> list[dict[str, Any]]:
    """Defined names in the client's order: VBA walks ``Workbook.Names`` (sorted by
    name, book and sheet scope mixed, range names only); Office.js reads the book
    collection then each sheet's, and keeps constants with a null address."""
    index = {ws.title: i for i, ws in enumerate(wb.worksheets)}
    scoped: list[tuple[Worksheet | None, str, str]] = [
        (None, name, dn.attr_text) for name, dn in wb.defined_names.items()
    ]
    for ws in wb.worksheets:
        scoped += [(ws, name, dn.attr_text) for name, dn in ws.defined_names.items()]
        if ws.print_area:  # openpyxl moves _xlnm.Print_Area off the name list
            scoped.append((ws, "Print_Area", ws.print_area))
    out: list[tuple[tuple[str, int], dict[str, Any]]] = []
    for scope, name, text in scoped:
        refs = _destinations(text, index)
        if client == "VBA" and not refs:
            continue  # RefersToRange fails: not a range
        single = bool(refs) and len({s for s, _ in refs}) == 1 and (client == "VBA" or len(refs) == 1)
        target = {"sheet_index": refs[0][0] if single else None,
                  "address": ",".join(a for _, a in refs) if single else None}
        book_scope = scope is None
        scope_fields = {"scope_sheet_name": None if scope is None else scope.title,
                        "scope_sheet_index": None if scope is None else index[scope.title]}
        if client == "VBA":
            full = name if scope is None else f"{quote_sheet_name(scope.title)}!{name}"
            entry = {"name": full, **target, "book_scope": book_scope, **scope_fields}
        else:
            entry = {"name": name, "refers_to": "=" + text, **target, **scope_fields, "book_scope": book_scope}
        out.append(((name.casefold(), -1 if scope is None else index[scope.title]), entry))
    if client == "VBA":  # Workbook.Names is sorted by the bare name
        out.sort(key=lambda pair: pair[0])
    return [entry for _, entry in out]


def quote_sheet_name(name: str) -> str:
    """Quote a sheet name the way Excel does in ``Sheet!name`` (same rule as xlwings)."""
    if re.fullmatch(r"[^\W\d][\w.]*", name) and not re.fullmatch(
        r"[A-Za-z]{1,3}[1-9][0-9]*|[Rr][0-9]+[Cc][0-9]+", name
    ):
        return name
    return "'" + name.replace("'", "''") + "'"


_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([^'!]+))!(\$?[A-Z]{0,3}\$?\d*(?::\$?[A-Z]{0,3}\$?\d*)?)$")


def _destinations(text: str, index: dict[str, int]) -> list[tuple[int, str]]:
    """(sheet index, address without $) for each area of a range definition; [] for
    constants, formulas and references to unknown sheets."""
    refs: list[tuple[int, str]] = []
    for part in text.split(","):
        match = _REF.match(part.strip())
        if not match:
            return []
        sheet = (match[1] or match[2]).replace("''", "'")
        if sheet not in index:
            return []
        refs.append((index[sheet], match[3].replace("$", "")))
    return refs


def _sheet(ws: Worksheet, ws_v: Worksheet, client: Client) -> dict[str, Any]:
    """One entry of ``sheets`` with the keys in the order the client writes them."""
    values, used = _values(ws, ws_v, client)
    tables = [_table(t, client) for t in ws.tables.values()]
    if client == "VBA":
        return {"name": ws.title, "pictures": [], "tables": tables, "values": values}
    return {
        "name": ws.title,
        "visibility": _VISIBILITY.get(ws.sheet_state, "Visible"),
        "show_gridlines": ws.sheet_view.showGridLines is not False,
        "print_area": _print_area(ws.print_area),
        "notes": _notes(ws),
        "notes_supported": True,
        "used_range_address": used[0],
        "used_range_row_count": used[1],
        "used_range_column_count": used[2],
        "values": values,
        "pictures": [],
        "shapes": [],
        "charts": [],
        "tables": tables,
        "pivot_tables": [],
    }


def _values(ws: Worksheet, ws_v: Worksheet, client: Client) -> tuple[list[list[Any]], tuple[str | None, int, int]]:
    """The A1-anchored value grid plus Office.js' values-only used range."""
    cells = ws._cells  # reading the dict does not create cells, ws.cell() would
    valued = [rc for rc, c in cells.items() if c.value is not None]
    used: tuple[str | None, int, int] = (None, 0, 0)
    if valued:
        r0, r1 = min(r for r, _ in valued), max(r for r, _ in valued)
        c0, c1 = min(c for _, c in valued), max(c for _, c in valued)
        first, last = f"{get_column_letter(c0)}{r0}", f"{get_column_letter(c1)}{r1}"
        used = (first if first == last else f"{first}:{last}", r1 - r0 + 1, c1 - c0 + 1)
    if client == "VBA":
        # UsedRange counts formatted blanks too; an all-empty 1x1 UsedRange is
        # IsEmpty() in VBA and goes as Array(Array()).
        extent = list(cells)
        if len(extent) <= 1 and not valued:
            return [[]], used
        n_rows, n_cols = _last_cell(extent)
    elif valued:
        n_rows, n_cols = _last_cell(valued)
    else:
        return [[""]], used
    grid = [
        [_cell(cells.get((r, c)), ws_v._cells.get((r, c)), client) for c in range(1, n_cols + 1)]
        for r in range(1, n_rows + 1)
    ]
    return grid, used


def _last_cell(coords: list[tuple[int, int]]) -> tuple[int, int]:
    """Last row and last column (1-based) of a set of cell coordinates."""
    return max(r for r, _ in coords), max(c for _, c in coords)


def _cell(cell_f: Any, cell_v: Any, client: Client) -> Any:
    """Translate one cached cell value into the client's JSON value."""
    blank: Any = None if client == "VBA" else ""
    if cell_f is None or cell_f.value is None:
        return blank
    value = cell_v.value if cell_v is not None else None
    if value is None:
        if cell_f.data_type == "f":
            raise ValueError(
                f"单元格 {cell_f.parent.title}!{cell_f.coordinate} 的公式没有保存计算结果，"
                "请先用 Excel 或 WPS 打开并保存该文件"
            )
        return blank
    if cell_v.data_type == "e":
        return value if client == "Office.js" or value in VBA_ERRORS else None
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return _iso(value, client)


def _iso(value: Any, client: Client) -> str:
    """Excel date/time cells as the clients send them: ``yyyy-mm-ddTHH:MM:SS.fffZ``
    (VBA's Format$ always writes ``.000``; JS' toISOString keeps milliseconds)."""
    if isinstance(value, dt.datetime):
        stamp = value.replace(tzinfo=None)
    elif isinstance(value, dt.date):
        stamp = dt.datetime.combine(value, dt.time())
    elif isinstance(value, dt.time):
        stamp = dt.datetime.combine(_EXCEL_EPOCH.date(), value)
    elif isinstance(value, dt.timedelta):
        stamp = _EXCEL_EPOCH + value
    else:
        raise TypeError(f"无法识别的单元格值类型：{type(value).__name__}")
    if client == "VBA":
        return stamp.strftime("%Y-%m-%dT%H:%M:%S") + ".000Z"
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{round(stamp.microsecond / 1000):03d}Z"


def _table(table: Any, client: Client) -> dict[str, Any]:
    """Table metadata; VBA addresses are absolute (``Range.Address``), Office.js not."""
    first, _, last = table.ref.partition(":")
    c0, r0 = openpyxl.utils.cell.coordinate_from_string(first)
    c1, r1 = openpyxl.utils.cell.coordinate_from_string(last or first)
    headers = (table.headerRowCount if table.headerRowCount is not None else 1) > 0
    totals = bool(table.totalsRowCount)
    body0, body1 = r0 + (1 if headers else 0), r1 - (1 if totals else 0)

    def addr(a: int, b: int) -> str:
        return f"${c0}${a}:${c1}${b}" if client == "VBA" else f"{c0}{a}:{c1}{b}"

    style = table.tableStyleInfo
    entry: dict[str, Any] = {"name": table.displayName or table.name, "range_address": addr(r0, r1)}
    if client == "Office.js":
        entry["row_count"] = r1 - r0 + 1
        entry["column_count"] = len(table.tableColumns)
        entry["columns"] = [col.name for col in table.tableColumns]
    entry.update({
        "header_row_range_address": addr(r0, r0) if headers else None,
        "data_body_range_address": addr(body0, body1) if body1 >= body0 else None,
        "total_row_range_address": addr(r1, r1) if totals else None,
        "show_headers": headers,
        "show_totals": totals,
        "table_style": style.name if style is not None and style.name else "",
        "show_autofilter": table.autoFilter is not None,
    })
    if client == "Office.js":
        for key, attr in (("first_column", "showFirstColumn"), ("last_column", "showLastColumn"),
                          ("row_stripes", "showRowStripes"), ("column_stripes", "showColumnStripes")):
            entry[f"show_table_style_{key}"] = bool(getattr(style, attr, False))
    return entry


def _print_area(area: str | None) -> str | None:
    """Office.js' print_area: unqualified areas joined by commas."""
    if not area:
        return None
    return ",".join(_strip_address(part) for part in area.split(","))


def _notes(ws: Worksheet) -> list[dict[str, str]]:
    """Cells with a classic note. Threaded comments also leave a legacy comment in the
    file that starts with ``[Threaded comment]``; Office.js does not list those."""
    return [
        {"address": cell.coordinate}
        for (_, _), cell in sorted(ws._cells.items())
        if cell.comment is not None and not cell.comment.text.startswith("[Threaded comment]")
    ]
