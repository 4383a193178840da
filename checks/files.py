"""Validate files: read each (a broken one becomes a result with its reason), then check all the
readable ones together in one vectorised pass."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from workbook.read import ReadError, read_report
from workbook.report import Report

from .engine import validate_reports
from .findings import FileResult, file_error

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".et", ".xltx")


def expand(inputs: Iterable[Path]) -> list[Path]:
    """Files as given, and every spreadsheet file below each folder (sorted, recursive)."""
    out: list[Path] = []
    for p in inputs:
        p = Path(p)
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in EXCEL_SUFFIXES)
        else:
            out.append(p)
    return out


def result_for(report: Report, findings: list, path: Path | str) -> FileResult:
    return FileResult(path=str(path), unit=report.unit, year=report.year, edition=report.edition_key, findings=findings)


def validate_paths(paths: Sequence[Path], previous: Path | None = None) -> tuple[list[FileResult], list[Report | None]]:
    """Results in input order, and the reports read (None where a file could not be read)."""
    reports: list[Report | None] = []
    results: list[FileResult | None] = []
    for p in paths:
        try:
            reports.append(read_report(p))
            results.append(None)
        except ReadError as exc:
            reports.append(None)
            results.append(file_error(p, exc.reason, exc.code))
    prev_report: Report | None = None
    if previous is not None:
        prev_report = read_report(previous)
    ok = [(i, r) for i, r in enumerate(reports) if r is not None]
    found = validate_reports([r for _, r in ok], [prev_report] * len(ok) if prev_report else None)
    for (i, r), f in zip(ok, found):
        results[i] = result_for(r, f, paths[i])
    return [r for r in results if r is not None], reports
