"""Benchmark: validate a county of 2,000 unit reports at once vs one call per unit.

Run by hand (not collected by pytest):

    python tests/bench/bench_validate.py            # 2,000 units
    python tests/bench/bench_validate.py --n 500

Both paths are measured in the same run, on the same in-memory reports (generated with
``workbook.samples.fake_report``, a few of them with mistakes, stored totals filled in as a
template's formulas would carry them), after one warm-up call that builds the cached schemas.
The vectorised path is ``validate_reports(all)``: one long frame per schema for the whole county.
The baseline is ``[validate_report(r) for r in reports]``: the same checks, one unit at a time.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from checks import validate_report, validate_reports
from workbook.report import Report
from workbook.samples import MISTAKES, county_units, fake_report


def county(n: int, seed: int = 2026) -> list[Report]:
    """``n`` unit reports for 2026; every 25th unit carries two of the known mistakes."""
    reports = []
    for i, unit in enumerate(county_units(seed=seed, n=n)):
        mistakes = frozenset({MISTAKES[i % len(MISTAKES)], MISTAKES[(i // 25) % len(MISTAKES)]}) if i % 25 == 0 else frozenset()
        report = fake_report(unit, 2026, seed, mistakes)
        report.raw.update({k: v for k, v in report.totals().items()})
        reports.append(report)
    return reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="number of unit reports")
    args = parser.parse_args()

    t0 = time.perf_counter()
    reports = county(args.n)
    made = time.perf_counter() - t0
    validate_report(reports[0])  # warm-up: schemas and coefficient matrices are cached per edition

    t0 = time.perf_counter()
    together = validate_reports(reports)
    vectorised = time.perf_counter() - t0

    t0 = time.perf_counter()
    one_by_one = [validate_report(r) for r in reports]
    per_unit = time.perf_counter() - t0

    assert together == one_by_one, "the two paths disagree"
    counts = Counter(f.severity for fs in together for f in fs)
    print(f"{args.n} unit reports generated in {made:.2f} s; findings: {counts['hard']} hard, {counts['soft']} soft, "
          f"{sum(1 for fs in together if any(f.severity == 'hard' for f in fs))} reports with a hard finding")
    print(f"vectorised  validate_reports(all)        : {vectorised:8.3f} s  ({vectorised / args.n * 1000:.3f} ms/unit)")
    print(f"baseline    [validate_report(r) for r ...]: {per_unit:8.3f} s  ({per_unit / args.n * 1000:.3f} ms/unit)")
    print(f"ratio (baseline / vectorised)            : {per_unit / vectorised:8.1f}×")


if __name__ == "__main__":
    main()
