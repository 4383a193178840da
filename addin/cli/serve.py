"""``nianbao serve``: run the Excel add-in server (xlwings Server, with ``addin/server`` as its project).

Why xlwings Server rather than an app of our own: it ships and maintains the Office.js client
(the code that reads the workbook and applies the returned actions), the manifest and task-pane
machinery and the ``custom-scripts-call`` endpoint the VBA ``RunServerPython`` client also
speaks; we supply only the scripts, the manifest and the task pane — and the guard in front of
it (``addin.server.guard``), which uvicorn builds through its factory.

The server is PolyForm Noncommercial (or xlwings PRO). The key is read from the environment or
a config file — never from code — and a missing key, a missing package, a busy port, a missing
certificate or an unsafe setup stop here with a Chinese message, not a traceback.

Secure by default: listening on anything but this computer (``--host 0.0.0.0``) is refused
unless an access token or an allow-list of client networks is configured, or ``--insecure`` is
given on purpose.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import socket
import sys
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import typer

from addin.cli.app import app, console, fail
from addin.excel.serving import (
    ALLOW_ENV,
    AUTH_PROVIDER,
    DEFAULT_REQUEST_MB,
    MIN_TOKEN_CHARS,
    TOKEN_ENV,
    TOKEN_HASH_ENV,
    REQUEST_MB_ENV,
    ServerSettings,
    SettingError,
    hash_token,
    is_loopback,
    megabytes,
    new_token,
    normalise_origin,
    parse_networks,
    PROXIES_ENV,
)
from addin.excel.transfer import (
    DIR_ENV,
    PUBLIC_URL_ENV,
    TTL_ENV,
    UPLOAD_MB_ENV,
    UPLOAD_TOTAL_MB_ENV,
    TransferFolderError,
    Transfers,
)

PROJECT_DIR = Path(__file__).resolve().parents[1] / "server"
LICENSE_ENV = "XLWINGS_LICENSE_KEY"
CONFIG_ENV = "NIANBAO_CONFIG"
#: The add-in's identity in Office; keep it when upgrading, or Excel sees a new add-in.
MANIFEST_ID = "fbfa995b-7317-4e8d-8fa7-b58b471ddae4"
PROJECT_NAME = "政务公开年报"
SERVER_PIN = "xlwings-server==1.20.0"
#: uvicorn's factory: xlwings Server's app behind our guard.
APP_FACTORY = "addin.server.guard:create_app"
GUIDE = "docs/加载项部署说明.md"


def default_config() -> Path:
    """``%APPDATA%\\nianbao\\serve.toml`` on Windows, ``~/.config/nianbao/serve.toml`` elsewhere."""
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "nianbao" / "serve.toml"
    return Path.home() / ".config" / "nianbao" / "serve.toml"


@dataclass(frozen=True)
class ServeConfig:
    """What the config file may set. Lists are TOML arrays; sizes are MB, the time to live seconds."""

    license_key: str = ""
    certfile: str = ""
    keyfile: str = ""
    hostname: str = ""
    #: Client networks that may use the server, e.g. ["10.1.0.0/16"]; empty: every network.
    allow: tuple[str, ...] = ()
    #: Reverse proxies whose X-Forwarded-For is believed (nobody's by default).
    trusted_proxies: tuple[str, ...] = ()
    #: SHA-256 of the access token (``nianbao serve --new-token`` prints both).
    token_sha256: str = ""
    #: Web origins besides the server's own that may post (Office Scripts, Excel on the web).
    origins: tuple[str, ...] = ()
    #: Other names the clerks' browsers call the server by (a DNS alias, a proxy's public name).
    hosts: tuple[str, ...] = ()
    max_request_mb: str = ""
    upload_max_mb: str = ""
    upload_total_mb: str = ""
    transfer_dir: str = ""
    transfer_ttl: str = ""


_LISTS = frozenset(f.name for f in fields(ServeConfig) if f.type == "tuple[str, ...]")


def load_config(path: Path) -> ServeConfig:
    """Read the TOML config; a missing file is an empty config, a broken one an error."""
    if not path.is_file():
        return ServeConfig()
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        fail(f"配置文件 {path} 格式有误（应为 TOML，如 license_key = \"noncommercial\"）：{exc}")
    known = ServeConfig.__dataclass_fields__
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            continue
        if key in _LISTS:
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(v, str) for v in items):
                fail(f"配置文件 {path} 中 {key} 应为文字列表，如 {key} = [\"10.1.0.0/16\"]。")
            values[key] = tuple(items)
        elif isinstance(value, (dict, list)):
            fail(f"配置文件 {path} 中 {key} 应为一个值，不是列表或表。")
        else:
            values[key] = str(value)
    return ServeConfig(**values)


def server_settings(cfg: ServeConfig) -> ServerSettings:
    """The security settings from the environment (first) and the config file; the token given in
    clear text (``NIANBAO_ACCESS_TOKEN``) is hashed here. Raises ``SettingError`` in Chinese."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token and len(token) < MIN_TOKEN_CHARS:
        raise SettingError(f"访问口令（{TOKEN_ENV}）太短，至少 {MIN_TOKEN_CHARS} 个字符；"
                           "请用 nianbao serve --new-token 生成一个。")
    sha = hash_token(token) if token else (os.environ.get(TOKEN_HASH_ENV, "").strip() or cfg.token_sha256.strip()).lower()
    allow = os.environ[ALLOW_ENV].split(",") if os.environ.get(ALLOW_ENV, "").strip() else cfg.allow
    proxies = os.environ[PROXIES_ENV].split(",") if os.environ.get(PROXIES_ENV, "").strip() else cfg.trusted_proxies
    settings = ServerSettings(
        allow=parse_networks(allow, "allow"),
        trusted_proxies=parse_networks(proxies, "trusted_proxies"),
        token_sha256=sha,
        origins=tuple(normalise_origin(o) for o in cfg.origins if o.strip()),
        hosts=tuple(h.strip().lower() for h in cfg.hosts if h.strip()),
        request_max_bytes=megabytes(os.environ.get(REQUEST_MB_ENV) or cfg.max_request_mb, DEFAULT_REQUEST_MB,
                                    "max_request_mb"))
    return ServerSettings.from_env(settings.to_env())  # the same checks as every worker makes


