"""``nianbao serve``: run the Excel add-in server (xlwings Server, with ``addin/server`` as its project).

Why xlwings Server rather than an app of our own: it ships and maintains the Office.js client
(the code that reads the workbook and applies the returned actions), the manifest and task-pane
machinery and the ``custom-scripts-call`` endpoint the VBA ``RunServerPython`` client also
speaks; we supply only the scripts, the manifest and the task pane.

The server is PolyForm Noncommercial (or xlwings PRO). The key is read from the environment or
a config file — never from code — and a missing key, a missing package, a busy port or a
missing certificate stop here with a Chinese message, not a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import socket
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from addin.cli.app import app, console, fail
from addin.excel.transfer import PUBLIC_URL_ENV

PROJECT_DIR = Path(__file__).resolve().parents[1] / "server"
LICENSE_ENV = "XLWINGS_LICENSE_KEY"
CONFIG_ENV = "NIANBAO_CONFIG"
#: The add-in's identity in Office; keep it when upgrading, or Excel sees a new add-in.
MANIFEST_ID = "fbfa995b-7317-4e8d-8fa7-b58b471ddae4"
PROJECT_NAME = "政务公开年报"
SERVER_PIN = "xlwings-server==1.20.0"


def default_config() -> Path:
    """``%APPDATA%\\nianbao\\serve.toml`` on Windows, ``~/.config/nianbao/serve.toml`` elsewhere."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "nianbao" / "serve.toml"
    return Path.home() / ".config" / "nianbao" / "serve.toml"


@dataclass(frozen=True)
class ServeConfig:
    """What the config file may set: the licence key, certificate, public host name."""

    license_key: str = ""
    certfile: str = ""
    keyfile: str = ""
    hostname: str = ""


def load_config(path: Path) -> ServeConfig:
    """Read the TOML config; a missing file is an empty config, a broken one an error."""
    if not path.is_file():
        return ServeConfig()
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        fail(f"配置文件 {path} 格式有误（应为 TOML，如 license_key = \"noncommercial\"）：{exc}")
    known = ServeConfig.__dataclass_fields__
    return ServeConfig(**{k: str(v) for k, v in data.items() if k in known})


def missing_key_message(config_path: Path) -> str:
    return (
        "未设置 xlwings 许可密钥，加载项服务无法启动。\n"
        "加载项服务使用 xlwings Server（xlwings-server），它的授权是 PolyForm Noncommercial 1.0.0"
        "（非商业许可）或商业的 xlwings PRO 许可。政府机关使用属于非商业许可明确允许的用途，"
        f"请设置环境变量 {LICENSE_ENV}=noncommercial，"
        f"或在配置文件 {config_path} 中写一行：license_key = \"noncommercial\"。\n"
        "商业单位（例如为政府部署或运维本系统的公司）不适用非商业许可，须购买 xlwings PRO 许可并填写其密钥。"
    )


def server_environment(key: str, config: ServeConfig) -> dict[str, str]:
    """The xlwings Server settings for our project; IT may override any XLWINGS_* in the environment."""
    env = {
        "XLWINGS_ENVIRONMENT": "prod",
        "XLWINGS_PROJECT_NAME": PROJECT_NAME,
        "XLWINGS_MANIFEST_ID_PROD": MANIFEST_ID,
        "XLWINGS_ENABLE_SOCKETIO": "false",
        "XLWINGS_ENABLE_HOTRELOAD": "false",
        "XLWINGS_ENABLE_EXAMPLES": "false",
    }
    if config.hostname:
        env["XLWINGS_HOSTNAME"] = config.hostname
    env = {k: os.environ.get(k, v) for k, v in env.items()}
    env[LICENSE_ENV] = key
    env["XLWINGS_PROJECT_DIR"] = str(PROJECT_DIR)
    return env


def _port_free(host: str, port: int) -> bool:
    """Whether uvicorn will be able to listen there (same socket options as uvicorn, so a port
    that only has closing connections counts as free; Windows' SO_REUSEADDR would mean
    sharing a port, so it is not set there)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        if sys.platform != "win32":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址；各单位电脑要访问时用 0.0.0.0"),
    port: int = typer.Option(8000, "--port", help="端口"),
    certfile: Path | None = typer.Option(None, "--certfile", help="HTTPS 证书（PEM）；Office.js 加载项必须用 HTTPS"),
    keyfile: Path | None = typer.Option(None, "--keyfile", help="HTTPS 证书的私钥（PEM）"),
    config: Path | None = typer.Option(None, "--config", help="配置文件（TOML），默认见部署说明"),
    workers: int = typer.Option(1, "--workers", min=1, help="工作进程数（单位多时可加大）"),
) -> None:
    """启动 Excel 加载项服务（校验、计算合计、清除标记、导出PDF、汇总），供各单位的 Excel 调用。"""
    config_path = config or default_config()
    if config is not None and not config.is_file():
        fail(f"找不到配置文件：{config}")
    cfg = load_config(config_path)
    if importlib.util.find_spec("xlwings_server") is None:
        fail(f"未安装 xlwings-server，加载项服务无法启动。请执行：pip install \"xxgk-nianbao[server]\""
             f"（或 pip install {SERVER_PIN}）。")
    key = os.environ.get(LICENSE_ENV, "").strip() or cfg.license_key.strip()
    if not key:
        fail(missing_key_message(config_path))
    cert = certfile or (Path(cfg.certfile) if cfg.certfile else None)
    private = keyfile or (Path(cfg.keyfile) if cfg.keyfile else None)
    if (cert is None) != (private is None):
        fail("HTTPS 需要同时给出证书和私钥：--certfile 和 --keyfile（或配置文件中的 certfile、keyfile）。")
    for path in (cert, private):
        if path is not None and not path.is_file():
            fail(f"找不到证书文件：{path}")
    if not _port_free(host, port):
        fail(f"端口 {port} 已被占用（或地址 {host} 不可用）。请用 --port 换一个端口，或先停止占用它的程序。")
    os.environ.update(server_environment(key, cfg))
    import xlwings

    try:
        importlib.import_module("xlwings.server")
    except xlwings.XlwingsError as exc:  # LicenseError: missing, invalid or expired key
        fail(f"xlwings 许可密钥无效（{exc}）。非商业用途请设置 {LICENSE_ENV}=noncommercial；"
             "xlwings PRO 用户请检查密钥是否完整、是否过期。")
    import uvicorn

    scheme = "https" if cert else "http"
    shown = socket.gethostname() if host in ("0.0.0.0", "::") else host
    console.print(f"加载项服务：{scheme}://{shown}:{port}  加载项清单：{scheme}://{shown}:{port}/manifest")
    os.environ.setdefault(PUBLIC_URL_ENV, f"{scheme}://{shown}:{port}")  # download links in VBA messages
    if not cert:
        console.print("[yellow]未配置 HTTPS 证书：Excel 的 Office.js 加载项只能通过 HTTPS 加载，"
                      "此时只有 VBA 的 RunServerPython 方式可用。见 docs/加载项部署说明.md。[/yellow]")
    uvicorn.run("xlwings_server.main:main_app", host=host, port=port, workers=workers,
                ssl_certfile=str(cert) if cert else None, ssl_keyfile=str(private) if private else None,
                log_level="info")
