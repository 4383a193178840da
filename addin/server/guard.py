"""The add-in server as ``nianbao serve`` runs it: xlwings Server's app behind our guard.

Why a wrapper rather than settings of xlwings Server: the pinned xlwings-server (1.20.0, the newest
on PyPI) serves ``/static`` through a lookup that joins the project folder with the raw request
path, so ``GET /static/%2e%2e/%2e%2e/etc/passwd`` returned any file the service could read — its
log with other units' download tokens included. It has no network allow-list, no limit on a
request's size, and accepts a form posted by any web page a clerk happens to open. So
``create_app`` (uvicorn's factory) takes xlwings' app and

* replaces its static-file mount by ``ContainedStaticFiles``, which resolves every path and serves
  nothing outside the two static folders (ours first, then the package's);
* wraps everything in ``Guard``, an ASGI middleware that sees every request to every route —
  routes a router adds later included — before any of it is parsed: the client network
  allow-list (``allow``; ``X-Forwarded-For`` only from ``trusted_proxies``), traversal spellings
  in the path (``..``, ``%2e%2e``, ``%2f``, backslashes, NUL, double encoding, ``//``), the size
  of the body (refused from ``Content-Length`` before reading, and counted when it is streamed
  without one), and the origin of anything but GET/HEAD/OPTIONS (a cross-site form post is
  refused); it also runs the timer that sweeps expired transfers;
* parses the posted workbook and builds xlwings' ``Book`` in a worker thread, so a large body
  never stalls other clerks' clicks (``parse_book_input``/``get_book`` overrides);
* answers ``/manifest/download`` with a file name of its own (xlwings' would be ``-prod.xml``
  for a Chinese project name);
* keeps download and upload tokens out of every log line (``RedactTokens``).

Authentication is xlwings Server's own (``XLWINGS_AUTH_PROVIDERS``): with a token configured, the
provider ``auth/nianbao`` checks the ``Authorization`` header of every script call and upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import ipaddress
import json
import logging
import os
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from fastapi import Depends, Form, HTTPException, Request
from starlette.requests import ClientDisconnect
from starlette.staticfiles import StaticFiles

from addin.excel.payload import flag_unusable_numbers
from addin.excel.serving import AUTH_PROVIDER, ServerSettings, normalise_origin
from addin.excel.transfer import Transfers

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("nianbao.guard")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Percent-encodings that spell a dot, a slash, a backslash, NUL or a second round of encoding.
_ENCODED = re.compile(rb"%(?:2e|2f|5c|00|25)", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Static files
# ---------------------------------------------------------------------------------------------

class ContainedStaticFiles(StaticFiles):
    """Static files from several folders (first match wins) that never leave them: the requested
    path is resolved (symbolic links included) and must lie inside the folder it was found in."""

    def __init__(self, directories: Sequence[Path]) -> None:
        self.roots = tuple(Path(d).resolve() for d in directories if Path(d).is_dir())
        super().__init__(directory=str(self.roots[-1]) if self.roots else None, check_dir=False)

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if not path or "\x00" in path or "\\" in path or os.path.isabs(path) or path.startswith(("/", "~")):
            return "", None
        if any(part in ("..", ".") for part in re.split(r"[/\\]", path)):
            return "", None
        for root in self.roots:
            try:
                full = (root / path).resolve()
            except (OSError, RuntimeError, ValueError):
                continue
            if full == root or root not in full.parents:
                continue
            try:
                info = full.stat()
            except OSError:
                continue
            return str(full), info
        return "", None


def contain_static(app: Any) -> None:
    """Replace every static-file mount of xlwings' app by a contained one serving the same folders."""
    from starlette.routing import Mount

    for i, route in enumerate(app.router.routes):
        inner = getattr(route, "app", None)
        if not isinstance(route, Mount) or not isinstance(inner, StaticFiles) or isinstance(inner, ContainedStaticFiles):
            continue
        folders = [getattr(inner, "user_dir", None), getattr(inner, "package_dir", None), inner.directory]
        contained = ContainedStaticFiles([Path(f) for f in folders if f])
        app.router.routes[i] = Mount(route.path, app=contained, name=route.name)


# ---------------------------------------------------------------------------------------------
# Paths, peers, origins
# ---------------------------------------------------------------------------------------------

