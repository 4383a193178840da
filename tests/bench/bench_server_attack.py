"""Benchmark: does the add-in server keep answering while it is attacked, and does its memory come back?

Run by hand (not collected by pytest), loopback only:

    python tests/bench/bench_server_attack.py                       # this checkout
    git archive <commit> | tar -x -C /tmp/old                         # an older version, for comparison
    python tests/bench/bench_server_attack.py --code /tmp/old --code .  # both, one after the other

For each code tree it starts ``nianbao serve`` on 127.0.0.1 (its own transfer folder), probes
``GET /manifest`` every 50 ms from a separate thread, and runs four attacks one after the other:

1. ``huge``: a 100 MB workbook payload (a real unit's payload plus one enormous sheet) posted to
   ``custom-scripts-call/validate`` with its Content-Length;
2. ``chunked``: the same body streamed without a Content-Length;
3. ``uploads``: four concurrent uploads of 45 MB each to ``/nianbao/upload``;
4. ``heavy``: eight concurrent clicks of 校验 on a 12 MB payload (inside the default limit).

It prints, per attack, the slowest and the 95th-percentile ``/manifest`` answer, the HTTP
statuses the attack got, and the server's resident memory (VmRSS) before, at its peak and 5 s
after; finally the ratios of the trees' slowest answers and memory after (first tree / others).
Also printed once: the payload sizes of real workbooks (a unit's, the sample county's summary).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("XLWINGS_LICENSE_KEY", "noncommercial")
SEED = ROOT / "samples" / "宁海县交通运输局2020年政府信息公开工作年度报告.xlsx"
SCRIPT = "import sys; from addin.cli.app import main; sys.argv[0] = 'nianbao'; main()"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory now (VmRSS) or at its peak since the last ``reset_peak`` (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(pid: int) -> None:
    """Start VmHWM afresh (Linux: writing 5 to clear_refs), so each attack's peak is its own."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


class Prober(threading.Thread):
    """GET /manifest every 50 ms; records each answer's duration (a refused probe counts 60 s)."""

    def __init__(self, port: int, pid: int) -> None:
        super().__init__(daemon=True)
        self.port, self.pid = port, pid
        self.times: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            t = time.perf_counter()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/manifest", timeout=60) as r:
                    r.read()
                self.times.append(time.perf_counter() - t)
            except OSError:
                self.times.append(60.0)
            time.sleep(0.05)


def post(port: int, path: str, body: bytes, headers: dict[str, str], chunked: bool = False) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.putrequest("POST", path)
        for k, v in headers.items():
            conn.putheader(k, v)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            try:
                for i in range(0, len(body), 1 << 20):
                    piece = body[i:i + (1 << 20)]
                    conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                conn.send(b"0\r\n\r\n")
            except OSError:
                pass  # the server answered early and closed
        else:
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders()
            try:
                conn.send(body)
            except OSError:
                pass
        answer = conn.getresponse()
        answer.read()
        return answer.status
    except OSError:
        return 0
    finally:
        conn.close()


def multipart(size: int) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="big.xlsx"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="mtimes"\r\n\r\n[0]\r\n--{boundary}--\r\n'.encode()
    return head + os.urandom(size) + tail, f"multipart/form-data; boundary={boundary}"


