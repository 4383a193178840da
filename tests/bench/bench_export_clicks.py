"""Does a 校验 wait while PDFs print? Run by hand: ``python tests/bench/bench_export_clicks.py``.

导出PDF runs LibreOffice for seconds; the server runs it in a thread so that other clerks' clicks
are answered meanwhile. This measures, against a real ``nianbao serve`` on loopback:
  alone     the 校验 round trip with nothing else running (the baseline of this run)
  busy      the same 校验 sent while two 导出PDF clicks are being printed
  pdf       how long each of those 导出PDF clicks took
and prints busy/alone: near 1 means printing does not hold up other clicks; a blocked server
would answer the 校验 only after a PDF (busy/alone in the hundreds). The functional half — both
PDFs and the 校验 answer are right — is tests/test_addin_buttons.py.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from addin.excel.payload import build_payload

ROOT = Path(__file__).resolve().parents[2]
INBOX = ROOT / "samples" / "青禾县-2026" / "收文"
ROUNDS = 5
NIANBAO = [sys.executable, "-c", "import sys; from addin.cli.app import main; sys.argv[0] = 'nianbao'; main()"]


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (workdir / "serve.toml").write_text('license_key = "noncommercial"\n', encoding="utf-8")
    env = {**os.environ, "NIANBAO_TRANSFER_DIR": str(workdir / "transfer")}
    proc = subprocess.Popen([*NIANBAO, "serve", "--port", str(port), "--config", str(workdir / "serve.toml")],
                            cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "/manifest", timeout=1).close()
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("服务没有启动")


def timed_post(url: str, script: str, payload: dict[str, Any]) -> float:
    """Seconds for one click's round trip."""
    body = json.dumps(payload).encode()
    start = time.perf_counter()
    req = urllib.request.Request(f"{url}/xlwings/custom-scripts-call/{script}", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as r:
        json.load(r)
    return time.perf_counter() - start


def main() -> None:
    if shutil.which("soffice") is None:
        raise SystemExit("需要 LibreOffice（soffice）才能导出 PDF")
    tmp = Path(tempfile.mkdtemp(prefix="bench-export-clicks-"))
    pdf_units = [INBOX / "青禾县教育局.xlsx", INBOX / "青禾县交通运输局.xlsx"]
    check = build_payload(INBOX / "青禾县卫生健康局.xlsx", "Office.js")
    pdf_payloads = [build_payload(p, "Office.js") for p in pdf_units]
    proc, url = start_server(tmp)
    try:
        timed_post(url, "validate", check)  # warm up (imports, schema caches)
        timed_post(url, "export_pdf", pdf_payloads[0])
        alone = [timed_post(url, "validate", check) for _ in range(ROUNDS * 4)]
        busy: list[float] = []
        pdf: list[float] = []
        with ThreadPoolExecutor(3) as pool:
            for _ in range(ROUNDS):
                printing = [pool.submit(timed_post, url, "export_pdf", p) for p in pdf_payloads]
                time.sleep(0.3)  # let both reach LibreOffice
                busy.append(pool.submit(timed_post, url, "validate", check).result())
                pdf += [f.result() for f in printing]
    finally:
        proc.terminate()
        proc.wait(15)
    t_alone, t_busy, t_pdf = (statistics.median(x) * 1000 for x in (alone, busy, pdf))
    print(f"{'校验 alone':<16} {t_alone:>8.1f} ms   (median of {len(alone)})")
    print(f"{'校验 while 2 PDFs':<16} {t_busy:>8.1f} ms   (median of {len(busy)})   busy/alone {t_busy / t_alone:.1f}x")
    print(f"{'导出PDF':<16} {t_pdf:>8.1f} ms   (median of {len(pdf)})   pdf/alone {t_pdf / t_alone:.0f}x")


if __name__ == "__main__":
    main()
