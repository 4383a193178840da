"""``nianbao serve`` refuses to start with a Chinese message that says what to do — never a
traceback — when the licence key, the package, the port or the certificate is missing.
(Starting for real is covered by test_addin_server.py, whose server reads its key from a
config file.)"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import addin.cli.serve as cmd_serve
from addin.cli.app import app

runner = CliRunner()


def said(result: object, *needles: str) -> bool:
    """Whether stderr says each needle (rich wraps long lines, so whitespace is ignored)."""
    text = "".join(result.stderr.split())  # type: ignore[attr-defined]
    return all("".join(n.split()) in text for n in needles)


@pytest.fixture(autouse=True)
def no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XLWINGS_LICENSE_KEY", raising=False)
    monkeypatch.setenv("NIANBAO_CONFIG", str(tmp_path / "none.toml"))


def test_without_a_key_it_says_what_to_set_and_why(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert said(result, "XLWINGS_LICENSE_KEY=noncommercial", "license_key", str(tmp_path / "none.toml"))
    assert said(result, "PolyForm Noncommercial", "政府机关", "xlwings PRO")
    assert "Traceback" not in result.output + result.stderr


def test_a_broken_config_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    config.write_text("license_key = noncommercial\n", encoding="utf-8")  # unquoted: not TOML
    result = runner.invoke(app, ["serve", "--config", str(config)])
    assert result.exit_code == 2 and said(result, "格式有误", str(config))


def test_without_xlwings_server_it_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(cmd_serve.importlib.util, "find_spec",
                        lambda name, *a: None if name == "xlwings_server" else real(name, *a))
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2 and said(result, "pip install", "xlwings-server==1.20.0")


def test_a_busy_port_and_a_half_certificate_are_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XLWINGS_LICENSE_KEY", "noncommercial")
    cert = tmp_path / "cert.pem"
    cert.write_text("x", encoding="utf-8")
    result = runner.invoke(app, ["serve", "--certfile", str(cert)])
    assert result.exit_code == 2 and said(result, "--keyfile")
    result = runner.invoke(app, ["serve", "--certfile", str(cert), "--keyfile", str(tmp_path / "missing.pem")])
    assert result.exit_code == 2 and said(result, "找不到证书文件")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 2 and said(result, f"端口 {port} 已被占用")


def test_an_invalid_key_is_reported_before_the_server_starts(tmp_path: Path) -> None:
    """A fresh process, since this one may have loaded xlwings' server parts with a good key."""
    if importlib.util.find_spec("xlwings_server") is None:
        pytest.skip("xlwings-server 未安装")
    env = {**os.environ, "XLWINGS_LICENSE_KEY": "not-a-key", "NIANBAO_CONFIG": str(tmp_path / "none.toml")}
    done = subprocess.run([sys.executable, "-c", "import sys; from addin.cli.app import main; sys.argv[0] = 'nianbao'; main()",
                           "serve", "--port", "0"], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 2
    assert "许可密钥无效" in "".join(done.stderr.split()) and "Traceback" not in done.stderr


def test_server_settings_point_at_our_project() -> None:
    env = cmd_serve.server_environment("noncommercial", cmd_serve.ServeConfig(hostname="nianbao.example.gov.cn"))
    assert Path(env["XLWINGS_PROJECT_DIR"]) == Path(cmd_serve.__file__).parents[1] / "server"
    assert (Path(env["XLWINGS_PROJECT_DIR"]) / "custom_scripts" / "scripts.py").is_file()
    assert env["XLWINGS_LICENSE_KEY"] == "noncommercial" and env["XLWINGS_HOSTNAME"] == "nianbao.example.gov.cn"
    assert env["XLWINGS_MANIFEST_ID_PROD"] == cmd_serve.MANIFEST_ID and env["XLWINGS_ENVIRONMENT"] == "prod"