def traversal(raw_path: bytes, path: str) -> bool:
    """Whether a request path spells anything but plain segments: ``..`` or ``.`` segments,
    backslashes, NUL or other control characters, empty segments (``//``), or a percent-encoded
    dot, slash, backslash, NUL or percent sign (double encoding). No route of ours needs any."""
    if _ENCODED.search(raw_path):
        return True
    for text in (path, unquote(raw_path.decode("latin-1"))):
        if "\\" in text or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
            return True
        parts = text.split("/")
        if any(p in ("..", ".") for p in parts) or "" in parts[1:-1]:
            return True
    return False


#: Key in the request's ``scope["state"]`` (``request.state``) under which the guard leaves the
#: client address it judged, for routes that count attempts per client (the inbox).
CLIENT_STATE = "nianbao_client"


def client_address(scope: Scope, settings: ServerSettings) -> str | None:
    """The client's IP: the TCP peer, or — only when the peer is a configured trusted proxy —
    the right-most address of ``X-Forwarded-For`` that is not itself a trusted proxy."""
    client = scope.get("client")
    peer = client[0] if client else None
    if peer is None or not settings.trusted_proxies or not _within(peer, settings.trusted_proxies):
        return peer
    forwarded = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"]
    hops = [h.strip() for h in ",".join(forwarded).split(",") if h.strip()]
    for hop in reversed(hops):
        if not _within(hop, settings.trusted_proxies):
            return hop
    return peer


def _within(address: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)


def peer_allowed(scope: Scope, settings: ServerSettings) -> tuple[bool, str]:
    """(allowed, the client address as judged). Without an allow-list everyone is allowed; a
    connection without a peer address (a Unix socket) counts as this computer."""
    address = client_address(scope, settings)
    if not settings.allow:
        return True, address or ""
    if address is None:
        return True, ""
    return _within(address, settings.allow), address


@functools.cache
def _own_names() -> frozenset[str]:
    """The names this computer goes by: loopback names, its host name and fully qualified name,
    and the ``hostname`` the add-in's manifest uses."""
    names = {"localhost", "localhost.localdomain", socket.gethostname().lower()}
    with contextlib.suppress(OSError):
        names.add(socket.getfqdn().lower())
    if os.environ.get("XLWINGS_HOSTNAME"):
        names.add(os.environ["XLWINGS_HOSTNAME"].strip().lower())
    return frozenset(n for n in names if n)


def host_name(scope: Scope) -> str:
    """The request's Host header without its port, lower case ("" when there is none)."""
    host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "").strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def host_allowed(scope: Scope, settings: ServerSettings) -> tuple[bool, str]:
    """Whether the browser called this server by one of its own names (DNS rebinding defence).

    A web page a clerk opens could point its own name at this server's address; the clerk's
    browser, inside the allow-list, would then treat the server as that page's origin and post
    to it. The request still says the page's name in ``Host``, so only the server's own names are
    accepted: an address (an address cannot be rebound), this computer's names, ``hostname`` and
    the extra ``hosts`` IT configured. No Host at all (HTTP/1.0 scripts) is allowed."""
    name = host_name(scope)
    if not name:
        return True, ""
    try:
        ipaddress.ip_address(name)
        return True, name
    except ValueError:
        pass
    named = {(urlsplit(o).hostname or "").lower() for o in settings.origins}
    return name in _own_names() or name in settings.hosts or name in named, name


