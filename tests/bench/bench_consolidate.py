"""Benchmark: end-to-end consolidation (read, validate, sum, write) against a per-file baseline.

Run by hand (not collected by pytest):

    python tests/bench/bench_consolidate.py                      # 200, 2,000 and 20,000 units
    python tests/bench/bench_consolidate.py --sizes 200,2000     # quicker
    python tests/bench/bench_consolidate.py --workdir /tmp/b --reuse --repeat 3   # again, median of 3
    git archive <commit> | tar -x -C /tmp/old                                   # an older version
    python tests/bench/bench_consolidate.py --sizes 2000 --code /tmp/old --code . --hostile   # both, compared

What it does, all in one run so the ratios are fair:
1. Generates ``--distinct`` unit workbooks with the project's writer (``write_report``, ~50 ms
   each), then makes N distinct units from them by rewriting each copy's unit name and a fresh,
   valid credit code inside ``xl/sharedStrings.xml`` (the cover strings live there), so every file
   is a different unit — nothing is deduplicated away — at ~2 ms a file.
2. For each N, runs ``consolidate`` in a fresh process (so peak memory is per run) and reports
   wall time, time per unit, and peak resident memory of the process (ru_maxrss) and of its
   worker processes (RUSAGE_CHILDREN: the largest worker).
3. Baseline, measured in the same run: each file loaded with openpyxl (``load_workbook``), its
   cells taken by the layout, and validated with its own pandera call (``validate_report``). It is
   timed on ``--baseline-files`` files and scaled to 2,000 (the work is per file, so it is linear;
   ``--full-baseline`` runs all 2,000 instead, ~5 minutes).
4. With ``--code`` (repeatable), steps 2 and the per-file reading time (``read_report``, the median
   of three passes over 500 files) are run for each code tree, and the ratios to the first tree are
   printed: the cost of the checks and worker processes that keep hostile files harmless
   (``workbook.limits``, ``workbook.isolate``).
5. With ``--hostile``, every kind of hostile file of ``tests/test_hostile_files.py`` is put next to
   ten good units, and ``nianbao validate`` and ``nianbao consolidate`` run on that folder with
   each tree, under an 8 GiB address-space limit: exit status, wall time and the peak resident
   memory of the command and its workers (an old tree aborts: exit 134).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def generate_base(folder: Path, count: int) -> list[tuple[Path, str, str]]:
    """``count`` unit workbooks written by ``write_report``: (path, unit name, credit code)."""
    from workbook.build import write_report
    from workbook.samples import county

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, rep in enumerate(county(2026, seed=11, n=count)):
        path = write_report(rep, folder / f"base-{i:04d}.xlsx")
        out.append((path, rep.unit, rep.cover["credit_code"]))
    return out


def _clone(job: tuple[str, str, str, str, str, str]) -> None:
    src, dst, old_name, new_name, old_code, new_code = job
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/sharedStrings.xml":
                data = data.replace(old_name.encode(), new_name.encode()).replace(old_code.encode(), new_code.encode())
            zout.writestr(item, data)


def make_units(base: list[tuple[Path, str, str]], folder: Path, n: int) -> list[Path]:
    """``n`` distinct units (name and valid code rewritten in each copy)."""
    from workbook.codes import credit_check_char

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(5)
    jobs, paths = [], []
    for i in range(n):
        src, name, code = base[i % len(base)]
        body = f"11339901{i:09d}"
        new_code = body + credit_check_char(body)
        new_name = name.replace("青禾县", f"青禾县{i:05d}号", 1)
        dst = folder / f"unit-{i:05d}.xlsx"
        jobs.append((str(src), str(dst), name, new_name, code, new_code))
        paths.append(dst)
    rng.shuffle(jobs)
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        list(pool.map(_clone, jobs, chunksize=64))
    return paths


def child_consolidate(listing: Path, n: int, out: Path, workers: int) -> dict[str, float]:
    """One timed run in this (fresh) process."""
    from addin.county.consolidate import ConsolidateOptions, consolidate

    paths = [Path(p) for p in listing.read_text(encoding="utf-8").splitlines()[:n]]
    for p in paths:  # warm the page cache, as files that were just copied into a folder are
        p.read_bytes()
    t = time.perf_counter()
    result = consolidate(paths, out, ConsolidateOptions(year=2026, name="青禾县人民政府", workers=workers or None))
    wall = time.perf_counter() - t
    assert len(result.included) == n, (len(result.included), n)
    return {"n": n, "seconds": wall, "ms_per_unit": wall / n * 1000, **{k: v for k, v in result.timings.items()},
            "rss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss_workers_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "summary_mb": out.stat().st_size / 1e6}


def child_baseline(listing: Path, n: int) -> dict[str, float]:
    """openpyxl load + per-file pandera validation, the way a script without this tool would."""
    import openpyxl

    from checks import validate_report
    from workbook.layout import a1, layout_for
    from workbook.report import Report

    paths = [Path(p) for p in listing.read_text(encoding="utf-8").splitlines()[:n]]
    for p in paths:
        p.read_bytes()
    lay = layout_for("2021")
    ed = lay.edition
    t = time.perf_counter()
    for p in paths:
        wb = openpyxl.load_workbook(p, data_only=True)
        cover = wb[ed.cover_sheet]
        rep = Report(ed.key, cover={f.key: str(cover[a1(*lay.cover.fields[f.key])].value or "") for f in ed.cover})
        for table in ed.tables:
            ws = wb[table.sheet]
            for cid, (r, c) in lay.tables[table.key].cells.items():
                rep.raw[cid] = ws.cell(r + 1, c + 1).value
        validate_report(rep)
    wall = time.perf_counter() - t
    return {"n": n, "seconds": wall, "ms_per_unit": wall / n * 1000}


def child_read(listing: Path, n: int) -> dict[str, float]:
    """``read_report`` per file: the median of three passes over ``n`` files (after a warm-up)."""
    from workbook.read import read_report

    paths = [Path(p) for p in listing.read_text(encoding="utf-8").splitlines()[:n]]
    for p in paths[:20]:
        read_report(p)
    passes = []
    for _ in range(3):
        t = time.perf_counter()
        for p in paths:
            read_report(p)
        passes.append((time.perf_counter() - t) / len(paths) * 1000)
    return {"n": n, "ms_per_file": sorted(passes)[1]}


def run_child(args: list[str], tree: Path = ROOT) -> dict[str, float]:
    proc = subprocess.run([sys.executable, __file__, "--tree", str(tree), *args], capture_output=True, text=True,
                          cwd=ROOT, check=False)
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


MEASURE = """
import json, resource, subprocess, sys, time
limit, out = int(sys.argv[1]), sys.argv[2]
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
t = time.perf_counter()
done = subprocess.run(sys.argv[3:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
json.dump({"exit": done.returncode, "seconds": time.perf_counter() - t,
           "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}, open(out, "w"))
"""
CLI = ("import sys; sys.path.insert(0, {tree!r}); sys.argv[0] = 'nianbao'\n"
       "try:\n    from addin.cli.app import main\nexcept ImportError:\n    from addin.cli import main\nmain()")


def hostile_folder(work: Path, listing: Path) -> Path:
    """Every kind of hostile file of the tests, next to ten good units."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_hostile_files import hostile_files

    folder = work / "hostile" / "收文"
    good = listing.read_text(encoding="utf-8").splitlines()[:10]
    made = hostile_files(work / "hostile" / "made", Path(good[0]))
    folder.mkdir(parents=True, exist_ok=True)
    for p in [*map(Path, good), *(path for path, _ in made.values())]:
        shutil.copy(p, folder / p.name)
    return folder


def run_cli(tree: Path, args: list[str], cwd: Path, limit: int = 8 * 1024 ** 3) -> dict[str, float]:
    """The command with ``tree``'s code under an address-space limit: exit status, wall time, and
    the peak resident memory of it and its workers (the kernel's RUSAGE_CHILDREN)."""
    out = cwd / "measure.json"
    subprocess.run([sys.executable, "-c", MEASURE, str(limit), str(out), sys.executable, "-c",
                    CLI.format(tree=str(tree)), *args], cwd=cwd, check=False, timeout=1800)
    return json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="200,2000,20000")
    ap.add_argument("--distinct", type=int, default=300)
    ap.add_argument("--baseline-files", type=int, default=200)
    ap.add_argument("--full-baseline", action="store_true")
    ap.add_argument("--workers", type=int, default=0, help="0: the tool's automatic choice")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--reuse", action="store_true", help="reuse the units already generated in --workdir")
    ap.add_argument("--repeat", type=int, default=1, help="runs per size (the median is reported)")
    ap.add_argument("--code", type=Path, action="append", help="a code tree to measure (repeatable; default: this one)")
    ap.add_argument("--hostile", action="store_true", help="also run validate/consolidate on a folder of hostile files")
    ap.add_argument("--tree", type=Path, default=ROOT, help=argparse.SUPPRESS)
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        sys.path.insert(0, str(a.tree.resolve()))
        kind, listing, n, *rest = a.child
        res = (child_consolidate(Path(listing), int(n), Path(rest[0]), a.workers) if kind == "consolidate"
               else child_read(Path(listing), int(n)) if kind == "read" else child_baseline(Path(listing), int(n)))
        print(json.dumps(res))
        return
    sizes = [int(s) for s in a.sizes.split(",")]
    trees = [t.resolve() for t in a.code] if a.code else [ROOT]
    work = a.workdir or Path(tempfile.mkdtemp(prefix="nianbao-bench-"))
    try:
        t = time.perf_counter()
        listing = work / "files.txt"
        if not (a.reuse and listing.exists() and len(listing.read_text(encoding="utf-8").splitlines()) >= max(sizes)):
            base = generate_base(work / "base", a.distinct)
            units = make_units(base, work / "units", max(sizes))
            listing.write_text("\n".join(map(str, sorted(units))), encoding="utf-8")
        print(f"生成 {a.distinct} 个工作簿 + 改写出 {max(sizes)} 个不同单位：{time.perf_counter() - t:.1f} s（{os.cpu_count()} 核）")
        n_base = 2000 if a.full_baseline else min(a.baseline_files, max(sizes))
        base_res = run_child(["--child", "baseline", str(listing), str(n_base)])
        base_2000 = base_res["ms_per_unit"] * 2000 / 1000
        print(f"基线（openpyxl 逐个读 + 逐个 pandera 校验）：{base_res['ms_per_unit']:.1f} ms/单位，"
              f"{n_base} 个实测 → 2,000 个 {base_2000:.1f} s" + ("" if n_base == 2000 else "（按实测外推）"))
        # the trees take turns, run after run, so that a change in the machine's load hits all alike
        reads: dict[Path, list[dict[str, float]]] = {tree: [] for tree in trees}
        runs: dict[tuple[Path, int], list[dict[str, float]]] = {(tree, n): [] for tree in trees for n in sizes}
        for _ in range(a.repeat):
            for tree in trees:
                reads[tree].append(run_child(["--child", "read", str(listing), str(min(500, max(sizes)))], tree))
                for n in sizes:
                    runs[tree, n].append(run_child(["--workers", str(a.workers), "--child", "consolidate", str(listing),
                                                    str(n), str(work / f"汇总-{n}.xlsx")], tree))
        per_tree: dict[Path, dict[Any, dict[str, float]]] = {}
        for tree in trees:
            print(f"—— 代码：{tree}")
            rows: dict[Any, dict[str, float]] = {}
            rows["read"] = r = sorted(reads[tree], key=lambda x: x["ms_per_file"])[len(reads[tree]) // 2]
            print(f"读取一个文件（read_report）：{r['ms_per_file']:.3f} ms")
            for n in sizes:
                rows[n] = r = sorted(runs[tree, n], key=lambda x: x["seconds"])[len(runs[tree, n]) // 2]
                print(f"N={n:>6}：{r['seconds']:.2f} s，{r['ms_per_unit']:.3f} ms/单位（读取与校验 {r['读取与校验']:.2f} s，"
                      f"判定与合计 {r['判定与合计']:.2f} s，写出 {r['写出']:.2f} s）；峰值内存：主进程 {r['rss_self_mb']:.0f} MB，"
                      f"工作进程 {r['rss_workers_mb']:.0f} MB；汇总表 {r['summary_mb']:.1f} MB")
            if 2000 in rows:
                print(f"2,000 个单位：{rows[2000]['seconds']:.2f} s（目标 < 3 s），比基线快 {base_2000 / rows[2000]['seconds']:.1f} 倍（目标 ≥ 8 倍）")
            if 2000 in rows and 20000 in rows:
                lin = rows[20000]["ms_per_unit"] / rows[2000]["ms_per_unit"]
                mem = max(rows[20000]["rss_self_mb"], rows[20000]["rss_workers_mb"]) / max(rows[2000]["rss_self_mb"], rows[2000]["rss_workers_mb"])
                print(f"线性：20,000 与 2,000 的单位耗时之比 {lin:.2f}（1 = 线性）；峰值内存之比 {mem:.2f}（目标 ≤ 2）")
            if a.hostile:
                folder = hostile_folder(work, listing) if not (work / "hostile" / "收文").exists() else work / "hostile" / "收文"
                for args in (["validate", "收文", "--json"],
                             ["consolidate", "收文", "-o", "汇总.xlsx", "--name", "青禾县人民政府", "--year", "2026"]):
                    rows[args[0]] = r = run_cli(tree, args, folder.parent)
                    print(f"恶意文件夹（{len(list(folder.iterdir()))} 个文件）nianbao {args[0]}：退出码 {r['exit']}，"
                          f"{r['seconds']:.1f} s，峰值内存 {r['peak_mb']:.0f} MB（目标 < 1024 MB，不因任何文件中止）")
            per_tree[tree] = rows
        if len(trees) > 1:
            first = per_tree[trees[0]]
            for tree in trees[1:]:
                rows = per_tree[tree]
                parts = [f"读取一个文件 {rows['read']['ms_per_file'] / first['read']['ms_per_file']:.2f}"]
                parts += [f"N={n} 汇总 {rows[n]['seconds'] / first[n]['seconds']:.2f}" for n in sizes]
                print(f"{tree} 与 {trees[0]} 之比（1 = 一样快）：" + "，".join(parts))
    finally:
        if a.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
