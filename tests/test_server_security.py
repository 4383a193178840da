"""The add-in server as an attacker on the county's network sees it (issue 10, the server's items).

Real ``nianbao serve`` processes on 127.0.0.1, requests sent raw (a socket, like ``curl
--path-as-is``) so that no client library tidies a hostile path first. Where a decision depends
on something only another computer could produce — a peer address outside 127.0.0.1, a reverse
proxy's ``X-Forwarded-For`` — the guard middleware is called in process with a crafted ASGI scope
instead, and the test says so.

Each test here failed on the server before the guard (xlwings-server 1.20.0's static lookup
served ``/static/%2e%2e/…/etc/passwd``; everything was anonymous; bodies had no limit; a script
ran on the event loop; NaN read as a blank; the download 404 blamed a restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import io
import json
import logging
import os
import re
import socket
import statistics
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from addin_support import NO_BROWSER, Served, find_browser, headless_dom, require_xlwings_server, serving

require_xlwings_server()

from openpyxl.utils import get_column_letter  # noqa: E402

from addin.excel.payload import build_payload  # noqa: E402
from addin.excel.serving import ServerSettings, parse_networks  # noqa: E402
from addin.excel.transfer import Transfers  # noqa: E402
from addin.server import guard  # noqa: E402
from workbook.build import write_report  # noqa: E402
from workbook.layout import layout_for  # noqa: E402
from workbook.samples import county_units, fake_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "addin" / "server" / "static"
TOKEN = "t0ken-for-the-tests-" + "x" * 24
VALIDATE = "/xlwings/custom-scripts-call/validate"
JSON = {"Content-Type": "application/json"}
MB = 1024 * 1024


# ------------------------------------------------------------------------------------------
# Raw HTTP
# ------------------------------------------------------------------------------------------

def raw(port: int, method: str, target: bytes | str, headers: dict[str, str] | None = None,
        body: bytes = b"", timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    """One request written byte for byte on a socket (the path exactly as given); (status, headers, body)."""
    target = target.encode("latin-1") if isinstance(target, str) else target
    head = [method.encode() + b" " + target + b" HTTP/1.1", b"Connection: close"]
    if not any(k.lower() == "host" for k in (headers or {})):
        head.append(b"Host: 127.0.0.1:%d" % port)
    for k, v in (headers or {}).items():
        head.append(f"{k}: {v}".encode("latin-1"))
    if body or method == "POST":
        head.append(b"Content-Length: %d" % len(body))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    header_block, _, payload = rest.partition(b"\r\n\r\n")
    fields = dict(line.decode("latin-1").split(": ", 1) for line in header_block.split(b"\r\n") if b": " in line)
    return int(status_line.split()[1]), {k.lower(): v for k, v in fields.items()}, payload


def detail(body: bytes) -> str:
    return str(json.loads(body)["detail"])


def multipart(files: list[tuple[str, bytes]], mtimes: str = "[]") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [(f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
              "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n" for name, data in files]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="mtimes"\r\n\r\n{mtimes}\r\n--{boundary}--\r\n'.encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload(served: Served, files: list[tuple[str, bytes]], headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    body, kind = multipart(files, json.dumps([0] * len(files)))
    status, _, answer = raw(served.port, "POST", "/nianbao/upload", {"Content-Type": kind, **(headers or {})}, body, 120)
    return status, answer


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


# ------------------------------------------------------------------------------------------
# Servers and workbooks
# ------------------------------------------------------------------------------------------

LICENSE = 'license_key = "noncommercial"\n'


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The default: loopback only, no token, no allow-list."""
    with serving(tmp_path_factory.mktemp("open"), clean_log=False) as served:
        yield served


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """An access token configured the recommended way: only its SHA-256 in the config file."""
    config = LICENSE + f'token_sha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"\n'
    with serving(tmp_path_factory.mktemp("token"), config=config) as served:
        yield served


@pytest.fixture(scope="module")
def unit_book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    unit = county_units(2026)[2]
    return write_report(fake_report(unit, 2026, 11, frozenset()), tmp_path_factory.mktemp("books") / f"{unit.name}.xlsx")


@pytest.fixture(scope="module")
def payload_bytes(unit_book: Path) -> bytes:
    return json.dumps(build_payload(unit_book, "VBA")).encode()