def padded_payload(megabytes: float) -> bytes:
    """A real unit's Office.js payload plus a sheet of numbers making it about ``megabytes``."""
    from addin.excel.payload import build_payload

    payload = build_payload(SEED, "Office.js")
    base = len(json.dumps(payload).encode())
    cells = max(0, int((megabytes * 1024 * 1024 - base) / 9))  # "123456.0," is 9 bytes
    width = 200
    rows = [[123456.0] * width for _ in range(cells // width)]
    extra = dict(payload["sheets"][-1], name="附表", values=rows or [[""]])
    payload["sheets"].append(extra)
    return json.dumps(payload).encode()


def attack(name: str, port: int, pid: int, run: Any) -> dict[str, Any]:
    before = rss_mb(pid)
    reset_peak(pid)
    prober = Prober(port, pid)
    prober.start()
    time.sleep(0.3)
    t = time.perf_counter()
    statuses = run()
    took = time.perf_counter() - t
    time.sleep(0.5)
    prober.stop.set()
    prober.join()
    peak = rss_mb(pid, "VmHWM")
    time.sleep(5)
    after = rss_mb(pid)
    times = sorted(prober.times) or [float("nan")]
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return {"attack": name, "statuses": statuses, "seconds": round(took, 2), "manifest_max_s": round(times[-1], 3),
            "manifest_p95_s": round(p95, 3), "manifest_median_s": round(statistics.median(times), 4),
            "rss_before_mb": round(before), "rss_peak_mb": round(peak), "rss_after_mb": round(after)}


def bench(code: Path, huge: bytes, heavy: bytes) -> list[dict[str, Any]]:
    work = Path(tempfile.mkdtemp(prefix="nianbao-attack-"))
    (work / "serve.toml").write_text('license_key = "noncommercial"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NIANBAO_", "XLWINGS_"))}
    env.update({"PYTHONPATH": str(code), "NIANBAO_TRANSFER_DIR": str(work / "transfer")})
    port = free_port()
    log = (work / "server.log").open("w")
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--config", str(work / "serve.toml")], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/manifest", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit((work / "server.log").read_text())
                time.sleep(0.2)
        json_headers = {"Content-Type": "application/json"}
        script = "/xlwings/custom-scripts-call/validate"
        results = [attack("huge", port, proc.pid, lambda: [post(port, script, huge, json_headers)]),
                   attack("chunked", port, proc.pid, lambda: [post(port, script, huge, json_headers, chunked=True)])]
        uploads = [multipart(45 * 1024 * 1024) for _ in range(4)]

        def many_uploads() -> list[int]:
            out: list[int] = []
            threads = [threading.Thread(target=lambda b=b, k=k: out.append(post(port, "/nianbao/upload", b, {"Content-Type": k})))
                       for b, k in uploads]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            return sorted(out)

        results.append(attack("uploads", port, proc.pid, many_uploads))

        def heavy_clicks() -> list[int]:
            out: list[int] = []
            threads = [threading.Thread(target=lambda: out.append(post(port, script, heavy, json_headers))) for _ in range(8)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            return sorted(out)

        results.append(attack("heavy", port, proc.pid, heavy_clicks))
        return results
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def payload_sizes() -> dict[str, int]:
    """Bytes a click posts for real workbooks: the seed unit and the sample county's summary."""
    from addin.county.consolidate import ConsolidateOptions, consolidate
    from addin.excel.payload import build_payload

    out = {f"unit {c}": len(json.dumps(build_payload(SEED, c)).encode()) for c in ("VBA", "Office.js")}
    with tempfile.TemporaryDirectory() as tmp:
        paths = sorted((ROOT / "samples" / "青禾县-2026" / "收文").glob("青禾县*.xlsx"))
        summary = Path(tmp) / "汇总.xlsx"
        consolidate(paths, summary, ConsolidateOptions(year=2026, name="青禾县人民政府"))
        out[f"county summary of {len(paths)} files, Office.js"] = len(json.dumps(build_payload(summary, "Office.js")).encode())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--code", action="append", type=Path, help="code tree to run the server from (repeatable)")
    ap.add_argument("--huge-mb", type=float, default=100)
    ap.add_argument("--heavy-mb", type=float, default=12)
    args = ap.parse_args()
    trees = args.code or [ROOT]
    for name, size in payload_sizes().items():
        print(f"payload {name}: {size / 1024:.0f} KB")
    huge, heavy = padded_payload(args.huge_mb), padded_payload(args.heavy_mb)
    print(f"attack bodies: huge {len(huge) / 1e6:.0f} MB, heavy {len(heavy) / 1e6:.1f} MB")
    every: dict[str, list[dict[str, Any]]] = {}
    for tree in trees:
        print(f"\n== {tree}")
        every[str(tree)] = bench(tree.resolve(), huge, heavy)
        for row in every[str(tree)]:
            print(json.dumps(row, ensure_ascii=False))
    if len(trees) > 1:
        first, *rest = every
        for other in rest:
            for a, b in zip(every[first], every[other]):
                print(f"{a['attack']}: /manifest slowest {a['manifest_max_s']} s vs {b['manifest_max_s']} s "
                      f"(ratio {a['manifest_max_s'] / max(b['manifest_max_s'], 1e-3):.0f}x); "
                      f"memory after {a['rss_after_mb']} MB vs {b['rss_after_mb']} MB")


if __name__ == "__main__":
    main()
