"""What ``nianbao serve`` hands to the add-in server's worker processes: who may reach the server
(networks, reverse proxies, the access token's hash), which web pages may post to it, and how
large one request may be.

Why a module of its own, below both doors: the command (``addin.cli.serve``) reads these from its
TOML config file and refuses an unsafe start; the server (``addin.server.guard``) enforces them
in every worker process. Workers are separate processes (``--workers N``), so the environment is
the channel, and the names of that channel live here, once. The access token itself is not handed
on — only its SHA-256: the config file holds the hash, and a token given in ``NIANBAO_ACCESS_TOKEN``
is hashed by the command and removed from the environment that worker processes, LibreOffice and
anything else the server starts inherit.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_ENV = "NIANBAO_ALLOW"
PROXIES_ENV = "NIANBAO_TRUSTED_PROXIES"
TOKEN_HASH_ENV = "NIANBAO_TOKEN_SHA256"
#: The token in clear text, for IT who prefer the environment to the config file; read by the
#: command only, hashed, and removed before the server starts.
TOKEN_ENV = "NIANBAO_ACCESS_TOKEN"
ORIGINS_ENV = "NIANBAO_ORIGINS"
#: Extra host names the server answers to (besides its own name, its addresses and ``hostname``).
HOSTS_ENV = "NIANBAO_HOSTS"
REQUEST_MB_ENV = "NIANBAO_REQUEST_MAX_MB"
#: The name of the xlwings Server auth provider (``addin/server/auth/nianbao``).
AUTH_PROVIDER = "nianbao"
#: One request body (the workbook a click posts). A unit's workbook posts about 42 KB; a city's
#: summary of 2,000 units, the largest workbook anyone clicks a button in, about 5 MB (measured:
#: tests/bench/bench_server_attack.py). 16 MB leaves three times that, and one request still
#: cannot hold the server's memory.
DEFAULT_REQUEST_MB = 16.0
#: Shortest token accepted: the tokens ``nianbao serve --new-token`` makes have 43 characters.
MIN_TOKEN_CHARS = 20


class SettingError(ValueError):
    """A setting IT wrote cannot be used; the message says which and why, in Chinese."""


def parse_networks(items: Iterable[str], setting: str) -> tuple[Network, ...]:
    """``["10.1.0.0/16", "192.168.3.7"]`` as networks; anything else is refused in Chinese."""
    out: list[Network] = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            out.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise SettingError(f"{setting} 中的“{text}”不是网段或 IP 地址（应写成 \"10.1.0.0/16\" 或 \"10.1.2.3\"）") from None
    return tuple(out)


def hash_token(token: str) -> str:
    """The SHA-256 (hex) of an access token, the only form the server keeps."""
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


def token_matches(given: str, expected_sha256: str) -> bool:
    """Whether a presented token is the configured one, in constant time (``Bearer `` optional)."""
    text = given.strip()
    if text[:7].lower() == "bearer ":
        text = text[7:].strip()
    if not text or not expected_sha256:
        return False
    return hmac.compare_digest(hash_token(text), expected_sha256.strip().lower())


def new_token() -> str:
    """A fresh access token: 256 random bits, URL-safe (it travels in an HTTP header)."""
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    """Whether a listening address only accepts connections from this computer."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


@dataclass(frozen=True)
class ServerSettings:
    """The server's security settings, as the command resolved them."""

    allow: tuple[Network, ...] = ()
    trusted_proxies: tuple[Network, ...] = ()
    token_sha256: str = ""
    origins: tuple[str, ...] = ()
    request_max_bytes: int = int(DEFAULT_REQUEST_MB * 1024 * 1024)
    #: Extra names a browser may call the server by (a DNS alias, the proxy's public name).
    hosts: tuple[str, ...] = ()

    @property
    def has_token(self) -> bool:
        return bool(self.token_sha256)

    def to_env(self) -> dict[str, str]:
        """The environment variables that carry these settings to the worker processes."""
        return {
            ALLOW_ENV: ",".join(str(n) for n in self.allow),
            PROXIES_ENV: ",".join(str(n) for n in self.trusted_proxies),
            TOKEN_HASH_ENV: self.token_sha256,
            ORIGINS_ENV: ",".join(self.origins),
            REQUEST_MB_ENV: repr(self.request_max_bytes / 1024 / 1024),
            HOSTS_ENV: ",".join(self.hosts),
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerSettings:
        """The settings a worker process was started with (what ``to_env`` wrote)."""
        env = os.environ if env is None else env
        sha = env.get(TOKEN_HASH_ENV, "").strip().lower()
        if sha and (len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha)):
            raise SettingError(f"{TOKEN_HASH_ENV}（token_sha256）应为 64 位十六进制数（访问口令的 SHA-256）")
        return cls(allow=parse_networks(_split(env.get(ALLOW_ENV, "")), "allow"),
                   trusted_proxies=parse_networks(_split(env.get(PROXIES_ENV, "")), "trusted_proxies"),
                   token_sha256=sha,
                   origins=tuple(normalise_origin(o) for o in _split(env.get(ORIGINS_ENV, ""))),
                   request_max_bytes=megabytes(env.get(REQUEST_MB_ENV, ""), DEFAULT_REQUEST_MB, "max_request_mb"),
                   hosts=tuple(h.strip().lower() for h in _split(env.get(HOSTS_ENV, ""))))


def megabytes(text: object, default: float, setting: str) -> int:
    """A size setting in MB as bytes; empty means the default, nonsense is refused in Chinese."""
    raw = str(text).strip() if text is not None else ""
    if not raw:
        return int(default * 1024 * 1024)
    try:
        mb = float(raw)
    except ValueError:
        raise SettingError(f"{setting} 应为正数（单位 MB），现为“{raw}”") from None
    if not 0 < mb < 1024 * 1024:
        raise SettingError(f"{setting} 应为正数（单位 MB），现为“{raw}”")
    return int(mb * 1024 * 1024)


def normalise_origin(origin: str) -> str:
    """``HTTPS://Host:443/`` → ``https://host``: how browsers spell an Origin header."""
    text = origin.strip().rstrip("/").lower()
    for scheme, port in (("https://", ":443"), ("http://", ":80")):
        if text.startswith(scheme) and text.endswith(port):
            text = text[: -len(port)]
    return text


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


__all__ = ["ALLOW_ENV", "AUTH_PROVIDER", "DEFAULT_REQUEST_MB", "HOSTS_ENV", "MIN_TOKEN_CHARS", "ORIGINS_ENV", "PROXIES_ENV",
           "REQUEST_MB_ENV", "TOKEN_ENV", "TOKEN_HASH_ENV", "ServerSettings", "SettingError", "hash_token",
           "is_loopback", "megabytes", "new_token", "normalise_origin", "parse_networks", "token_matches"]