def origin_allowed(scope: Scope, settings: ServerSettings) -> tuple[bool, str]:
    """Whether a state-changing request may come from where the browser says it comes from.

    Allowed: no Origin and no cross-site ``Sec-Fetch-Site`` (VBA's RunServerPython, scripts,
    curl); the server's own origin (the Office.js task pane and ribbon are served by this server,
    so their requests are same-origin, also through a TLS-terminating proxy); the configured
    ``hostname``; the configured ``origins`` and xlwings' ``XLWINGS_CORS_ALLOW_ORIGINS`` (Office
    Scripts, Excel on the web running scripts from Microsoft's domains)."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])
               if k in (b"origin", b"host", b"sec-fetch-site")}
    origin = headers.get("origin")
    if origin is None:
        site = headers.get("sec-fetch-site", "").strip().lower()
        return site not in ("cross-site", "same-site"), site
    given = normalise_origin(origin)
    allowed = set(settings.origins) | {normalise_origin(o) for o in _cors_origins()}
    if "*" in allowed:
        return True, origin
    host = headers.get("host", "").strip().lower()
    own = {host} | ({os.environ["XLWINGS_HOSTNAME"].strip().lower()} if os.environ.get("XLWINGS_HOSTNAME") else set())
    for name in own:
        if name:
            allowed |= {normalise_origin(f"http://{name}"), normalise_origin(f"https://{name}")}
    return given in allowed and given != "null", origin


def _cors_origins() -> list[str]:
    text = os.environ.get("XLWINGS_CORS_ALLOW_ORIGINS", "").strip()
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return [part for part in text.split(",") if part.strip()]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


# ---------------------------------------------------------------------------------------------
# Body sizes
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LargeBody:
    """A route that takes more than the default body size: its own limit and refusal text."""

    limit: Callable[[], int]
    refusal: Callable[[int, int], str]


#: Paths (below the app path) whose body may exceed ``max_request_mb``; routers register here
#: when they are imported (``allow_large_body``), before the first request is served.
LARGE_BODIES: dict[str, LargeBody] = {}


def allow_large_body(path: str, limit: Callable[[], int], refusal: Callable[[int, int], str]) -> None:
    """Let ``path`` take bodies up to ``limit()`` bytes; ``refusal(size, limit)`` says no in Chinese."""
    LARGE_BODIES[path.rstrip("/") or "/"] = LargeBody(limit, refusal)


def default_refusal(size: int, limit: int) -> str:
    return (f"发送的数据约 {_mb(size)} MB，超过服务器允许的 {_mb(limit)} MB，没有处理。"
            "若是正常的年报工作簿，请删去与年报无关的大量内容后重试，或请信息化人员调大配置文件中的 max_request_mb。")


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------------------------

#: Capabilities that travel in paths and bodies: download tokens, upload batches (also their
#: folders in error messages) and the browser pages' receipt keys.
_SECRET = re.compile(r"(?i)((?:[/\\](?:download|downloads|uploads|receipt)[/\\])|(?:\bbatch\b[\"'\s]*[:=][\"'\s]*))[A-Za-z0-9_%-]{6,}")


def redact(text: str) -> str:
    """A log line with download/upload tokens and receipt keys replaced by ``***``."""
    return _SECRET.sub(lambda m: m.group(1) + "***", text)


class RedactTokens(logging.Filter):
    """Rewrites any record that would print a token (uvicorn's access lines hold the request path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        # The arguments are redacted one by one first, keeping their shape: uvicorn's access
        # formatter unpacks them (client, method, path, version, status). A token that only shows
        # once message and arguments are put together is caught in the whole line.
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logging's business, not ours
            message = ""
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def install_log_redaction() -> None:
    """Put the filter on uvicorn's and the root logger's handlers and loggers (idempotent)."""
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "xlwings_server", "fastapi")
    for name in names:
        log = logging.getLogger(name)
        targets: list[logging.Filterer] = [log, *log.handlers]
        for target in targets:
            if not any(isinstance(f, RedactTokens) for f in target.filters):
                target.addFilter(RedactTokens())


# ---------------------------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------------------------

