"""LibreOffice as a headless spreadsheet application: recalculate, convert, print to PDF.

Each call gets a profile of its own (two conversions sharing one profile fail silently), and the
profile forces recalculation on load — by default LibreOffice keeps the cached results of an
.xlsx, which would hide exactly the errors we look for.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_RECALC = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""
INSTALL_HINT = "未找到 LibreOffice。请安装：Debian/Ubuntu 执行 apt-get install libreoffice-calc-nogui fonts-noto-cjk；Windows 请安装 LibreOffice 并把 soffice 加入 PATH。"


class OfficeMissing(RuntimeError):
    """LibreOffice is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Converted:
    path: Path
    log: str


def soffice() -> str:
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    raise OfficeMissing(INSTALL_HINT)


def convert_many(sources: list[Path], to: str, outdir: Path, timeout: float = 300) -> list[Path]:
    """Convert several files in ONE LibreOffice run (start-up is most of the cost), recalculating.

    Outputs are named like their sources with the new suffix, in ``outdir``.
    """
    exe = soffice()
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nianbao-lo-") as profile:
        user = Path(profile) / "user"
        user.mkdir(parents=True)
        (user / "registrymodifications.xcu").write_text(_RECALC, encoding="utf-8")
        env = {**os.environ, "HOME": profile}
        proc = subprocess.run(
            [exe, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore", "--nolockcheck",
             "--convert-to", to, "--outdir", str(outdir), *map(str, sources)],
            capture_output=True, text=True, timeout=timeout, env=env,
        )
    outs = [outdir / (src.stem + "." + to.split(":")[0]) for src in sources]
    missing = [o.name for o in outs if not o.exists()]
    if proc.returncode != 0 or missing:
        raise RuntimeError(f"LibreOffice 转换失败（→ {to}，未生成：{'、'.join(missing) or '无'}）：{proc.stderr.strip() or proc.stdout.strip()}")
    return outs


def convert(src: Path, to: str, outdir: Path, timeout: float = 180) -> Converted:
    """Convert ``src`` with LibreOffice (``to``: "xlsx", "pdf", …) into ``outdir``, recalculating."""
    out = convert_many([src], to, outdir, timeout)[0]
    return Converted(out, "")


def recalculate(src: Path, outdir: Path) -> Path:
    """A recalculated copy of an .xlsx (formulas computed by LibreOffice, results stored)."""
    with tempfile.TemporaryDirectory(prefix="nianbao-in-") as tmp:
        staged = Path(tmp) / src.name
        shutil.copyfile(src, staged)
        return convert(staged, "xlsx", outdir).path