def transfer_environment(cfg: ServeConfig) -> dict[str, str]:
    """Transfer folder, time to live and upload limits: the environment wins over the config file."""
    env: dict[str, str] = {}
    for name, value in ((DIR_ENV, cfg.transfer_dir), (TTL_ENV, cfg.transfer_ttl), (UPLOAD_MB_ENV, cfg.upload_max_mb),
                        (UPLOAD_TOTAL_MB_ENV, cfg.upload_total_mb)):
        chosen = os.environ.get(name, "").strip() or value.strip()
        if chosen:
            env[name] = chosen
    for name, setting, unit in ((UPLOAD_MB_ENV, "upload_max_mb", "MB"), (UPLOAD_TOTAL_MB_ENV, "upload_total_mb", "MB"),
                                (TTL_ENV, "transfer_ttl", "秒")):
        try:
            if name in env and not float(env[name]) > 0:
                raise ValueError
        except ValueError:
            raise SettingError(f"{setting} 应为正数（单位{unit}），现为“{env[name]}”") from None
    return env


def unsafe_host_message(host: str, config_path: Path) -> str:
    return (
        f"监听地址 {host} 允许其他电脑访问加载项服务，但还没有设置访问控制：任何能连到这台服务器的人都能运行按钮、"
        "上传和下载文件。请至少设置下面一项后再启动：\n"
        f"  1. 访问口令：执行 nianbao serve --new-token 生成口令，把显示的 token_sha256 = \"…\" 一行写入配置文件 "
        f"{config_path}，口令本身通知各单位（任务窗格“访问口令”处填写；VBA 方式写在 RunServerPython 的 auth 参数中）；\n"
        f"  2. 允许访问的网段：在配置文件中写 allow = [\"10.1.0.0/16\"]（各单位电脑所在的网段）。\n"
        f"确实不需要访问控制（例如只有防火墙内的少数电脑能连到这台服务器）时，加 --insecure 启动。详见 {GUIDE}“安全设置”一节。"
    )


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


