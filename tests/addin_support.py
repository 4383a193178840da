"""What the add-in test files share: the server-extra gate and headless Chromium.

Office.js and Excel cannot run here; the task pane is loaded in a real headless Chromium with the
``Office`` global stubbed by each test (what the stub does is specific to the test).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

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
