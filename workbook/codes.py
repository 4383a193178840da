"""Identifier formats on the cover: the unified social credit code (GB 32100-2015) and the
six-digit administrative division code (GB/T 2260)."""

from __future__ import annotations

import re

CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_check_char(first17: str) -> str:
    """The 18th character of a credit code, from the first 17 (GB 32100-2015, mod 31)."""
    total = sum(CREDIT_CHARS.index(ch) * w for ch, w in zip(first17, CREDIT_WEIGHTS))
    return CREDIT_CHARS[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """Why a credit code is invalid (Chinese), or None when it is valid."""
    if len(code) != 18:
        return f"应为 18 位，实为 {len(code)} 位"
    bad = [ch for ch in code if ch not in CREDIT_CHARS]
    if bad:
        return f"含有不允许的字符“{bad[0]}”（不使用 I、O、Z、S、V 和小写字母）"
    if credit_check_char(code[:17]) != code[17]:
        return f"校验位应为 {credit_check_char(code[:17])}，实为 {code[17]}"
    return None


def region_code_ok(code: str) -> bool:
    return re.fullmatch(r"[1-8]\d{5}", code) is not None