def open_inbox(config_path: Path, register: Path | None, base: str) -> None:
    """The browser pages read ``[inbox]`` from this config file (``NIANBAO_CONFIG`` reaches every
    worker); ``--units`` imports the register and writes the new units' codes to a printable file
    (``addin.county.inbox``) — the only plain copy of them."""
    from addin.county.inbox import InboxError, load_settings, register_units

    os.environ[CONFIG_ENV] = str(config_path.resolve())
    pages = f"{base}/nianbao/inbox/"
    console.print(f"网上报送（单位）：{pages}  收文与汇总（县政务公开办）：{pages}office", markup=False)
    if register is None:
        return
    if not register.is_file():
        fail(f"找不到单位名单：{register}")
    try:
        issued, codes = register_units(load_settings(config_path), register, pages)
    except InboxError as exc:
        fail(f"无法开通网上报送：{exc}")
    if codes is None:
        console.print("单位名单已导入：各单位都已有报送码，没有生成新的（遗失的请在县政务公开办页面上重置）。", markup=False)
    else:
        console.print(f"已为 {len(issued)} 个单位生成报送码，写在 {codes}：只此一份，请打印后逐单位发放。", markup=False)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址；各单位电脑要访问时用 0.0.0.0（须设置访问口令或允许的网段）"),
    port: int = typer.Option(8000, "--port", help="端口"),
    certfile: Path | None = typer.Option(None, "--certfile", help="HTTPS 证书（PEM）；Office.js 加载项必须用 HTTPS"),
    keyfile: Path | None = typer.Option(None, "--keyfile", help="HTTPS 证书的私钥（PEM）"),
    config: Path | None = typer.Option(None, "--config", help="配置文件（TOML），默认见部署说明"),
    workers: int = typer.Option(1, "--workers", min=1, help="工作进程数（单位多时可加大）"),
    insecure: bool = typer.Option(False, "--insecure", help="不设访问口令和允许的网段也对其他电脑开放（不推荐）"),
    make_token: bool = typer.Option(False, "--new-token", help="生成一个访问口令，显示要写入配置文件的一行，然后退出"),
    units: Path | None = typer.Option(None, "--units", help="单位名单（.xlsx 或 .csv）：开通网上报送，为还没有报送码的单位生成报送码"),
) -> None:
    """启动 Excel 加载项服务（校验、计算合计、清除标记、导出PDF、汇总），供各单位的 Excel 调用。"""
    config_path = config or default_config()
    if make_token:
        token = new_token()
        console.print(f"访问口令（通知各单位，在任务窗格“访问口令”处填写；不要写进配置文件）：\n{token}\n"
                      f"写入配置文件 {config_path} 的一行（只保存口令的摘要）：\ntoken_sha256 = \"{hash_token(token)}\"",
                      soft_wrap=True, markup=False, highlight=False)
        return
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
    try:
        guard = server_settings(cfg)
        transfer = transfer_environment(cfg)
    except SettingError as exc:
        fail(f"配置有误：{exc}（配置文件 {config_path}）")
    other_auth = bool(os.environ.get("XLWINGS_AUTH_PROVIDERS", "").strip(" []\"'"))
    if not is_loopback(host) and not (guard.allow or guard.has_token or other_auth):
        if not insecure:
            fail(unsafe_host_message(host, config_path))
        console.print("[red]警告：以 --insecure 启动，没有访问口令和允许的网段，任何能连到本机的人都能使用加载项服务。[/red]")
    os.environ.update(transfer)
    try:
        Transfers.default().ensure()
    except TransferFolderError as exc:
        fail(str(exc))
    if not _port_free(host, port):
        fail(f"端口 {port} 已被占用（或地址 {host} 不可用）。请用 --port 换一个端口，或先停止占用它的程序。")
    os.environ.update(server_environment(key, cfg))
    os.environ.update(guard.to_env())
    os.environ.pop(TOKEN_ENV, None)  # only the hash goes on to the server
    if guard.has_token and not other_auth:
        os.environ["XLWINGS_AUTH_PROVIDERS"] = f'["{AUTH_PROVIDER}"]'
    try:
        importlib.import_module("xlwings")  # with XLWINGS_ON_SERVER set, this alone checks the key
        importlib.import_module("xlwings.server")
    except Exception as exc:  # xlwings.LicenseError: missing, invalid or expired key
        if type(exc).__name__ != "LicenseError":
            raise
        fail(f"xlwings 许可密钥无效（{exc}）。非商业用途请设置 {LICENSE_ENV}=noncommercial；"
             "xlwings PRO 用户请检查密钥是否完整、是否过期。")
    import uvicorn

    scheme = "https" if cert else "http"
    shown = socket.gethostname() if host in ("0.0.0.0", "::") else host
    console.print(f"加载项服务：{scheme}://{shown}:{port}  加载项清单：{scheme}://{shown}:{port}/manifest")
    os.environ.setdefault(PUBLIC_URL_ENV, f"{scheme}://{shown}:{port}")  # download links in VBA messages
    controls = [("访问口令" if guard.has_token else ""), ("允许的网段 " + "、".join(map(str, guard.allow)) if guard.allow else "")]
    console.print("访问控制：" + ("；".join(c for c in controls if c) or ("无（仅本机可访问）" if is_loopback(host) else "无")),
                  markup=False)
    if not cert:
        console.print("[yellow]未配置 HTTPS 证书：Excel 的 Office.js 加载项只能通过 HTTPS 加载，"
                      "此时只有 VBA 的 RunServerPython 方式可用" + ("，且访问口令以明文传输" if guard.has_token else "")
                      + f"。见 {GUIDE}。[/yellow]")
    open_inbox(config_path, units, f"https://{cfg.hostname}" if cfg.hostname else os.environ[PUBLIC_URL_ENV])
    # proxy_headers=False: uvicorn would otherwise take the client address from X-Forwarded-For
    # of any local peer; the guard believes it only from the configured trusted_proxies.
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, proxy_headers=False,
                ssl_certfile=str(cert) if cert else None, ssl_keyfile=str(private) if private else None,
                log_level="info")
