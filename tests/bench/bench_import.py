"""Benchmark: importing published reports (PDF, web page, Word) and auditing a folder of them.

Run by hand (not collected by pytest):

    python tests/bench/bench_import.py                 # per-file times, audit of 500 files, 500 PDFs
    python tests/bench/bench_import.py --files 200     # a smaller audit
    python tests/bench/bench_import.py --workers 2 --repeat 3

What it measures, all in one run so the ratios are fair:
1. Per file, the median of ``--repeat`` × 10 imports (``import_report``) of: the real PDF of
   ``tests/data/published`` (WPS, 5 pages), a PDF made by LibreOffice from our Word export, our
   web-page export and our Word export — and, as the baseline of the same run, the seed's text.
2. An audit of ``--files`` published reports (a mix of the four kinds, each file a copy under a
   name of its own): ``audit(paths, workers=N)`` — every file imported in isolated worker
   processes with a memory and time limit — against the single-process baseline
   ``audit(paths, workers=0)`` (in this process, no isolation). Prints both wall times and the
   ratio, and next to it the speed-up pure CPU work gets from the same number of processes at
   the same time (what the machine offers while other programs run on it).
3. The target of issue 13: a folder of 500 PDFs audited in under a minute on this machine's two
   cores (``nianbao audit`` as a clerk runs it, in a fresh process: start-up included). Prints
   PASS or FAIL.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
REAL = ROOT / "tests" / "data" / "published" / "洪泽区人民政府2024年政府信息公开工作年度报告.pdf"
SEED = ROOT / "samples" / "published" / "宁海县交通运输局2020年政府信息公开工作年度报告.txt"


def make_inputs(folder: Path) -> dict[str, Path]:
    """One file of each kind: the real PDF, our exports (web page, Word) and a PDF of the Word
    export made by LibreOffice."""
    import addin.publish.doc as export_doc
    from workbook.build import write_report
    from workbook.office import convert_many
    from workbook.samples import county_units, fake_report

    folder.mkdir(parents=True, exist_ok=True)
    book = write_report(fake_report(county_units()[3], 2026, 3), folder / "源.xlsx")
    page, _ = export_doc.export_html(book, folder / "网页.html")
    word = export_doc.export_docx(book, folder / "文档.docx")
    made = convert_many([word], "pdf", folder / "pdf")[0]
    return {"真实 PDF（WPS，5 页）": REAL, "LibreOffice PDF": made, "网页（导出）": page, "Word（导出）": word,
            "文本（样例，基线）": SEED}


def per_file(inputs: dict[str, Path], repeat: int) -> dict[str, float]:
    from workbook.published import import_report

    out = {}
    for name, path in inputs.items():
        import_report(path)  # warm: imports, caches
        times = []
        for _ in range(repeat * 10):
            start = time.perf_counter()
            import_report(path)
            times.append(time.perf_counter() - start)
        out[name] = statistics.median(times)
    return out


def copies(inputs: list[Path], folder: Path, count: int) -> list[Path]:
    """``count`` files cycling through ``inputs``, each under a name of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        src = inputs[i % len(inputs)]
        dst = folder / f"单位{i:04d}{src.suffix}"
        shutil.copyfile(src, dst)
        out.append(dst)
    return out


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def parallelism(workers: int, n: int = 10_000_000) -> float:
    """How much faster ``workers`` processes do pure CPU work than one, right now: what the
    machine offers (other work running on it takes cores away), for reading the audit's ratio."""
    import multiprocessing as mp

    start = time.perf_counter()
    for _ in range(workers):
        _burn(n)
    one = time.perf_counter() - start
    start = time.perf_counter()
    with mp.get_context("fork").Pool(workers) as pool:
        pool.map(_burn, [n] * workers)
    return one / (time.perf_counter() - start)


def timed_audit(paths: list[Path], workers: int) -> tuple[float, int]:
    from addin.county.audit import audit

    start = time.perf_counter()
    result = audit(paths, workers=workers)
    return time.perf_counter() - start, sum(1 for e in result.entries if e.report is not None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=500, help="files in the audited folder")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the audit")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of 10 imports per file kind")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-import-"))
    print(f"工作目录：{work}；CPU：{os.cpu_count()}")
    inputs = make_inputs(work / "输入")

    print("\n1. 单个文件导入（中位数）")
    times = per_file(inputs, args.repeat)
    base = times["文本（样例，基线）"]
    for name, t in times.items():
        print(f"   {name:<22} {t * 1000:8.1f} ms   {t / base:6.1f}× 文本")

    print(f"\n2. 核查 {args.files} 份公开年报（PDF、网页、Word 混合）")
    mixed = copies([p for k, p in inputs.items() if "基线" not in k], work / "混合", args.files)
    offered = parallelism(args.workers)
    single, n1 = timed_audit(mixed, 0)
    parallel, n2 = timed_audit(mixed, args.workers)
    offered = (offered + parallelism(args.workers)) / 2
    assert n1 == n2 == len(mixed), (n1, n2)
    print(f"   单进程（基线，无隔离）      {single:7.1f} s   {single / len(mixed) * 1000:6.1f} ms/份")
    print(f"   --workers {args.workers}（隔离的工作进程） {parallel:7.1f} s   {parallel / len(mixed) * 1000:6.1f} ms/份   "
          f"快 {single / parallel:.2f} 倍")
    print(f"   （同一时刻纯计算任务用 {args.workers} 个进程快 {offered:.2f} 倍：机器上其他程序占用的核，工作进程也用不上）")

    print("\n3. 500 份 PDF，nianbao audit（新进程，含启动）")
    pdfs = copies([inputs["真实 PDF（WPS，5 页）"], inputs["LibreOffice PDF"]], work / "PDF", 500)
    command = [sys.executable, "-c", "from addin.cli.app import main; main()", "audit", str(pdfs[0].parent),
               "--workers", str(args.workers), "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    verdict = "PASS" if took < 60 and proc.returncode in (0, 1) else "FAIL"
    print(f"   {took:.1f} s（目标：两核 60 s 以内）→ {verdict}（退出码 {proc.returncode}）")
    # the machine may be busy with other work: CPU seconds (the command and its workers) ÷ cores
    # is what the run needs on two idle cores, whatever else was running
    print(f"   CPU {cpu:.1f} s（命令及其工作进程）；÷ {args.workers} 核 = {cpu / args.workers:.1f} s；"
          f"测量时负载 {os.getloadavg()[0]:.1f}")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
