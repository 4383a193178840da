"""Shared fixtures for the foundation tests (issue 2).

Everything the code writes is inspected with an independent reader (openpyxl, python-calamine,
LibreOffice), and every expected number is computed here in the tests — never by asking the code
under test to check itself. Expensive things (running the real ``nianbao`` command, LibreOffice
conversions) happen once per session and are shared.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import openpyxl
import pytest

# The add-in tests build xlwings remote books in-process; xlwings' PolyForm Noncommercial licence
# covers this government-use project's tests. Set once, for every test order.
os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
from openpyxl.workbook.workbook import Workbook

from workbook.layout import a1, layout_for
from workbook.spec import EDITIONS, Edition, load_edition

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SEED_NAME = "宁海县交通运输局2020年政府信息公开工作年度报告"
SEED_XLSX = SAMPLES / f"{SEED_NAME}.xlsx"
# A committed county file that carries “-”, “/” and a full-width digit: the LibreOffice round trip
# must keep those exactly as typed.
MESSY_SAMPLE = SAMPLES / "青禾县-2026" / "收文" / "青禾县住房和城乡建设局.xlsx"
SOFFICE_MISSING = ("LibreOffice (soffice) is not installed, so no real spreadsheet application can "
                   "recalculate the workbook: apt-get install -y --no-install-recommends "
                   "libreoffice-calc-nogui fonts-noto-cjk")

TotalFn = Callable[[Edition, str, Callable[[str], float]], float]


# ---------------------------------------------------------------------------------------------
# Small independent helpers, handed to the tests through fixtures (modules import only types).
# ---------------------------------------------------------------------------------------------

def nianbao_command() -> list[str]:
    """The real console command, or its entry point when the script is not on PATH."""
    exe = shutil.which("nianbao")
    return [exe] if exe else [sys.executable, "-c", "from addin.cli.app import main; main()"]


def run_nianbao(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``nianbao`` exactly as a clerk would, capturing what it prints.

    COLUMNS is widened so that rich does not wrap the Chinese messages the tests look for.
    """
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}
    return subprocess.run([*nianbao_command(), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=180, env=env)


def independent_total(edition: Edition, cid: str, value_of: Callable[[str], float]) -> float:
    """A derived cell's value computed in the test: walk ``cell.items`` down to the input cells.

    Deliberately not ``workbook.report.derive_totals``: the tests must not compare the code's
    arithmetic with itself.
    """
    cell = edition.cell(cid)
    if cell.role == "input":
        return value_of(cid)
    assert cell.items, f"derived cell {cid} has no items in the spec"
    return sum(independent_total(edition, item, value_of) for item in cell.items)


def sha256_of(path: Path) -> str:
    """A file's digest, to prove that reading a workbook never writes to it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def coordinate(cid_pos: tuple[int, int]) -> str:
    """0-based (row, col) from the layout → the A1 coordinate openpyxl uses."""
    return a1(*cid_pos)


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BuiltTemplate:
    """One template built by the real command, with what the command printed."""

    edition: str
    path: Path
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuiltTemplate]:
    """Both editions built once by ``nianbao template --edition K -o FILE``."""
    out = tmp_path_factory.mktemp("templates")
    built: dict[str, BuiltTemplate] = {}
    for key in EDITIONS:
        path = out / f"模板-{key}.xlsx"
        proc = run_nianbao(["template", "--edition", key, "-o", str(path)], cwd=out)
        built[key] = BuiltTemplate(key, path, proc.returncode, proc.stdout, proc.stderr)
    return built


@pytest.fixture(scope="session")
def template_books(templates: dict[str, BuiltTemplate]) -> dict[str, Workbook]:
    """The built templates opened once with openpyxl (formulas, not values). Read-only by convention."""
    books: dict[str, Workbook] = {}
    for key, t in templates.items():
        assert t.returncode == 0, f"nianbao template --edition {key} failed: {t.stderr}"
        books[key] = openpyxl.load_workbook(t.path)
    return books


@pytest.fixture(scope="session")
def total_of() -> TotalFn:
    """The test-side computation of a derived cell (see ``independent_total``)."""
    return independent_total


@pytest.fixture(scope="session")
def soffice() -> str:
    """The LibreOffice executable; tests that need it are skipped, saying why, when it is missing."""
    path = shutil.which("soffice")
    if path is None:
        pytest.skip(SOFFICE_MISSING)
    return path


def random_inputs(edition_key: str, seed: int) -> dict[str, float | int]:
    """Random valid values for every input cell of an edition, by kind."""
    rng = random.Random(seed)
    values: dict[str, float | int] = {}
    for cell in load_edition(edition_key).input_cells:
        if cell.kind == "count":
            values[cell.id] = rng.randint(0, 60)
        elif cell.kind == "signed":
            values[cell.id] = rng.randint(-30, 30)
        else:
            values[cell.id] = round(rng.uniform(0, 500), 4)
    return values


def fill_with_openpyxl(template: Path, target: Path, values: dict[str, Any]) -> Path:
    """Type ``values`` into a copy of a template with openpyxl (which keeps the formulas but drops
    their cached results — LibreOffice recalculates them)."""
    lay = layout_for(load_edition_key(template))
    wb = openpyxl.load_workbook(template)
    for cid, value in values.items():
        wb[lay.sheet_of(cid)][coordinate(lay.pos(cid))] = value
    wb.save(target)
    return target


def load_edition_key(path: Path) -> str:
    """The edition a built file says it is, read from its hidden _meta sheet with openpyxl."""
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        for row in wb["_meta"].iter_rows(values_only=True):
            if row and row[0] == "edition":
                return str(row[1])
    finally:
        wb.close()
    raise AssertionError(f"{path.name} has no edition marker")


@dataclass(frozen=True)
class OfficeRun:
    """Workbooks pushed through LibreOffice once per session (forced recalculation on load).

    ``fills[edition]`` is a template filled with random ``values``; ``saved[name]`` maps an
    original file to LibreOffice's recalculated copy.
    """

    fills: dict[str, tuple[Path, Path, dict[str, float | int]]]
    saved: dict[str, tuple[Path, Path]]


def _text_number_workbook(target: Path) -> Path:
    """A report written by the project's writer whose inputs include numbers typed as text
    (“１２”, “5”), as real reports do — for comparing its cached totals with a real recalculation."""
    from workbook.build import write_report
    from workbook.report import Report

    values = random_inputs("2021", seed=99)
    raw: dict[str, Any] = dict(values)
    raw["part3.main.new.natural"] = "１２"
    raw["part3.main.carried.natural"] = "5"
    raw["part4.main.cases.review_upheld"] = "２"
    report = Report("2021", cover={"unit_name": "测试单位", "year": "2026"}, raw=raw)
    return write_report(report, target)


STALE_SAMPLE = SAMPLES / "青禾县-2026" / "收文" / "青禾县公安局.xlsx"
STALE_BUMP = 100


def _stale_copy(src: Path, target: Path) -> Path:
    """A copy of a sample whose Part 三 一/自然人 input is raised by STALE_BUMP in the sheet XML,
    leaving the cached results of the totals as they were — stale, as in a file edited by a tool
    that does not recalculate. Only a real recalculation can bring the totals back in line."""
    target.parent.mkdir(parents=True, exist_ok=True)
    bumped = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            body = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/") and b"<f>SUM(D6:I6)</f>" in body:
                def bump(m: re.Match[bytes]) -> bytes:
                    return m[1] + str(int(float(m[2])) + STALE_BUMP).encode() + m[3]
                body, bumped = re.subn(rb'(<c r="D6"[^>]*><v>)([0-9.]+)(</v>)', bump, body)
            zout.writestr(item, body)
    assert bumped == 1, "the Part 三 sheet of the sample was not found"
    return target


@pytest.fixture(scope="session")
def office_run(soffice: str, templates: dict[str, BuiltTemplate],
               tmp_path_factory: pytest.TempPathFactory) -> OfficeRun:
    """Run every LibreOffice recalculation the suite needs, two at a time (one profile each)."""
    from workbook.office import recalculate

    work = tmp_path_factory.mktemp("office")
    jobs: list[tuple[str, Path]] = []
    fills: dict[str, tuple[Path, dict[str, float | int]]] = {}
    for i, key in enumerate(EDITIONS):
        assert templates[key].returncode == 0, templates[key].stderr
        values = random_inputs(key, seed=2026 + i)
        filled = fill_with_openpyxl(templates[key].path, work / f"filled-{key}.xlsx", values)
        fills[key] = (filled, values)
        jobs.append((f"fill-{key}", filled))
    originals = {"seed": SEED_XLSX, "messy": MESSY_SAMPLE}
    for name, src in originals.items():
        staged = work / "in" / name / src.name
        staged.parent.mkdir(parents=True)
        shutil.copyfile(src, staged)
        jobs.append((name, staged))
    text_numbers = _text_number_workbook(work / "in" / "text-numbers" / "文本数字.xlsx")
    jobs.append(("text-numbers", text_numbers))
    stale = _stale_copy(STALE_SAMPLE, work / "in" / "stale" / STALE_SAMPLE.name)
    jobs.append(("stale", stale))

    def run(job: tuple[str, Path]) -> tuple[str, Path]:
        name, src = job
        return name, recalculate(src, work / "out" / name)

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = dict(pool.map(run, jobs))
    return OfficeRun(
        fills={k: (p, done[f"fill-{k}"], v) for k, (p, v) in fills.items()},
        saved={"seed": (SEED_XLSX, done["seed"]), "messy": (MESSY_SAMPLE, done["messy"]),
               "text-numbers": (text_numbers, done["text-numbers"]), "stale": (stale, done["stale"])},
    )


CliFn = Callable[[list[str], Path], subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def cli() -> CliFn:
    """Run the real ``nianbao`` console command (see ``run_nianbao``)."""
    return run_nianbao


@pytest.fixture(scope="session")
def sha256() -> Callable[[Path], str]:
    """The sha256 of a file, to prove that reading leaves it untouched."""
    return sha256_of


@pytest.fixture(scope="session")
def fill_inputs() -> Callable[[Path, Path, dict[str, Any]], Path]:
    """Type values into a copy of a template with openpyxl (see ``fill_with_openpyxl``)."""
    return fill_with_openpyxl
