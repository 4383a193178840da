"""What the add-in test files share: the server-extra gate and headless Chromium.

Office.js and Excel cannot run here; the task pane is loaded in a real headless Chromium with the
``Office`` global stubbed by each test (what the stub does is specific to the test).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import openpyxl
import pytest
from openpyxl.cell.cell import MergedCell
from openpyxl.utils import get_column_letter, range_boundaries

NO_SERVER = "xlwings-server 未安装（pip install xlwings-server==1.20.0），加载项的服务端测试无法运行"
NO_BROWSER = "未安装 Chromium（apt-get install -y chromium）"


def require_xlwings_server() -> None:
    """Skip a module without the server extra; in CI a missing extra is a broken install: fail."""
    if importlib.util.find_spec("xlwings_server") is None:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(NO_SERVER, pytrace=False)
        pytest.skip(NO_SERVER, allow_module_level=True)


def find_browser() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def headless_dom(browser: str, page: Path, profile: Path) -> subprocess.CompletedProcess[str]:
    """Load a local page in headless Chromium (no network chatter) and dump its DOM."""
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
                           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom",
                           page.as_uri()], capture_output=True, text=True, timeout=120, check=False)


#: ``nianbao`` as installed (``python -m addin.cli.app`` would register the commands on a second app).
NIANBAO = [sys.executable, "-c", "import sys; from addin.cli.app import main; sys.argv[0] = 'nianbao'; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: Security settings a developer's shell may hold; each test server states its own.
GUARD_ENV = ("NIANBAO_ALLOW", "NIANBAO_TRUSTED_PROXIES", "NIANBAO_TOKEN_SHA256", "NIANBAO_ACCESS_TOKEN",
             "NIANBAO_ORIGINS", "NIANBAO_REQUEST_MAX_MB", "XLWINGS_AUTH_PROVIDERS")


@dataclasses.dataclass(frozen=True)
class Served:
    """A running ``nianbao serve``: its base URL, process and log file."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@contextlib.contextmanager
def serving(root: Path, extra_env: dict[str, str] | None = None, clean_log: bool = True,
            config: str = 'license_key = "noncommercial"\n', args: tuple[str, ...] = ()) -> Iterator[Served]:
    """``nianbao serve`` in a subprocess on a free loopback port, the licence key from its config
    file (not the environment) and a transfer folder of its own under ``root`` (unless
    ``extra_env`` names one); yields the running server; afterwards, with ``clean_log``, the log
    must hold no traceback."""
    (root / "serve.toml").write_text(config, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("XLWINGS_LICENSE_KEY", "XLWINGS_HOSTNAME", *GUARD_ENV)}
    env["NIANBAO_TRANSFER_DIR"] = str(root / "transfer")
    env.update(extra_env or {})
    port = free_port()
    log_path = root / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([*NIANBAO, "serve", "--host", "127.0.0.1", "--port", str(port),
                                 "--config", str(root / "serve.toml"), *args], cwd=root, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/manifest", timeout=2) as r:
                    if r.status == 200:
                        break
            except urllib.error.HTTPError:
                break  # answering (a 403 from an allow-list that leaves out loopback is an answer)
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("服务没有启动：\n" + log_path.read_text(encoding="utf-8"))
            time.sleep(0.2)
        try:
            yield Served(url, proc, log_path)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(15)
    if clean_log:
        assert "Traceback" not in log_path.read_text(encoding="utf-8")


@contextlib.contextmanager
def running_server(root: Path, extra_env: dict[str, str] | None = None, clean_log: bool = True) -> Iterator[str]:
    """``serving`` for the tests that need only the base URL."""
    with serving(root, extra_env, clean_log) as served:
        yield served.url


def render_taskpane(browser: str, url: str, answer: object, stub: str, driver: str, work: Path) -> tuple[str, dict]:
    """The served task pane with Office.js stripped and stubbed, fed a real server ``answer`` by
    ``driver``; returns (the rendered DOM, the page's own ``data-nb`` state). No JS error allowed."""
    import html
    import json
    import re

    with urllib.request.urlopen(url + "/taskpane.html") as r:
        served = r.read().decode("utf-8")
    page = re.sub(r"<script\b[^>]*>.*?</script>", "", served, flags=re.DOTALL)
    data = json.dumps(answer, ensure_ascii=False).replace("</", "<\\/")
    page = re.sub(r"<head[^>]*>", lambda m: f'{m.group(0)}<base href="{url}/"><script>{stub}</script>', page, count=1)
    page = page.replace("</body>", f'<script src="{url}/static/js/nianbao.js"></script>'
                        f'<script type="application/json" id="answer">{data}</script>'
                        f"<script>{driver}</script></body>")
    (work / "pane.html").write_text(page, encoding="utf-8")
    done = headless_dom(browser, work / "pane.html", work / "profile")
    assert "Uncaught" not in done.stderr, done.stderr
    state = json.loads(html.unescape(re.search(r'data-nb="([^"]*)"', done.stdout).group(1)))
    return done.stdout, state


#: The sheets a report's marks may be on.
REPORT_SHEETS = ("封面", "二、主动公开", "三、依申请公开", "四、复议诉讼")


def range_cells(cell: str) -> list[str]:
    """The cells of a finding's "E29" / "D10:J10" / "E10,G10", one A1 reference each."""
    out = []
    for part in cell.split(","):
        c0, r0, c1, r1 = range_boundaries(part)
        out += [f"{get_column_letter(c)}{r}" for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]
    return out


def fills(path: Path, sheets: tuple[str, ...] = REPORT_SHEETS) -> dict[tuple[str, str], str | None]:
    """Every cell's own fill on the report sheets as #RRGGBB (None: no fill), read by openpyxl —
    an independent reader of the marks the add-in or the inbox page put on a workbook."""
    wb = openpyxl.load_workbook(path)
    out: dict[tuple[str, str], str | None] = {}
    for name in sheets:
        for row in wb[name].iter_rows():
            for c in row:
                if not isinstance(c, MergedCell):
                    solid = c.fill.fill_type == "solid" and isinstance(c.fill.fgColor.rgb, str)
                    out[(name, c.coordinate)] = "#" + c.fill.fgColor.rgb[-6:].upper() if solid else None
    return out
