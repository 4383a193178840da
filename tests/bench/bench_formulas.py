"""Benchmark: what recognising totals saved without results costs, and the formula scanner.

Run by hand (not collected by pytest):

    python tests/bench/bench_formulas.py              # 300 files, a 200,000-row sheet
    python tests/bench/bench_formulas.py --n 100 --rows 50000

Measured in the same run, so the ratios are fair:

1. ``read_report`` on a unit file written by the project (totals carry their results: the reader
   does not look at the package again) against the same report saved by openpyxl (totals as
   formulas without results: the reader scans the table sheets and computes them). Baseline:
   the first. Also the floor: unzipping the three table sheets' XML only.
2. The input-cell formula check (``addin.county.unitfile.formula_inputs``, on the shared scanner)
   per file, against that floor.
3. One sheet of ``--rows`` rows: the shared scanner's chunked read of the cells against the
   previous loop that appended each block to the bytes read so far (quadratic).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import openpyxl  # noqa: E402

from addin.county.unitfile import formula_inputs  # noqa: E402
from workbook.build import write_report  # noqa: E402
from workbook.formulas import cells_xml, sheet_targets  # noqa: E402
from workbook.read import read_report  # noqa: E402
from workbook.samples import county_units, fake_report  # noqa: E402

_END = re.compile(rb"</(?:\w+:)?sheetData>")


def per_file(fn, paths: list[Path], repeat: int = 3) -> float:
    """Median over ``repeat`` rounds of the mean time per file, in ms."""
    rounds = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for p in paths:
            fn(p)
        rounds.append((time.perf_counter() - t0) / len(paths) * 1000)
    return statistics.median(rounds)


def floor(path: Path) -> None:
    with zipfile.ZipFile(path) as z:
        for part in sheet_targets(z, {"二、主动公开", "三、依申请公开", "四、复议诉讼"}).values():
            z.read(part)


def old_cells_xml(z: zipfile.ZipFile, part: str, chunk: int = 16384) -> bytes:
    """The loop the shared scanner replaced (kept here as the baseline)."""
    data = b""
    with z.open(part) as fh:
        while block := fh.read(chunk):
            data += block
            end = _END.search(data, max(0, len(data) - len(block) - 16))
            if end:
                return data[:end.start()]
    return data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--rows", type=int, default=200_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-formulas-") as tmp:
        work = Path(tmp)
        saved, unsaved = [], []
        for i, unit in enumerate(county_units(seed=7, n=min(args.n, 20))):
            rep = fake_report(unit, 2026, seed=7)
            a = write_report(rep, work / f"saved-{i}.xlsx")
            wb = openpyxl.load_workbook(a)
            wb.save(work / f"unsaved-{i}.xlsx")  # openpyxl keeps the formulas, drops the results
            saved.append(a)
            unsaved.append(work / f"unsaved-{i}.xlsx")
        saved = (saved * (args.n // len(saved) + 1))[: args.n]
        unsaved = (unsaved * (args.n // len(unsaved) + 1))[: args.n]
        assert read_report(unsaved[0]).unsaved and not read_report(saved[0]).unsaved
        base = per_file(read_report, saved)
        slow = per_file(read_report, unsaved)
        low = per_file(floor, saved)
        print(f"read_report, results saved     : {base:6.2f} ms/file  (baseline)")
        print(f"read_report, results not saved : {slow:6.2f} ms/file  ({slow / base:.2f}x the baseline)")
        print(f"floor: unzip the 3 table sheets : {low:6.2f} ms/file  ({low / base:.2f}x)")
        reports = {p: read_report(p) for p in set(saved)}
        check = per_file(lambda p: formula_inputs(p, reports[p]), saved)
        print(f"formula_inputs (shared scanner) : {check:6.2f} ms/file  ({check / low:.2f}x the floor)")

        big = work / "big.zip"
        row = b'<row r="%d"><c r="A%d"><v>1</v></c><c r="B%d"><f>A%d+1</f><v>2</v></c></row>'
        with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("s.xml", b"<sheetData>" + b"".join(row % (r, r, r, r) for r in range(1, args.rows + 1))
                       + b"</sheetData><mergeCells/>")
        with zipfile.ZipFile(big) as z:
            t0 = time.perf_counter()
            new = cells_xml(z, "s.xml", limit=1 << 40)
            t_new = time.perf_counter() - t0
            t0 = time.perf_counter()
            old = old_cells_xml(z, "s.xml")
            t_old = time.perf_counter() - t0
        assert new == old
        print(f"{args.rows:,}-row sheet, {len(new) / 1e6:.1f} MB of cells: previous loop {t_old:.2f} s, "
              f"shared scanner {t_new:.3f} s ({t_old / max(t_new, 1e-9):.0f}x faster)")


if __name__ == "__main__":
    main()
