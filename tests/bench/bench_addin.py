"""How long a 校验 click takes on the server: run by hand, ``python tests/bench/bench_addin.py``.

Prints medians of many runs for a full workbook payload (the seed report, 2019 edition, and a
generated 2021-edition unit with mistakes), per client:
  baseline  what ``nianbao validate`` does for the same file (read with calamine + checks)
  core      the server-side work of 校验: payload → ``xw.Book(json=…)`` → ``xlcore.validate`` → actions
  read      of that, reading the book into a Report (xlwings value reads + ``report_from_grids``)
  http      the whole round trip to a real ``nianbao serve`` on loopback (JSON both ways)
and the ratios to the baseline measured in the same run.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")  # government use: PolyForm Noncommercial

import xlwings as xw

import addin.excel.core as xlcore
from addin.excel.payload import build_payload
from checks import validate_report
from workbook.build import write_report
from workbook.read import read_report
from workbook.samples import county_units, fake_report

ROOT = Path(__file__).resolve().parents[2]
RUNS = 60
NIANBAO = [sys.executable, "-c", "import sys; from addin.cli.app import main; sys.argv[0] = 'nianbao'; main()"]


def median_ms(func: Callable[[], Any], runs: int = RUNS) -> float:
    func()  # warm up (schema and layout caches)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([*NIANBAO, "serve", "--port", str(port)], cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/manifest", timeout=1).close()
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("服务没有启动")


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-addin-"))
    unit = county_units(2026)[2]
    files = {
        "seed 2019": ROOT / "samples" / "宁海县交通运输局2020年政府信息公开工作年度报告.xlsx",
        "unit 2021": write_report(fake_report(unit, 2026, 11, frozenset({"imbalance", "blanks", "placeholder"})),
                                  tmp / "unit.xlsx"),
    }
    proc, url = start_server(tmp)
    try:
        print(f"{'workbook':<10} {'client':<9} {'findings':>8} {'baseline':>9} {'core':>8} {'read':>8} {'http':>8}"
              f" {'core/base':>9} {'http/base':>9} {'actions':>7}")
        for label, path in files.items():
            baseline = median_ms(lambda path=path: validate_report(read_report(path)))
            for client in ("VBA", "Office.js"):
                payload = build_payload(path, client)
                body = json.dumps(payload).encode()

                def core(payload: dict[str, Any] = payload) -> list[dict[str, Any]]:
                    book = xw.Book(json=copy.deepcopy(payload))
                    xlcore.validate(book)
                    actions = book.json()["actions"]
                    book.close()
                    return actions

                def read(payload: dict[str, Any] = payload) -> None:
                    book = xw.Book(json=copy.deepcopy(payload))
                    xlcore.read_book(book)
                    book.close()

                def http(body: bytes = body) -> dict[str, Any]:
                    req = urllib.request.Request(url + "/xlwings/custom-scripts-call/validate", data=body,
                                                 headers={"Content-Type": "application/json"})
                    with urllib.request.urlopen(req) as r:
                        return json.load(r)

                n_actions = len(core())
                findings = len(validate_report(read_report(path)))
                t_core, t_read, t_http = median_ms(core), median_ms(read), median_ms(http)
                print(f"{label:<10} {client:<9} {findings:>8} {baseline:>7.1f}ms {t_core:>6.1f}ms {t_read:>6.1f}ms"
                      f" {t_http:>6.1f}ms {t_core / baseline:>8.1f}x {t_http / baseline:>8.1f}x {n_actions:>7}")
    finally:
        proc.terminate()
        proc.wait(15)
    print(f"medians of {RUNS} runs; payload sizes: "
          + ", ".join(f"{k} {len(json.dumps(build_payload(p, 'Office.js'))) // 1024} KB" for k, p in files.items()))


if __name__ == "__main__":
    main()
