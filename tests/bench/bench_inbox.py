"""How fast the inbox takes submissions: run by hand, ``python tests/bench/bench_inbox.py [N]``.

Against a real ``nianbao serve --units`` on loopback (N units, default 500), in one run:

  baseline  the command line's own validation of the same N files: ``validate_paths`` file by file
            in process (per-file time), and ``nianbao validate --json <folder>`` as a command (wall
            time for all N)
  check     the 单位 page's check, one after another: upload → findings (nothing stored)
  submit    N submissions in a row: upload → checks → stored with its record → receipt
  submit×20 N resubmissions, 20 clients at a time (each replaces a file, which moves to history)
  page      (with Playwright and Chromium) 50 files chosen on the 单位 page in a real browser: from
            choosing the file to the findings on screen

For each: throughput (files/s), median and 95th-percentile time from upload to findings, their
ratio to the command line's time per file (``validate_paths`` on one file), and the throughput's
ratio to ``nianbao validate`` on the whole folder, all measured in the same run. At the end: database rows =
files in the inbox. Also printed: the time ``--units`` took to make and hash N codes.
"""

from __future__ import annotations

import concurrent.futures
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import httpx
import openpyxl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests' helpers

from checks.files import validate_paths  # noqa: E402
from test_inbox import clean_workbook, codes_from_file, write_register  # noqa: E402
from workbook.samples import county_units  # noqa: E402

NIANBAO = [sys.executable, "-c", "import sys; from addin.cli.app import main; sys.argv[0] = 'nianbao'; main()"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
AT_ONCE = 20


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def line(label: str, times: list[float], wall: float, per_file_cli: float, cli_rate: float) -> str:
    med, p95 = statistics.median(times) * 1000, percentile(times, 0.95) * 1000
    rate = len(times) / wall
    return (f"{label:<10} {len(times):>5} {rate:>8.1f}/s {med:>8.1f}ms {p95:>8.1f}ms "
            f"{med / (per_file_cli * 1000):>8.1f}x {p95 / (per_file_cli * 1000):>8.1f}x {rate / cli_rate:>8.2f}x")


def in_browser(pages: str, books: list[Path]) -> list[float]:
    """Seconds from choosing each file on the 单位 page to its findings on screen ([] without
    Playwright or Chromium)."""
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return []
    if chromium is None:
        return []
    times = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(pages + "/")
        for path in books:
            page.evaluate("document.getElementById('nb-status').textContent = ''")
            t0 = time.perf_counter()
            page.set_input_files("#nb-file", str(path))
            page.wait_for_function("document.getElementById('nb-status').textContent.startsWith('已检查')")
            times.append(time.perf_counter() - t0)
        browser.close()
    return times


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    root = Path(tempfile.mkdtemp(prefix="bench-inbox-"))
    units = county_units(2026, n=n)
    books_dir = root / "各单位"
    books_dir.mkdir()
    print(f"准备 {n} 个单位的工作簿……", flush=True)
    books = [clean_workbook(u, books_dir / f"{i:04d}.xlsx", seed=3) for i, u in enumerate(units)]
    register = write_register(root / "单位名单.xlsx", units)

    # baseline: the command line's own validation of the same files
    cli_times = []
    for path in books:
        start = time.perf_counter()
        validate_paths([path])
        cli_times.append(time.perf_counter() - start)
    per_file = statistics.median(cli_times)
    start = time.perf_counter()
    done = subprocess.run([*NIANBAO, "validate", "--json", str(books_dir)], capture_output=True, timeout=600)
    cli_wall = time.perf_counter() - start
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    cli_rate = n / cli_wall

    config = root / "serve.toml"
    config.write_text('license_key = "noncommercial"\n[inbox]\nfolder = "收文"\ndatabase = "数据/inbox.sqlite3"\n'
                      'office_password = "bench-office-2026"\n', encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("XLWINGS_LICENSE_KEY", "NIANBAO_CONFIG")}
    log = (root / "server.log").open("w")
    started = time.perf_counter()
    proc = subprocess.Popen([*NIANBAO, "serve", "--port", str(port), "--config", str(config), "--units", str(register)],
                            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(3000):
        try:
            urllib.request.urlopen(url + "/manifest", timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise SystemExit((root / "server.log").read_text(encoding="utf-8"))
            time.sleep(0.1)
    startup = time.perf_counter() - started
    (codes_file,) = sorted((root / "数据" / "报送码").glob("*.xlsx"))
    codes = codes_from_file(codes_file)
    pages = url + "/nianbao/inbox"
    payload = [(books[i].read_bytes(), codes[u.name]) for i, u in enumerate(units)]

    def call(client: httpx.Client, route: str, i: int) -> float:
        data, code = payload[i]
        t0 = time.perf_counter()
        r = client.post(pages + route, files={"file": (f"{i:04d}.xlsx", data, XLSX)},
                        data={"code": code} if route == "/submit" else {})
        took = time.perf_counter() - t0
        body = r.json()
        assert r.status_code == 200 and (route == "/check" or body["accepted"]), body
        return took

    results = []
    try:
        with httpx.Client(timeout=120) as client:
            for route, label in (("/check", "check"), ("/submit", "submit")):
                t0 = time.perf_counter()
                times = [call(client, route, i) for i in range(n)]
                results.append(line(label, times, time.perf_counter() - t0, per_file, cli_rate))

        def worker(k: int) -> list[float]:
            with httpx.Client(timeout=120) as client:
                return [call(client, "/submit", i) for i in range(k, n, AT_ONCE)]

        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(AT_ONCE) as pool:
            times = [t for part in pool.map(worker, range(AT_ONCE)) for t in part]
        results.append(line(f"submit×{AT_ONCE}", times, time.perf_counter() - t0, per_file, cli_rate))
        shown = in_browser(pages, books[:50])
        if shown:
            results.append(line("page", shown, sum(shown), per_file, cli_rate))
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()

    folder, database = root / "收文", root / "数据" / "inbox.sqlite3"
    with sqlite3.connect(database) as conn:
        rows = {r[0] for r in conn.execute("SELECT path FROM submissions")}
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    codes_sheet = openpyxl.load_workbook(codes_file).active.max_row

    print(f"\n命令行基线：validate_paths 每个文件 中位 {per_file * 1000:.1f} ms（p95 {percentile(cli_times, 0.95) * 1000:.1f} ms）；"
          f"nianbao validate --json {n} 个文件 {cli_wall:.1f} s（{n / cli_wall:.1f} 个/s，含启动）")
    print(f"nianbao serve --units（生成并散列 {n} 个报送码）到可以服务：{startup:.1f} s；报送码文件 {codes_sheet} 行\n")
    print(f"{'':<10} {'次数':>5} {'吞吐':>10} {'中位':>10} {'p95':>10} {'中位/基线':>9} {'p95/基线':>9} {'吞吐/命令行':>9}")
    for row in results:
        print(row)
    print(f"\n数据库记录 {len(rows)} 条，收文夹文件 {len(files)} 个，一一对应：{rows == files}")


if __name__ == "__main__":
    main()