def padded(unit_book: Path, megabytes: float) -> bytes:
    """A real unit's payload plus a sheet of numbers: about ``megabytes`` of workbook to check."""
    payload = build_payload(unit_book, "Office.js")
    width = 200
    rows = int(megabytes * MB / 9 / width)  # "123456.0," is 9 bytes
    payload["sheets"].append(dict(payload["sheets"][-1], name="附表", values=[[123456.0] * width for _ in range(rows)]))
    return json.dumps(payload).encode()


# ------------------------------------------------------------------------------------------
# 1. Path traversal
# ------------------------------------------------------------------------------------------

def spellings(target: str) -> list[bytes]:
    """``target`` (a path relative to the static folder) in every spelling of traversal."""
    up = target.count("../")
    rest = target.replace("../", "")
    plain = "/static/" + target
    return [s.encode("latin-1") for s in (
        plain,
        "/static/" + "%2e%2e/" * up + rest,
        "/static/" + "%2E%2E%2F" * up + rest.replace("/", "%2F"),
        "/static/" + "..%2f" * up + rest.replace("/", "%2f"),
        "/static/" + ".%2e/" * up + rest,
        "/static/" + "..\\" * up + rest.replace("/", "\\"),
        "/static/" + "..%5c" * up + rest.replace("/", "%5c"),
        "/static/" + "%252e%252e/" * up + rest,  # double encoding
        "/static/" + "%252e%252e%252f" * up + rest,
        "/static/js/" + "../" * (up + 1) + rest,
        "/static//" + rest,
    )] + [b"/static/" + b"../" * up + rest.encode() + b"\x00.png", b"/static/%00/../" + b"../" * up + rest.encode()]


def test_no_spelling_of_traversal_reads_a_file_outside_static(open_server: Served) -> None:
    root = open_server.log.parent
    secret = "root:x:0:0"
    targets = {"../" * 12 + "etc/passwd": secret,
               "../" * 12 + "proc/self/environ": "XLWINGS_LICENSE_KEY",
               os.path.relpath(root / "serve.toml", STATIC): "noncommercial",
               os.path.relpath(open_server.log, STATIC): "Uvicorn running"}
    for target, needle in targets.items():
        for path in spellings(target.replace(os.sep, "/")):
            status, _, body = raw(open_server.port, "GET", path)
            assert status in (400, 404), (path, status)
            assert needle.encode() not in body, path
    for absolute in (b"/static/%2fetc%2fpasswd", b"/static//etc/passwd", b"/static/%2Fproc%2Fself%2Fenviron"):
        status, _, body = raw(open_server.port, "GET", absolute)
        assert status in (400, 404) and secret.encode() not in body and b"XLWINGS" not in body, absolute


def test_static_files_are_still_served_ours_first(open_server: Served) -> None:
    status, _, body = raw(open_server.port, "GET", "/static/js/auth.js")
    assert status == 200 and "政务公开年报".encode() in body  # ours overrides xlwings' auth.js
    status, _, body = raw(open_server.port, "GET", "/static/js/config.js")
    assert status == 200 and b"configElement" in body  # only in the package: falls back to it
    status, _, _ = raw(open_server.port, "GET", "/static/js/no-such-file.js")
    assert status == 404


def test_contained_static_files_never_leave_their_folders(tmp_path: Path) -> None:
    """In process, the lookup itself (behind the guard, which refuses these spellings earlier).
    xlwings' own lookup is not imported here: importing ``xlwings_server.main`` changes this
    process's environment for every later test; the HTTP test above shows what it did."""
    user, package, outside = tmp_path / "user", tmp_path / "package", tmp_path / "outside"
    for folder in (user, package, outside):
        folder.mkdir()
    (user / "app.js").write_text("ours")
    (package / "app.js").write_text("theirs")
    (package / "only.js").write_text("package")
    (outside / "secret.txt").write_text("secret")
    (user / "link").symlink_to(outside, target_is_directory=True)
    (user / "linkfile").symlink_to(outside / "secret.txt")
    contained = guard.ContainedStaticFiles([user, package])
    assert Path(contained.lookup_path("app.js")[0]).read_text() == "ours"
    assert Path(contained.lookup_path("only.js")[0]).read_text() == "package"
    hostile = ["../outside/secret.txt", "js/../../outside/secret.txt", str(outside / "secret.txt"), "..\\outside\\secret.txt",
               "app.js\x00", "link/secret.txt", "linkfile", "~/secret.txt", "", "."]
    for path in hostile:
        assert contained.lookup_path(path) == ("", None), path


