"""Validate files: read each (a broken one becomes a result with its reason), then check all the
readable ones together in one vectorised pass.

Files are read in worker processes (``workbook.isolate``): a file that crashes, hangs or exhausts
the reader becomes that file's “无法读取” result, and the other files are still validated."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from workbook.isolate import read_reports
from workbook.read import ReadError
from workbook.report import Report

from .engine import validate_reports
from .findings import FileResult, file_error

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".et", ".xltx")
MISSING = "文件或文件夹不存在"


def hidden(path: Path, below: Path) -> bool:
    """A hidden file or a file in a hidden folder (a name starting with “.”) below ``below``:
    the half-written ``.~name.xxxx.xlsx`` of ``workbook.atomic`` and of a crashed run, macOS's
    ``._name.xlsx`` copies, ``.git``. Nobody hands those in."""
    return any(part.startswith(".") for part in path.relative_to(below).parts)


def expand(inputs: Iterable[Path], suffixes: Iterable[str] = EXCEL_SUFFIXES) -> list[Path]:
    """Files as given, and every spreadsheet file below each folder (sorted, recursive): the one
    rule of which files in a folder count (``suffixes`` lets a command add kinds of its own, as the
    audit adds published reports). Hidden files are skipped; Office's ``~$`` lock files are kept,
    on purpose: each is reported (the workbook is still open in Excel), not silently passed over."""
    wanted = {s.lower() for s in suffixes}
    out: list[Path] = []
    for p in inputs:
        p = Path(p)
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix.lower() in wanted and not hidden(q, p) and q.is_file())
        else:
            out.append(p)
    return out


def result_for(report: Report, findings: list, path: Path | str) -> FileResult:
    return FileResult(path=str(path), unit=report.unit, year=report.year, edition=report.edition_key, findings=findings,
                      unknown=len(report.unknown))


def _read_all(paths: Sequence[Path]) -> list[Report | ReadError]:
    """Each path read in a worker process; a path that does not exist gets a plain reason (the
    operating system's own message would be in English) without a worker."""
    out: list[Report | ReadError | None] = [None if Path(p).exists() else ReadError(Path(p), MISSING, "unreadable") for p in paths]
    present = [i for i, r in enumerate(out) if r is None]
    for i, r in zip(present, read_reports([paths[i] for i in present])):
        out[i] = r
    return [r for r in out if r is not None]


def read_previous(previous: Path) -> list[Report]:
    """Last year's reports: one file, or every readable report in a folder (last year's inbox).

    A single file that cannot be read raises ``ReadError`` (the user named it, so the command
    stops); unreadable files inside a folder are skipped — they are last year's problem.
    """
    previous = Path(previous)
    if not previous.is_dir():
        (found,) = _read_all([previous])
        if isinstance(found, ReadError):
            raise found
        return [found]
    return [r for r in _read_all(expand([previous])) if isinstance(r, Report)]


def match_previous(reports: Sequence[Report], previous: Sequence[Report], folder: bool) -> list[Report | None]:
    """The last-year report each report is compared with.

    A single file is compared with every report given (a report of another unit is then a P0.1
    finding, never a silent pass). From a folder, each report takes the report of its own unit —
    by credit code, else by unit name — and a unit new this year simply has none.
    """
    if not folder:
        return [previous[0] if previous else None for _ in reports]
    by_code = {p.cover.get("credit_code", "").upper(): p for p in previous if p.cover.get("credit_code")}
    by_name = {p.unit: p for p in previous if p.unit}
    out: list[Report | None] = []
    for r in reports:
        code = r.cover.get("credit_code", "").upper()
        out.append(by_code.get(code) if code and code in by_code else by_name.get(r.unit))
    return out


def validate_paths(paths: Sequence[Path], previous: Path | None = None) -> tuple[list[FileResult], list[Report | None]]:
    """Results in input order, and the reports read (None where a file could not be read).

    Raises ``ReadError`` when ``previous`` is a file that cannot be read."""
    reports: list[Report | None] = []
    results: list[FileResult | None] = []
    for p, found in zip(paths, _read_all([Path(p) for p in paths])):
        if isinstance(found, ReadError):
            reports.append(None)
            results.append(file_error(p, found.reason, found.code))
        else:
            reports.append(found)
            results.append(None)
    ok = [(i, r) for i, r in enumerate(reports) if r is not None]
    prev = None
    if previous is not None:
        prev = match_previous([r for _, r in ok], read_previous(previous), Path(previous).is_dir())
    found = validate_reports([r for _, r in ok], prev)
    for (i, r), f in zip(ok, found):
        results[i] = result_for(r, f, paths[i])
    return [r for r in results if r is not None], reports
