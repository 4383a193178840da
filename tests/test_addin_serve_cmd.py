"""``nianbao serve`` refuses to start with a Chinese message that says what to do — never a
traceback — when the licence key, the package, the port or the certificate is missing, when it
would be open to other computers without an access token or allow-list, or when its transfer
folder is not private. (Starting for real is covered by test_addin_server.py and
test_server_security.py.)"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import stat
import tempfile
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import addin.cli.serve as cmd_serve
from addin.cli.app import _load_commands, app
from addin.excel.serving import hash_token
from addin.excel.transfer import TransferFolderError, Transfers, ensure_private

_load_commands()  # as ``nianbao`` does: with one command, typer would take "serve" for an argument
runner = CliRunner()
#: A listening address of no interface here (TEST-NET-1): binding fails, so reaching the port
#: check proves that the security checks before it let the start go on — and nothing listens.
ELSEWHERE = "192.0.2.1"


def said(result: object, *needles: str) -> bool:
    """Whether stderr says each needle (rich wraps long lines, so whitespace is ignored)."""
    text = "".join(result.stderr.split())  # type: ignore[attr-defined]
    return all("".join(n.split()) in text for n in needles)


@pytest.fixture(autouse=True)
def no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XLWINGS_LICENSE_KEY", raising=False)
    monkeypatch.setenv("NIANBAO_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("NIANBAO_TRANSFER_DIR", str(tmp_path / "transfer"))
    for name in ("NIANBAO_ALLOW", "NIANBAO_TRUSTED_PROXIES", "NIANBAO_TOKEN_SHA256", "NIANBAO_ACCESS_TOKEN",
                 "NIANBAO_ORIGINS", "NIANBAO_REQUEST_MAX_MB", "XLWINGS_AUTH_PROVIDERS"):
        monkeypatch.delenv(name, raising=False)


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
    for on_server in ("", "true"):  # xlwings-server sets XLWINGS_ON_SERVER; then importing xlwings checks the key
        env = {**os.environ, "XLWINGS_LICENSE_KEY": "not-a-key", "NIANBAO_CONFIG": str(tmp_path / "none.toml"),
               "XLWINGS_ON_SERVER": on_server}
        done = subprocess.run([sys.executable, "-c", "import sys; from addin.cli.app import main; sys.argv[0] = 'nianbao'; main()",
                               "serve", "--port", "0"], capture_output=True, text=True, env=env, timeout=120, check=False)
        assert done.returncode == 2, on_server
        assert "许可密钥无效" in "".join(done.stderr.split()) and "Traceback" not in done.stderr, on_server


def test_server_settings_point_at_our_project() -> None:
    env = cmd_serve.server_environment("noncommercial", cmd_serve.ServeConfig(hostname="nianbao.example.gov.cn"))
    assert Path(env["XLWINGS_PROJECT_DIR"]) == Path(cmd_serve.__file__).parents[1] / "server"
    assert (Path(env["XLWINGS_PROJECT_DIR"]) / "custom_scripts" / "scripts.py").is_file()
    assert env["XLWINGS_LICENSE_KEY"] == "noncommercial" and env["XLWINGS_HOSTNAME"] == "nianbao.example.gov.cn"
    assert env["XLWINGS_MANIFEST_ID_PROD"] == cmd_serve.MANIFEST_ID and env["XLWINGS_ENVIRONMENT"] == "prod"


# ------------------------------------------------------------------------------------------
# Secure by default
# ------------------------------------------------------------------------------------------

def serve_elsewhere(config: Path, *extra: str) -> object:
    return runner.invoke(app, ["serve", "--host", ELSEWHERE, "--port", "8443", "--config", str(config), *extra])


def test_listening_beyond_this_computer_without_access_control_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    config = tmp_path / "serve.toml"
    config.write_text('license_key = "noncommercial"\n', encoding="utf-8")
    for host in ("0.0.0.0", "::", ELSEWHERE, "nianbao.example.gov.cn"):
        result = runner.invoke(app, ["serve", "--host", host, "--config", str(config)])
        assert result.exit_code == 2, host
        assert said(result, "还没有设置访问控制", "nianbao serve --new-token", "token_sha256", "allow = [",
                    "--insecure", str(config)), result.stderr
        assert "Traceback" not in result.output + result.stderr
    # --insecure on purpose: the start goes on (to the port, which is not available here)
    result = serve_elsewhere(config, "--insecure")
    assert result.exit_code == 2 and said(result, "端口 8443 已被占用") and not said(result, "还没有设置访问控制")


def test_an_allow_list_or_a_token_lets_it_listen_beyond_this_computer(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    allowed = tmp_path / "allow.toml"
    allowed.write_text('license_key = "noncommercial"\nallow = ["10.1.0.0/16", "192.168.3.7"]\n', encoding="utf-8")
    assert said(serve_elsewhere(allowed), "端口 8443 已被占用")
    hashed = tmp_path / "token.toml"
    hashed.write_text(f'license_key = "noncommercial"\ntoken_sha256 = "{hash_token("x" * 43)}"\n', encoding="utf-8")
    assert said(serve_elsewhere(hashed), "端口 8443 已被占用")
    plain = tmp_path / "plain.toml"
    plain.write_text('license_key = "noncommercial"\n', encoding="utf-8")
    monkeypatch.setenv("NIANBAO_ACCESS_TOKEN", "y" * 43)
    assert said(serve_elsewhere(plain), "端口 8443 已被占用")
    monkeypatch.setenv("NIANBAO_ACCESS_TOKEN", "short")
    result = serve_elsewhere(plain)
    assert result.exit_code == 2 and said(result, "访问口令", "太短", "--new-token")


def test_settings_that_cannot_be_used_are_named_in_chinese(tmp_path: Path) -> None:
    cases = {'allow = ["10.1.0.0/33"]': "不是网段", 'allow = "everyone"': "不是网段",
             'token_sha256 = "abc"': "64 位十六进制", "max_request_mb = -1": "max_request_mb", 'allow = [1]': "文字列表",
             'upload_total_mb = "lots"': "upload_total_mb", "transfer_ttl = 0": "transfer_ttl"}
    for line, needle in cases.items():
        config = tmp_path / "serve.toml"
        config.write_text(f'license_key = "noncommercial"\n{line}\n', encoding="utf-8")
        result = serve_elsewhere(config)
        assert result.exit_code == 2 and said(result, needle) and "Traceback" not in result.stderr, line


def test_new_token_prints_a_token_and_the_line_that_keeps_only_its_hash(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--new-token", "--config", str(tmp_path / "serve.toml")])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    token = lines[1].strip()
    assert len(token) >= 40 and token not in lines[3]
    assert lines[3] == f'token_sha256 = "{hashlib.sha256(token.encode()).hexdigest()}"'
    second = runner.invoke(app, ["serve", "--new-token", "--config", str(tmp_path / "serve.toml")])
    assert second.output.splitlines()[1].strip() != token
    assert not (tmp_path / "serve.toml").exists()  # printed, never written for IT


# ------------------------------------------------------------------------------------------
# The transfer folder
# ------------------------------------------------------------------------------------------

def test_the_transfer_folder_is_private_and_lives_in_the_users_cache(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    monkeypatch.delenv("NIANBAO_TRANSFER_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    store = Transfers.default()
    assert store.root == tmp_path / "cache" / "nianbao" / "transfer"
    assert not str(store.root).startswith(tempfile.gettempdir() + "/nianbao-addin")
    token, target = store.new_download("报告.pdf")
    for folder in (store.root, store.root / "downloads", target.parent):
        assert stat.S_IMODE(os.lstat(folder).st_mode) == 0o700, folder
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    ensure_private(loose)
    assert stat.S_IMODE(os.lstat(loose).st_mode) == 0o700  # ours: tightened, not refused


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="所有者与权限检查只在 POSIX 系统上进行")
def test_a_swapped_or_foreign_transfer_folder_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    link = tmp_path / "nianbao-addin"
    link.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(TransferFolderError, match="符号链接"):
        Transfers(link).new_download("a.pdf")
    assert list(elsewhere.iterdir()) == []  # nothing written through the link
    monkeypatch.setenv("NIANBAO_TRANSFER_DIR", str(link))
    monkeypatch.setenv("XLWINGS_LICENSE_KEY", "noncommercial")
    result = runner.invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 2 and said(result, "符号链接", "transfer_dir")
    if os.geteuid() != 0:
        pytest.skip("把文件夹交给其他用户需要 root 权限")
    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, 65534, 65534)
    with pytest.raises(TransferFolderError, match="属于其他用户"):
        ensure_private(foreign)