def test_the_guard_knows_every_spelling_of_traversal() -> None:
    bad = ["/static/../x", "/static/%2e%2e/x", "/static/%2E%2e/x", "/static/..%2fx", "/static/x%2f..", "/a\\b",
           "/a%5cb", "/a%00b", "/a/%252e%252e/b", "/a//b", "/a/./b", "/a/%2e/b", "/a/b/..", "/a\x01b"]
    for path in bad:
        raw_path = path.encode("latin-1")
        decoded = urllib.parse.unquote(path)
        assert guard.traversal(raw_path, decoded), path
    good = ["/", "/manifest", "/static/js/auth.js", "/nianbao/download/AbC-_0123456789abcdefghijkl", "/static/css/",
            "/xlwings/custom-scripts-call/validate", "/%E6%94%BF%E5%8A%A1"]
    for path in good:
        assert not guard.traversal(path.encode(), urllib.parse.unquote(path)), path


# ------------------------------------------------------------------------------------------
# Tokens out of the logs; the 404 text
# ------------------------------------------------------------------------------------------

def test_download_and_upload_tokens_never_reach_the_log(open_server: Served) -> None:
    store = Transfers(open_server.log.parent / "transfer")
    token, target = store.new_download("某单位年报.pdf")
    target.write_bytes(b"%PDF-1.7 test")
    status, headers, body = raw(open_server.port, "GET", f"/nianbao/download/{token}")
    assert status == 200 and body == b"%PDF-1.7 test" and "attachment" in headers["content-disposition"]
    status, answer = upload(open_server, [("a.xlsx", b"PK\x03\x04 not really")])
    assert status == 200
    batch = json.loads(answer)["batch"]
    raw(open_server.port, "GET", f"/nianbao/download/{batch}")  # a forged use of the batch token
    raw(open_server.port, "GET", f"/manifest?batch={batch}")
    time.sleep(0.3)
    log = open_server.log.read_text(encoding="utf-8")
    assert token not in log and batch not in log
    assert "/nianbao/download/*** HTTP/1.1" in log and "--- Logging error ---" not in log


def test_redaction_keeps_uvicorn_access_lines_whole() -> None:
    from uvicorn.logging import AccessFormatter

    access, plain = io.StringIO(), io.StringIO()
    handlers = [logging.StreamHandler(access), logging.StreamHandler(plain)]
    handlers[0].setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False))
    for handler, name in zip(handlers, ("test.access", "test.other")):
        handler.addFilter(guard.RedactTokens())
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).propagate = False
        logging.getLogger(name).setLevel(logging.INFO)
    secret = "Zq3k9-pL_0aa1bb2cc3dd4ee5ff6gg7h"
    try:
        logging.getLogger("test.access").info('%s - "%s %s HTTP/%s" %d', "10.1.2.3:5000", "GET",
                                              f"/nianbao/download/{secret}", "1.1", 200)
        logging.getLogger("test.other").warning("failed to remove /srv/transfer/uploads/%s/a.xlsx", secret)
        logging.getLogger("test.other").warning('consolidate {"batch": "%s"}', secret)
    finally:
        for handler, name in zip(handlers, ("test.access", "test.other")):
            logging.getLogger(name).removeHandler(handler)
    assert '10.1.2.3:5000 - "GET /nianbao/download/*** HTTP/1.1" 200' in access.getvalue()
    assert secret not in access.getvalue() + plain.getvalue()
    assert "uploads/***/a.xlsx" in plain.getvalue() and '"batch": "***"' in plain.getvalue()


def test_an_expired_download_says_why_without_blaming_a_restart(open_server: Served) -> None:
    status, _, body = raw(open_server.port, "GET", "/nianbao/download/" + "A" * 32)
    text = body.decode("utf-8")
    assert status == 404 and "重启" not in text and "自动删除" in text and "1 小时" in text


