"""Text that a spreadsheet must show, never run, and file names that stay in their folder: the one
rule of each that every door uses.

A cell whose text starts with ``=``, ``+``, ``-`` or ``@`` is taken for a formula by Excel, WPS and
LibreOffice — when typed, when set as a value by an add-in, and when a CSV file is opened — and a
leading tab or carriage return hides such a start from a casual look (the OWASP list for “CSV
injection”). Clerks' texts (a unit name, the narrative of 一、总体情况, a typed “-” or “/”) reach
three doors: the 校验结果 rows (``addin.excel.core``), the cells the 汇总 and 生成数据段落 buttons write
(``addin.excel.buttons``) and the CSV export (``addin.publish.data``). Each door asks this module, so they
cannot disagree about which texts are dangerous.

Only text is neutralised. A number is data: the signed 2019 column's ``-8`` is written as the
number it is, and a number we format ourselves for a CSV stays as it is.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final, TypeVar

#: What makes a spreadsheet read text as a formula (or hide that it would).
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")
#: Marks a cell's text as text; Excel and LibreOffice show the text without it.
TEXT_PREFIX: Final = "'"
#: Text that Excel turns into a number, a date or a time when it is set as a cell's value.
_CONVERTED = re.compile(r"[\d.'($¥￥€£]")
_BOOLEANS: Final = frozenset({"TRUE", "FALSE"})

T = TypeVar("T")


def is_formula_like(value: object) -> bool:
    """True for text that a spreadsheet would take for a formula; False for anything else,
    numbers included."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def neutralise(value: T) -> T:
    """``value`` with a leading apostrophe when it is formula-like text; anything else unchanged.

    For files (CSV): a spreadsheet opening the file shows the text after the apostrophe. Excel
    and LibreOffice read the apostrophe of a CSV field as part of the text, which is the point:
    the field can never run."""
    if is_formula_like(value):
        return TEXT_PREFIX + value  # type: ignore[operator, return-value]
    return value


def cell_value(value: Any) -> Any:
    """A value to set in an Excel cell through an add-in, so that the cell holds what was meant.

    Setting a value is typing it: beyond formulas, Excel turns “0012” into 12, “1.5” into a number,
    “2026年1月” into a date, “(5)” into -5 and “TRUE” into a boolean. Such text, and formula-like text, gets a
    leading apostrophe, which Excel stores as the cell's “text” flag (it is not part of the
    value). Integral floats go as ints (Excel shows 3, not 3.0); other values are unchanged.
    """
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if not isinstance(value, str) or not value:
        return value
    if is_formula_like(value) or _CONVERTED.match(value) or value.strip().upper() in _BOOLEANS:
        return TEXT_PREFIX + value
    return value




_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
#: Characters that reorder or hide what a name shows (“报告\u202excod.xlsx” reads as a .doc file).
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
#: Names Windows reserves for devices, with any suffix (“CON.xlsx” opens the console).
_DEVICE = re.compile(r"(?i)(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?")


def safe_name(name: str, fallback: str = "文件", *, strip_path: bool = True) -> str:
    """A file name that stays inside its folder on every system: no path, no reserved characters,
    no leading dots, no trailing dots or spaces (Windows drops them), no characters that reorder or
    hide text, no Windows device name, at most 120 characters (the suffix kept).

    The one place that makes names safe: uploads (a browser may send “C:\\…\\x.xlsx”: the path is
    dropped, ``strip_path``) and names made from text people typed, such as a unit name read from a
    cover (``strip_path=False``: “/” and “\\” are only characters there, replaced like the others).
    """
    base = re.split(r"[\\/]", name or "")[-1] if strip_path else (name or "")
    base = _UNSAFE.sub("_", _INVISIBLE.sub("", base)).strip().lstrip(".").strip().rstrip(". ")
    if not base:
        return fallback
    if _DEVICE.fullmatch(base):
        base = "_" + base
    stem, dot, suffix = base.rpartition(".")
    if dot and 0 < len(suffix) <= 8:
        return stem[: 120 - len(suffix) - 1] + "." + suffix
    return base[:120]


#: Characters an XML document (an .xlsx sheet, a .docx body) cannot hold at all: C0 controls other
#: than tab and line breaks, lone surrogates and the two non-characters.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(text: str, replacement: str = "") -> str:
    """Text that an XML part can hold: a clerk's cell may carry a control character (pasted from a
    web system, typed by a script), and python-docx, xlsxwriter or a hand-written sheet would
    otherwise refuse the whole document or write one Excel cannot open. What is removed was never
    visible text."""
    return _NOT_XML.sub(replacement, text)


__all__ = ["FORMULA_STARTS", "TEXT_PREFIX", "cell_value", "is_formula_like", "neutralise", "safe_name", "xml_text"]
