"""File names made from what people send or type (uploads, unit names) stay inside their folder
and mean the same on every system: no path, no reserved or invisible characters, no Windows
device name, no trailing dot or space (Windows drops them, so two names would meet)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from addin.publish.safety import safe_name

RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def acceptable(name: str) -> bool:
    return (bool(name) and len(name) <= 120 and not re.search(r'[\x00-\x1f\x7f<>:"/\\|?*]', name)
            and not (set(name) & BIDI) and not name.startswith(".") and not name.endswith((".", " "))
            and name.split(".")[0].upper() not in RESERVED)


def test_windows_device_names_are_never_produced() -> None:
    for given_name in ("CON.xlsx", "com1.xlsx", "Lpt9", "nul", "AUX.tar.gz", "C:\\x\\PRN.xlsx"):
        made = safe_name(given_name)
        assert acceptable(made) and made.lstrip("_").lower() == given_name.split("\\")[-1].lower(), made
    assert safe_name("console.xlsx") == "console.xlsx"  # only the exact device names are reserved


def test_characters_that_reorder_a_name_are_dropped() -> None:
    assert safe_name("青禾县\u202excod.xlsx") == "青禾县xcod.xlsx"
    assert safe_name("报告.xlsx. ") == "报告.xlsx"


@settings(max_examples=400, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_any_text_gives_an_acceptable_name(text: str) -> None:
    for strip_path in (True, False):
        assert acceptable(safe_name(text, strip_path=strip_path))