# ------------------------------------------------------------------------------------------
# 2. Authentication and the network allow-list
# ------------------------------------------------------------------------------------------

def test_with_a_token_configured_every_script_and_upload_needs_it(token_server: Served, payload_bytes: bytes) -> None:
    status, _, body = raw(token_server.port, "POST", VALIDATE, JSON, payload_bytes)
    assert status == 401 and "需要访问口令" in detail(body)
    status, _, body = raw(token_server.port, "POST", VALIDATE, {**JSON, "Authorization": "Bearer wrong-" + TOKEN}, payload_bytes)
    assert status == 401 and "不正确" in detail(body)
    for auth in (f"Bearer {TOKEN}", TOKEN):  # the task pane sends Bearer; VBA's auth:= the bare token
        status, _, body = raw(token_server.port, "POST", VALIDATE, {**JSON, "Authorization": auth}, payload_bytes)
        assert status == 200 and json.loads(body)["actions"], auth
    status, answer = upload(token_server, [("a.xlsx", b"x")])
    assert status == 401 and not (token_server.log.parent / "transfer" / "uploads").exists()
    status, answer = upload(token_server, [("a.xlsx", b"x")], {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and json.loads(answer)["files"] == 1


def test_the_add_in_still_loads_before_the_clerk_types_the_token(token_server: Served, open_server: Served) -> None:
    for path in ("/manifest", "/taskpane.html", "/static/js/auth.js", "/static/images/icons/nianbao-32.png"):
        assert raw(token_server.port, "GET", path)[0] == 200, path
    pane = raw(token_server.port, "GET", "/taskpane.html")[2].decode("utf-8")
    assert 'id="nb-token"' in pane and "访问口令" in pane and '"authProviders": ["nianbao"]' in pane
    assert 'id="nb-token"' not in raw(open_server.port, "GET", "/taskpane.html")[2].decode("utf-8")


TOKEN_DRIVER = """
window.addEventListener("load", async () => {
  const out = { errors: [] };
  try {
    out.before = await globalThis.getAuth();
    document.getElementById("nb-token").value = "  typed-by-the-clerk-0123456789  ";
    document.getElementById("nb-token-save").click();
    out.status = document.getElementById("nb-token-status").textContent;
    out.cleared = document.getElementById("nb-token").value === "";
    out.after = await globalThis.getAuth();
  } catch (error) {
    out.errors.push(String(error));
  }
  document.body.setAttribute("data-nb", JSON.stringify(out));
});
"""


def test_the_task_pane_keeps_the_token_and_sends_it_as_bearer(token_server: Served, tmp_path: Path) -> None:
    """The served task pane in headless Chromium with the server's own config, auth.js and
    nianbao.js (Office.js and xlwings' client only run inside Excel and are left out): the clerk
    saves the token once, and ``getAuth`` — what the ribbon, the buttons and the upload send —
    answers it as a Bearer token for the ``nianbao`` provider."""
    import html as html_lib

    browser = find_browser()
    if browser is None:
        pytest.skip(NO_BROWSER)
    served = raw(token_server.port, "GET", "/taskpane.html")[2].decode("utf-8")
    config = re.search(r'<script id="config" type="application/json">(.*?)</script>', served, re.DOTALL).group(1)
    page = re.sub(r"<script\b[^>]*>.*?</script>", "", served, flags=re.DOTALL)
    page = page.replace("</body>", f"<script>globalThis.config = {config.strip()};</script>"
                        f'<script src="{token_server.url}/static/js/auth.js"></script>'
                        f'<script src="{token_server.url}/static/js/nianbao.js"></script>'
                        f"<script>{TOKEN_DRIVER}</script></body>")
    (tmp_path / "pane.html").write_text(page, encoding="utf-8")
    done = headless_dom(browser, tmp_path / "pane.html", tmp_path / "profile")
    assert "Uncaught" not in done.stderr, done.stderr
    state = json.loads(html_lib.unescape(re.search(r'data-nb="([^"]*)"', done.stdout).group(1)))
    assert state["errors"] == []
    assert state["before"] == {"token": "", "provider": "nianbao"}
    assert state["after"] == {"token": "Bearer typed-by-the-clerk-0123456789", "provider": "nianbao"}
    assert state["status"] == "已保存访问口令。" and state["cleared"]


def test_a_client_outside_the_allow_list_is_refused(tmp_path: Path) -> None:
    """The real server refuses this test's own address, 127.0.0.1, when it is not in ``allow``."""
    with serving(tmp_path, config=LICENSE + 'allow = ["10.9.0.0/16"]\n') as served:
        for method, path in (("GET", "/manifest"), ("GET", "/static/js/auth.js"), ("POST", VALIDATE)):
            status, _, body = raw(served.port, method, path, JSON, b"{}" if method == "POST" else b"")
            assert status == 403 and "不在允许范围内" in detail(body) and "127.0.0.1" in detail(body), path


class Recorder:
    """An inner ASGI app that answers 200 and remembers that it was reached."""

    def __init__(self) -> None:
        self.reached = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.reached += 1
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def call(app: Any, scope: dict[str, Any], chunks: list[bytes] | None = None) -> tuple[int, bytes]:
    """Drive an ASGI app with a crafted scope; (status, body)."""
    pending = list(chunks or [b""])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            body = pending.pop(0)
            return {"type": "http.request", "body": body, "more_body": bool(pending)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def scope(peer: str | None, path: str = "/manifest", method: str = "GET", headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
            "client": (peer, 50000) if peer else None,
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {"host": "127.0.0.1:8000"}).items()]}


def test_the_guard_decides_on_the_peer_address_not_on_what_the_client_claims() -> None:
    """Crafted ASGI scopes: only 127.0.0.1 is reachable in this test environment, so the
    addresses of other clients and of a reverse proxy are given to the middleware directly."""
    allow = ServerSettings(allow=parse_networks(["10.9.0.0/16"], "allow"))
    cases = [("10.9.3.4", {}, True), ("10.8.0.1", {}, False), ("::ffff:10.9.3.4", {}, True), ("2001:db8::1", {}, False),
             ("10.8.0.1", {"x-forwarded-for": "10.9.3.4"}, False),  # no trusted proxy: the header is ignored
             (None, {}, True)]  # a Unix socket: this computer
    for peer, extra, allowed in cases:
        inner = Recorder()
        status, body = call(guard.Guard(inner, allow), scope(peer, headers={"host": "127.0.0.1:8000", **extra}))
        assert (status == 200) == allowed and inner.reached == allowed, (peer, extra)
        if not allowed:
            assert "不在允许范围内" in json.loads(body)["detail"]
    proxied = ServerSettings(allow=allow.allow, trusted_proxies=parse_networks(["127.0.0.1"], "trusted_proxies"))
    for forwarded, allowed in (("10.9.3.4", True), ("10.8.0.1", False),
                               ("10.9.3.4, 10.8.0.1", False),  # the client wrote the left part itself
                               ("10.8.0.1, 10.9.3.4, 127.0.0.1", True), ("", False)):
        status, _ = call(guard.Guard(Recorder(), proxied), scope("127.0.0.1", headers={"host": "127.0.0.1:8000", "x-forwarded-for": forwarded}))
        assert (status == 200) == allowed, forwarded


def test_a_request_by_a_name_that_is_not_the_servers_is_refused(open_server: Served) -> None:
    """DNS rebinding: a page at evil.example that points its name at this server makes the clerk's
    browser send ``Host: evil.example``. Refused on every route (also pages that take no token),
    before anything else runs; an address, a loopback name or a configured name is answered."""
    for method, path in (("GET", "/manifest"), ("POST", "/nianbao/inbox/check"), ("GET", "/static/js/nianbao.js")):
        status, _, body = raw(open_server.port, method, path, {"Host": "evil.example:%d" % open_server.port,
                                                                "Origin": "http://evil.example:%d" % open_server.port}, b"")
        assert status == 421 and "hosts" in detail(body), path
    for host in (f"127.0.0.1:{open_server.port}", f"localhost:{open_server.port}", f"[::1]:{open_server.port}"):
        status, _, _ = raw(open_server.port, "GET", "/manifest", {"Host": host}, b"")
        assert status == 200, host


def test_configured_host_names_and_origins_are_answered() -> None:
    request = scope("10.1.2.3", headers={"host": "nianbao.county.gov.cn"})
    assert call(guard.Guard(Recorder(), ServerSettings()), request)[0] == 421
    assert call(guard.Guard(Recorder(), ServerSettings(hosts=("nianbao.county.gov.cn",))), request)[0] == 200
    assert call(guard.Guard(Recorder(), ServerSettings(origins=("https://nianbao.county.gov.cn",))), request)[0] == 200
    assert call(guard.Guard(Recorder(), ServerSettings()), scope("10.1.2.3", headers={"host": "10.1.0.9:8000"}))[0] == 200


# ------------------------------------------------------------------------------------------
# 3. Cross-site posts
# ------------------------------------------------------------------------------------------

def test_a_form_posted_by_another_web_page_is_refused(open_server: Served, payload_bytes: bytes) -> None:
    own = f"http://127.0.0.1:{open_server.port}"
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": f"http://127.0.0.1:{open_server.port + 1}"}):
        status, _, body = raw(open_server.port, "POST", VALIDATE, {**JSON, **headers}, payload_bytes)
        assert status == 403 and "拒绝来自其他网页的提交" in detail(body), headers
        form = f"bookData={urllib.parse.quote(payload_bytes.decode())}".encode()
        status, _, _ = raw(open_server.port, "POST", VALIDATE, {"Content-Type": "application/x-www-form-urlencoded",
                                                                 **headers}, form)
        assert status == 403, headers
    uploads = open_server.log.parent / "transfer" / "uploads"
    before = set(uploads.iterdir()) if uploads.exists() else set()
    status, _ = upload(open_server, [("a.xlsx", b"x")], {"Origin": "http://evil.example"})
    assert status == 403 and (set(uploads.iterdir()) if uploads.exists() else set()) == before
    for headers in ({}, {"Origin": own}, {"Origin": own.replace("http:", "https:")}, {"Sec-Fetch-Site": "same-origin"}):
        status, _, _ = raw(open_server.port, "POST", VALIDATE, {**JSON, **headers}, payload_bytes)
        assert status == 200, headers  # VBA sends no Origin; the task pane is the server's own origin


def test_configured_origins_may_post(monkeypatch: pytest.MonkeyPatch) -> None:
    """Office Scripts run on Microsoft's domains: IT lists them in ``origins`` (or xlwings' CORS setting)."""
    settings = ServerSettings(origins=("https://excel.officeapps.live.com",))
    post = scope("127.0.0.1", "/xlwings/custom-scripts-call/validate", "POST",
                 {"host": "127.0.0.1:8000", "origin": "https://excel.officeapps.live.com"})
    assert call(guard.Guard(Recorder(), settings), post)[0] == 200
    assert call(guard.Guard(Recorder(), ServerSettings()), post)[0] == 403
    monkeypatch.setenv("XLWINGS_CORS_ALLOW_ORIGINS", '["https://excel.officeapps.live.com"]')
    assert call(guard.Guard(Recorder(), ServerSettings()), post)[0] == 200


# ------------------------------------------------------------------------------------------
# 4. Denial of service: body sizes, quota, the timer, the event loop, memory
# ------------------------------------------------------------------------------------------

def declared_only(port: int, path: str, size: int, kind: str = "application/json",
                  start: bytes = b'{"client": "VBA"') -> tuple[int, str, float]:
    """A request that announces ``size`` bytes and sends a few: the answer must not wait for the rest."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    t = time.perf_counter()
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", kind)
        conn.putheader("Content-Length", str(size))
        conn.endheaders(start)
        answer = conn.getresponse()
        return answer.status, detail(answer.read()), time.perf_counter() - t
    finally:
        conn.close()


def streamed(port: int, path: str, total: int) -> int:
    """A body sent chunked, without Content-Length, up to ``total`` bytes or until the server answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        piece = b"[" + b"1," * (MB // 2 - 1) + b"1]"
        with contextlib.suppress(OSError):
            for _ in range(total // len(piece)):
                conn.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
            conn.send(b"0\r\n\r\n")
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


def test_every_route_limits_the_body_before_reading_it(open_server: Served) -> None:
    for path in (VALIDATE, "/xlwings/custom-functions-call", "/nianbao/no-such-route", "/manifest"):
        status, text, took = declared_only(open_server.port, path, 200 * MB)
        assert status == 413 and "超过服务器允许的 16 MB" in text and took < 5, path
    assert streamed(open_server.port, VALIDATE, 40 * MB) == 413  # counted without a Content-Length
    status, answer = upload(open_server, [("big.xlsx", os.urandom(20 * MB))])  # uploads keep their own limit
    assert status == 200 and json.loads(answer)["files"] == 1
    for body in (b"[" * 100_000, b"[]", b'"text"', b"\xff\xfe"):
        status, _, answer = raw(open_server.port, "POST", VALIDATE, JSON, body)
        assert status == 400 and "JSON" in detail(answer), body[:10]


def test_uploads_share_a_quota_and_expired_ones_are_swept_on_a_timer(tmp_path: Path) -> None:
    env = {"NIANBAO_UPLOAD_TOTAL_MB": "3", "NIANBAO_TRANSFER_TTL": "2"}
    with serving(tmp_path, env) as served:
        status, answer = upload(served, [("a.xlsx", os.urandom(2 * MB))])
        assert status == 200
        first = tmp_path / "transfer" / "uploads" / json.loads(answer)["batch"]
        assert first.is_dir()
        # refused from its Content-Length, before any of it is read or stored
        status, text, _ = declared_only(served.port, "/nianbao/upload", 2 * MB, "multipart/form-data; boundary=x", b"--x\r\n")
        assert status == 507 and "已达上限" in text and "upload_total_mb" in text
        store = Transfers(tmp_path / "transfer")
        token, target = store.new_download("x.pdf")
        target.write_bytes(b"%PDF")
        deadline = time.monotonic() + 15
        while (first.exists() or target.exists()) and time.monotonic() < deadline:
            time.sleep(0.2)  # no request is made meanwhile: the server's timer must do it
        assert not first.exists() and not target.exists()
        status, _ = upload(served, [("c.xlsx", os.urandom(2 * MB))])
        assert status == 200


def test_every_script_runs_off_the_event_loop() -> None:
    import inspect

    import importlib

    scripts = importlib.import_module("addin.server.custom_scripts.scripts")

    names = [n for n, f in vars(scripts).items() if hasattr(f, "__xlscript__")]
    assert names and all(inspect.iscoroutinefunction(getattr(scripts, n)) for n in names)
    source = Path(scripts.__file__).read_text(encoding="utf-8")
    assert source.count("await asyncio.to_thread(") == len(names)


def test_the_server_keeps_answering_during_an_attack_and_gives_its_memory_back(tmp_path: Path, unit_book: Path,
                                                                             payload_bytes: bytes) -> None:
    heavy = padded(unit_book, 8)
    huge = b'{"client": "VBA", "sheets": [' + b'{"values": [[1.0]]},' * (6 * MB) + b'{}]}'  # ~120 MB
    with serving(tmp_path) as served:
        for _ in range(3):  # warm: the first clicks load pandas, the specs, the checks
            assert raw(served.port, "POST", VALIDATE, JSON, payload_bytes)[0] == 200
        before = rss_mb(served.proc.pid)
        times: list[float] = []
        stop = threading.Event()

        def probe() -> None:
            while not stop.is_set():
                t = time.perf_counter()
                with urllib.request.urlopen(served.url + "/manifest", timeout=60) as r:
                    r.read()
                times.append(time.perf_counter() - t)
                time.sleep(0.05)

        statuses: list[int] = []
        lock = threading.Lock()

        def hit(fn: Any, *args: Any) -> None:
            got = fn(*args)
            with lock:
                statuses.append(got)

        def send_huge() -> int:
            try:
                return raw(served.port, "POST", VALIDATE, JSON, huge, timeout=120)[0]
            except OSError:
                return 413  # the server answered and closed while the body was still going out

        attacks = [threading.Thread(target=hit, args=(send_huge,)),
                   threading.Thread(target=hit, args=(streamed, served.port, VALIDATE, 40 * MB))]
        attacks += [threading.Thread(target=hit, args=(lambda: upload(served, [("u.xlsx", os.urandom(20 * MB))])[0],))
                     for _ in range(4)]
        attacks += [threading.Thread(target=hit, args=(lambda: raw(served.port, "POST", VALIDATE, JSON, heavy, 120)[0],))
                    for _ in range(3)]
        prober = threading.Thread(target=probe)
        prober.start()
        for thread in attacks:
            thread.start()
        for thread in attacks:
            thread.join()
        stop.set()
        prober.join()
        time.sleep(3)
        after = rss_mb(served.proc.pid)
    print(f"/manifest during the attack: slowest {max(times):.3f} s, median {statistics.median(times):.4f} s, "
          f"{len(times)} probes; server memory {before:.0f} MB before, {after:.0f} MB after")
    assert sorted(statuses) == [200] * 7 + [413] * 2, statuses
    assert len(times) >= 10 and max(times) < 1.5 and statistics.median(times) < 0.2, (max(times), statistics.median(times))
    assert after < before + 100, (before, after)


# ------------------------------------------------------------------------------------------
# 5. Numbers no report can hold
# ------------------------------------------------------------------------------------------

def test_nan_infinity_and_absurd_numbers_become_findings(open_server: Served, unit_book: Path) -> None:
    lay = layout_for("2021")
    sheet = lay.edition.table("part3").sheet
    payload = build_payload(unit_book, "Office.js")
    grid = next(s for s in payload["sheets"] if s["name"] == sheet)["values"]
    planted = {"part3.main.new.natural": float("nan"), "part3.main.new.business": float("inf"),
               "part3.main.new.research": 1e308, "part3.main.new.legal": 3e13}
    cells = {}
    for cid, value in planted.items():
        r, c = lay.tables["part3"].cells[cid]
        grid[r][c] = value
        cells[f"{get_column_letter(c + 1)}{r + 1}"] = value
    body = json.dumps(payload).encode()  # NaN, Infinity, 1e+308 as Python's JSON writes them
    assert b"NaN" in body and b"Infinity" in body
    status, _, answer = raw(open_server.port, "POST", VALIDATE, JSON, body)
    assert status == 200
    actions = json.loads(answer)["actions"]
    shown = next(a for a in actions if a["func"] == "runMacro" and a["args"][0] == "nbShowFindings")
    findings = json.loads(shown["args"][1])["findings"]
    for cell, value in cells.items():
        mine = [f for f in findings if f["sheet"] == sheet and f["cell"] == cell]
        assert any(f["severity"] == "hard" for f in mine), (cell, value, mine)
        text = {"nan": "NaN", "inf": "Infinity"}.get(str(value), f"{value:g}")
        assert any(f"“{text}”" in f["message"] for f in mine), (cell, mine)


# ------------------------------------------------------------------------------------------
# 6. The add-in's own face
# ------------------------------------------------------------------------------------------

def test_manifest_download_title_and_icons_are_the_add_ins_own(open_server: Served) -> None:
    import importlib.util

    from PIL import Image

    spec = importlib.util.find_spec("xlwings_server")  # located, not imported (its import sets env vars)
    PACKAGE_DIR = Path(list(spec.submodule_search_locations)[0])

    status, headers, body = raw(open_server.port, "GET", "/manifest/download")
    disposition = headers["content-disposition"]
    assert status == 200 and "-prod.xml" not in disposition and 'filename="nianbao-addin-manifest.xml"' in disposition
    assert urllib.parse.quote("政务公开年报") in disposition and body.startswith(b"<?xml")
    manifest = body.decode("utf-8")
    icons = re.findall(r'(?:DefaultValue)="[^"]*(/static/images/icons/[^"]+\.png)"', manifest)
    assert icons and not any("xlwings" in i for i in icons)
    stock = {p.read_bytes() for p in (PACKAGE_DIR / "static" / "images" / "icons").glob("*.png")}
    for path in set(icons):
        status, _, png = raw(open_server.port, "GET", path)
        size = int(re.search(r"-(\d+)\.png$", path).group(1))
        assert status == 200 and png not in stock and Image.open(io.BytesIO(png)).size == (size, size), path
    for size in (16, 32, 64, 80):
        assert f"/static/images/icons/nianbao-{size}.png" in icons
    pane = raw(open_server.port, "GET", "/taskpane.html")[2].decode("utf-8")
    assert re.search(r"<title>\s*政务公开年报\s*</title>", pane) and "Task pane" not in pane
