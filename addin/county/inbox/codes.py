"""Submission codes: made at random, printed once, stored only as salted scrypt hashes.

A code is ``HHHH-SSSS-SSSS``: a public handle that finds the unit (random, so a code tells nothing
about other units) and an 8-character secret (31^8 ≈ 2^39.6 choices; with the attempt limits no
one guesses it online, and a stolen database does not give it away). The characters leave out
0/O and 1/I/L, since clerks type codes from paper.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from pathlib import Path

import openpyxl
from openpyxl.styles import Alignment, Font

from addin.county.inbox.private import private_atomic, private_dir
from addin.county.inbox.records import IssuedCode, now_text
from addin.publish.safety import cell_value

#: Unambiguous characters for codes typed from paper: no 0/O, 1/I/L.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
HANDLE_LEN, SECRET_LEN = 4, 8
#: scrypt parameters of the hash (stored with each hash, so they can be changed later). The secret
#: is random (not a person's password), so 8 MiB and ~20 ms a hash are plenty: guessing one code
#: offline still costs years of CPU time; online the attempt limits stop it long before. The cost
#: is paid once per code made (``--units`` for 2,000 units: ~40 s) and once per submission.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 13, 8, 1



def new_code() -> tuple[str, str, str]:
    """(handle, secret, the code as printed: ``HHHH-SSSS-SSSS``)."""
    handle = "".join(secrets.choice(CODE_ALPHABET) for _ in range(HANDLE_LEN))
    secret = "".join(secrets.choice(CODE_ALPHABET) for _ in range(SECRET_LEN))
    return handle, secret, f"{handle}-{secret[:4]}-{secret[4:]}"


def split_code(text: str) -> tuple[str, str]:
    """(handle, secret) from what a clerk typed: case, spaces and dashes do not matter."""
    clean = re.sub(r"[\s\-－—_]", "", text or "").upper()
    return clean[:HANDLE_LEN], clean[HANDLE_LEN:]


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return kind == "scrypt" and hmac.compare_digest(got.hex(), digest)


def write_codes(issued: list[IssuedCode], target: Path, address: str = "") -> Path:
    """The codes as a printable workbook (one row per unit), written atomically. This file is
    the only plain copy of the codes: the office prints it, hands each unit its line, and keeps
    or destroys it; the database holds only hashes. So it is 0600 in a 0700 folder from the start
    (``private``): no other account on the server can read it."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "报送码"
    ws.append(["政府信息公开工作年度报告网上报送码"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([f"报送网址：{address}" if address else "报送网址：见县政务公开办通知",
               f"生成时间：{now_text()}"])
    ws.append(["单位名称", "统一社会信用代码", "报送码"])
    for cell in ws[3]:
        cell.font = Font(bold=True)
    for item in issued:
        ws.append([cell_value(item.unit.name), cell_value(item.unit.credit_code), item.code])
    ws.append([])
    ws.append(["报送码只显示这一次，服务器上只保存其不可逆的摘要。请逐单位发放并妥善保管；遗失的由县政务公开办在网页上重置。"])
    for col, width in zip("ABC", (40, 24, 20)):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=4, max_col=3):
        row[2].font = Font(name="Consolas", size=12, bold=True)
        row[2].alignment = Alignment(horizontal="center")
    ws.page_setup.orientation = "portrait"
    ws.page_setup.paperSize = 9
    ws.print_title_rows = "3:3"
    private_dir(target.parent)
    with private_atomic(target) as tmp:
        wb.save(tmp)
    return target