def _trimmer() -> Callable[[], None]:
    """glibc's ``malloc_trim(0)``: after a large request, give freed heap pages back to the system
    (otherwise the process keeps its peak size); a no-op elsewhere."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        trim = getattr(libc, "malloc_trim", None)
    except OSError:
        trim = None
    if trim is None:
        return lambda: None
    return lambda: (trim(0), None)[1]


_trim = _trimmer()
#: A body this large counts as a large request: memory is trimmed once no large one is running.
TRIM_AFTER = 1 << 20
#: Large workbooks parsed and checked at the same time, per process. Parsing and checking hold
#: Python's global lock, so two at once only fight over it and double the memory (eight 14 MB
#: clicks took twice as long with two at a time as with one); the others wait their turn while
#: small clicks and ``/manifest`` pass by.
HEAVY_AT_ONCE = 1


# ---------------------------------------------------------------------------------------------
# The middleware
# ---------------------------------------------------------------------------------------------

class Guard:
    """ASGI middleware in front of the whole app; see the module docstring for what it refuses."""

    def __init__(self, app: ASGIApp, settings: ServerSettings, app_path: str = "") -> None:
        self.app = app
        self.settings = settings
        self.app_path = app_path.rstrip("/")
        self._sweeper: asyncio.Task[None] | None = None
        self._large = 0
        self._heavy = asyncio.Semaphore(HEAVY_AT_ONCE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
            return
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        allowed, address = peer_allowed(scope, self.settings)
        scope.setdefault("state", {})[CLIENT_STATE] = address
        if not allowed:
            logger.warning("refused a request from %s (not in allow)", address)
            await self._refuse(scope, send, 403, f"本服务只接受指定网段的访问，您的地址 {address} 不在允许范围内。"
                                                 "如需使用，请联系信息化人员把所在网段加入配置文件的 allow。")
            return
        known, name = host_allowed(scope, self.settings)
        if not known:
            logger.warning("refused a request for an unknown host name")
            await self._refuse(scope, send, 421, f"本服务不以“{name[:80]}”这个名字提供服务。请用信息化人员告知的地址访问；"
                                                 "如确需使用这个名字，请在配置文件的 hosts 中加入它。")
            return
        if traversal(scope.get("raw_path") or scope.get("path", "").encode("utf-8"), scope.get("path", "")):
            await self._refuse(scope, send, 400, "请求的地址不合法（含有“..”、编码的斜杠或其他不允许的字符）。")
            return
        if kind == "websocket":
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET").upper()
        if method not in SAFE_METHODS:
            ok, origin = origin_allowed(scope, self.settings)
            if not ok:
                logger.warning("refused a cross-origin %s from %s", method, origin)
                await self._refuse(scope, send, 403, f"拒绝来自其他网页的提交（来源：{origin}）。加载项只接受它自己的任务窗格、"
                                                     "VBA 按钮和配置文件 origins 中列出的来源。")
                return
        await self._with_body_limit(scope, receive, send)

    # -- body ------------------------------------------------------------------------------

    def _limits(self, scope: Scope) -> tuple[int, Callable[[int, int], str]]:
        path = scope.get("path", "")
        if self.app_path and path.startswith(self.app_path):
            path = path[len(self.app_path):]
        entry = LARGE_BODIES.get(path.rstrip("/") or "/")
        if entry is not None:
            return entry.limit(), entry.refusal
        return self.settings.request_max_bytes, default_refusal

    async def _with_body_limit(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit, refusal = self._limits(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, send, 413, refusal(declared, limit))
            return
        started = refused = False
        seen = 0

        async def counted() -> Message:
            # Past the limit the client gets its 413 at once and the app sees a disconnect (an
            # exception raised here would reach the app wrapped in task groups, as a 500).
            nonlocal seen, refused, started
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message.get("type") == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    if not started:
                        started = True
                        await self._refuse(scope, send, 413, refusal(seen, limit))
                    return {"type": "http.disconnect"}
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the client already has its 413; the app's own answer goes nowhere
            if message.get("type") == "http.response.start":
                started = True
            await send(message)

        heavy = self._heavy_body(scope, declared)
        large = (declared or 0) >= TRIM_AFTER
        self._large += large
        try:
            async with self._heavy if heavy else contextlib.nullcontext():
                await self.app(scope, counted, tracked)
        except Exception:
            if not refused:
                raise
            logger.info("a streamed body passed its limit of %s bytes and was refused", limit)
        finally:
            self._large -= large
            if (large or seen >= TRIM_AFTER) and self._large == 0:
                await asyncio.to_thread(_trim)  # the parsed workbook is gone: give its memory back

    def _heavy_body(self, scope: Scope, declared: int | None) -> bool:
        """A body that will be parsed whole (not a registered streaming upload) and is large or
        of unknown size: at most ``HEAVY_AT_ONCE`` of those are worked on at a time."""
        if scope.get("method", "GET").upper() in SAFE_METHODS:
            return False
        path = scope.get("path", "")
        if self.app_path and path.startswith(self.app_path):
            path = path[len(self.app_path):]
        if (path.rstrip("/") or "/") in LARGE_BODIES:
            return False
        return declared is None or declared >= TRIM_AFTER

    # -- answers ---------------------------------------------------------------------------

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, detail: str) -> None:
        if scope.get("type") == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    # -- the sweeping timer ----------------------------------------------------------------

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message.get("type") == "lifespan.startup" and self._sweeper is None:
                self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())
            elif message.get("type") == "lifespan.shutdown" and self._sweeper is not None:
                self._sweeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._sweeper
                self._sweeper = None
            return message

        return wrapped

    async def _sweep_forever(self) -> None:
        """Remove expired uploads and downloads on a timer, not only when a new one is made."""
        while True:
            store = Transfers.default()
            await asyncio.sleep(store.sweep_interval)
            try:
                await asyncio.to_thread(store.sweep)
            except Exception:  # the next round tries again; a sweep never stops the server
                logger.exception("sweeping the transfer folder failed")


def _content_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", []):
        if key == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


# ---------------------------------------------------------------------------------------------
# xlwings dependencies, off the event loop
# ---------------------------------------------------------------------------------------------

BAD_BODY = "收到的不是 Excel 加载项发送的工作簿数据（JSON 格式不对），没有处理。"


async def parse_book_input(request: Request, form_data: str | None = Form(None, alias="bookData")) -> dict[str, Any]:
    """xlwings' ``parse_book_input``, with the JSON parsed in a worker thread and refused in
    Chinese (400) when it is not a JSON object. The body size was bounded by ``Guard``."""
    try:
        text: str | bytes | None = form_data if form_data else await request.body()
    except ClientDisconnect:  # gone, or refused by Guard past the size limit (it answered 413)
        raise HTTPException(status_code=413, detail="请求没有完整收到。") from None
    if not text:
        raise HTTPException(status_code=400, detail="没有收到工作簿数据。")
    try:
        data = await asyncio.to_thread(_parse_payload, text)
    except (ValueError, RecursionError, UnicodeDecodeError):
        raise HTTPException(status_code=400, detail=BAD_BODY) from None
    if not isinstance(data, dict):
        raise HTTPException(status_code=400, detail=BAD_BODY)
    return data


def _parse_payload(text: str | bytes) -> Any:
    """The posted JSON, with numbers no report can hold turned into findings' material
    (``addin.excel.payload.flag_unusable_numbers``)."""
    data = json.loads(text)
    if isinstance(data, dict):
        flag_unusable_numbers(data)
    return data


def book_dependency(parse: Callable[..., Any]) -> Callable[..., AsyncIterator[Any]]:
    """xlwings' ``get_book``, with the remote Book built in a worker thread and closed after the
    call. It depends on xlwings' own ``parse``, like xlwings' ``get_script_args``: with both
    overridden by the same function, FastAPI parses the body once per request, not twice."""

    async def get_book(book_data: dict[str, Any] = Depends(parse)) -> AsyncIterator[Any]:
        import xlwings as xw

        book = await asyncio.to_thread(lambda: xw.Book(json=book_data))
        try:
            yield book
        finally:
            book.close()

    return get_book


# ---------------------------------------------------------------------------------------------
# The app
# ---------------------------------------------------------------------------------------------

def _routers(router: Any) -> list[Any]:
    """A router and every router included into it (FastAPI keeps included routers as branches)."""
    out = [router]
    for route in router.routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            out += _routers(inner)
    return out


def _drop_route(app: Any, path: str, module: str) -> int:
    """Remove xlwings' own route at ``path`` (defined in ``module``) so that ours answers; returns
    how many went (the tests check it is one, so an upgrade that moves the route is noticed)."""
    gone = 0
    for router in _routers(app.router):
        kept = [r for r in router.routes if not (getattr(r, "path", None) == path
                                                 and getattr(getattr(r, "endpoint", None), "__module__", "") == module)]
        if len(kept) != len(router.routes):
            gone += len(router.routes) - len(kept)
            router.routes[:] = kept
            changed = getattr(router, "_mark_routes_changed", None)
            if callable(changed):
                changed()  # FastAPI caches each branch's routes by a version number
    return gone


def create_app() -> ASGIApp:
    """uvicorn's factory (``addin.server.guard:create_app``): xlwings Server's app, guarded."""
    settings = ServerSettings.from_env()
    if settings.has_token:
        providers = _providers()
        if AUTH_PROVIDER not in providers:
            os.environ["XLWINGS_AUTH_PROVIDERS"] = json.dumps([AUTH_PROVIDER, *providers])
    Transfers.default().ensure()
    from xlwings_server import dependencies, main
    from xlwings_server.config import settings as xl

    app = main.app
    contain_static(app)
    _drop_route(app, f"{xl.app_path}/manifest/download", "xlwings_server.routers.manifest")
    app.dependency_overrides[dependencies.parse_book_input] = parse_book_input
    app.dependency_overrides[dependencies.get_book] = book_dependency(dependencies.parse_book_input)
    install_log_redaction()
    return Guard(main.main_app, settings, xl.app_path)


def _providers() -> list[str]:
    text = os.environ.get("XLWINGS_AUTH_PROVIDERS", "").strip()
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return [p.strip() for p in text.split(",") if p.strip()]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


__all__ = ["ContainedStaticFiles", "Guard", "LARGE_BODIES", "LargeBody", "RedactTokens",
           "allow_large_body", "book_dependency", "client_address", "contain_static", "create_app", "install_log_redaction",
           "origin_allowed", "peer_allowed", "redact", "traversal"]
