"""An installed copy ships every file the code opens at run time: the specs, the server project's
templates, scripts and static files, the client action table. A file added under ``addin/`` or
``workbook/`` that no package-data pattern covers would work in this checkout and be missing on a
county's server after ``pip install``; building the wheel here catches it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = ("__pycache__", ".pyc", ".egg-info")


def test_the_wheel_holds_every_file_of_the_packages(tmp_path: Path) -> None:
    if shutil.which("git") is None:  # pragma: no cover - git is part of every checkout here
        raise AssertionError("git is needed to list the project's files")
    src = tmp_path / "src"
    # only tracked and new files of the checkout, as a clean clone would have them
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "addin", "workbook", "checks",
                             "pyproject.toml", "README.md"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in listed:
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
                   check=True, capture_output=True)
    wheel = next(out.glob("*.whl"))
    shipped = set(zipfile.ZipFile(wheel).namelist())
    wanted = {n for n in listed if n.split("/")[0] in ("addin", "workbook", "checks") and not any(s in n for s in SKIP)}
    assert sorted(wanted - shipped) == []
