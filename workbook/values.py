"""Turning what people type into numbers, and remembering what was changed.

Real reports hold full-width digits (“１２”, “1．2678”), units in cells (“1．2678万元”), blanks,
placeholders (“-”, “/”, “无”) and numbers stored as text. Every reader normalises here, in one
place, and records a status per cell so that the checks can report each normalisation.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

PLACEHOLDERS = frozenset({"-", "--", "—", "——", "–", "/", "\\", "无", "不适用", "空", "N/A", "NA", "n/a", "×"})
_SPACES = re.compile(r"[\s\u3000\xa0]+")
_UNIT = re.compile(r"^(?P<num>[-+]?\d+(?:\.\d+)?)(?P<unit>万元|元|件|个|项|次|宗)?$")


class Status(IntEnum):
    """How a cell's value was obtained; the checks turn the non-OK ones into findings."""

    OK = 0
    BLANK = 1
    PLACEHOLDER = 2
    NORMALISED = 3
    INVALID = 4
    #: Not known: an imported report whose cell could not be placed (``Report.unknown``). Never
    #: read as 0; the checks report the rules it leaves unchecked instead of arithmetic on it.
    UNKNOWN = 5


@dataclass(frozen=True)
class Parsed:
    value: float
    status: Status
    how: str = ""


_OK_ZERO = Parsed(0.0, Status.BLANK)


def parse_number(raw: Any, money: bool = False) -> Parsed:
    """Read one cell value as a number.

    Returns NaN with ``INVALID`` for text that is not a number (never guesses). ``money`` cells
    accept “元” and convert to 万元, since the spec fixes 万元 for every amount.
    """
    t = type(raw)
    if t is float:
        if math.isnan(raw):
            return _OK_ZERO
        return Parsed(raw, Status.OK)
    if t is int:
        return Parsed(float(raw), Status.OK)
    if raw is None:
        return _OK_ZERO
    if t is bool or not isinstance(raw, str):
        return Parsed(math.nan, Status.INVALID, "不是数字")
    text = _SPACES.sub("", raw)
    if not text:
        return _OK_ZERO
    # full-width forms (“１２”, “－”, “／”) and the Unicode minus are read as their plain forms first,
    # so that “－” is a placeholder and “−8” a signed number, as a person means them
    narrow = unicodedata.normalize("NFKC", text).replace("\u2212", "-")
    if text in PLACEHOLDERS or narrow in PLACEHOLDERS:
        return Parsed(0.0, Status.PLACEHOLDER, f"占位符“{text}”")
    hows: list[str] = []
    if narrow != text:
        hows.append("全角字符")
    narrow = re.sub(r"\((件|个|项|次|宗|万元|元)\)$", r"\1", narrow)
    narrow = narrow.replace("，", ",").replace("。", ".")
    if re.fullmatch(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?(万元|元|件)?", narrow):
        narrow = narrow.replace(",", "")
        hows.append("千位分隔符")
    m = _UNIT.match(narrow)
    if not m:
        return Parsed(math.nan, Status.INVALID, "不是数字")
    value = float(m["num"])
    unit = m["unit"]
    if unit == "元" and money:
        value = value / 10000
        hows.append("单位“元”已换算为万元")
    elif unit == "元":
        return Parsed(math.nan, Status.INVALID, "带单位“元”")
    elif unit:
        hows.append(f"单位“{unit}”")
    hows.append("以文本形式存储的数字")
    return Parsed(value, Status.NORMALISED, "，".join(dict.fromkeys(hows)))


def format_number(value: float) -> str:
    """A number as a person writes it: 3 not 3.0, 1.2678 not 1.2678000001."""
    if math.isnan(value):
        return "（无法识别）"
    if value == int(value):
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


def clean_text(raw: Any) -> str:
    """A cover field or text part as a string (numbers stored by Excel as floats lose the .0)."""
    if raw is None:
        return ""
    if isinstance(raw, float):
        return format_number(raw)
    return str(raw).strip()
