"""Who may use the page: Host and Origin checks (DNS rebinding, cross-site) and the shared token."""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlsplit

__all__ = ["TOKEN_COOKIE", "Guard", "GuardPolicy", "allowed_hosts"]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_COOKIE = "sidecar_token"  # noqa: S105 (the name of the cookie, not a token)
_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
#: Paths served without the token: the page itself (it holds no data) and the login.
_OPEN_PREFIXES = ("/static/", "/api/login")
_OPEN_PATHS = frozenset({"/", "/favicon.ico"})


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def allowed_hosts(bind_host: str) -> frozenset[str] | None:
    """Host names a request may address: the loopback names and the bound host; None (any)
    for a wildcard bind (0.0.0.0, ::), where the token is what keeps strangers out."""
    if _is_wildcard(bind_host):
        return None
    return _LOOPBACK_NAMES | {bind_host.strip("[]").lower()}


@dataclass(frozen=True)
class GuardPolicy:
    port: int
    hosts: frozenset[str] | None
    token: str | None = None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _split_host(value: str) -> tuple[str, int | None]:
    """'name:port', '[::1]:port' or 'name' → (lower-case name, port or None)."""
    parts = urlsplit(f"//{value}")
    try:
        port = parts.port
    except ValueError:
        return "", None
    return (parts.hostname or "").lower(), port


class Guard:
    """ASGI middleware: refuses a request whose Host is not this server's, whose Origin is
    another site's, or (with a token) that does not carry the token."""

    def __init__(self, app: App, policy: GuardPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, code, message = refusal
        log.warning("page request %s refused: %s", str(scope.get("path", ""))[:200], message)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
            return
        body = json.dumps({"code": code, "message": message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        """(status, code, message) if the request is refused, else None."""
        host = _header(scope, b"host")
        if host is None:
            return 400, "forbidden", "Host: missing; the page is served only with a Host header"
        name, port = _split_host(host)
        hosts = self.policy.hosts
        if (hosts is not None and name not in hosts) or (port not in (None, self.policy.port)):
            allowed = ", ".join(sorted(hosts or ())) or "any name"
            return (
                403,
                "forbidden",
                f"Host: {host[:80]!r} is not this server; allowed: {allowed} on port "
                f"{self.policy.port} (a page on another name may be a DNS-rebinding attack)",
            )
        origin = _header(scope, b"origin")
        if origin is not None and origin != "null":
            parts = urlsplit(origin)
            if parts.scheme != "http" or parts.netloc.lower() != host.lower():
                return (
                    403,
                    "forbidden",
                    f"Origin: {origin[:80]!r} is another site; only pages served from "
                    f"http://{host[:80]} may call this server",
                )
        path = str(scope.get("path", ""))
        is_open = path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES)
        cross_site = origin == "null" or _header(scope, b"sec-fetch-site") == "cross-site"
        if cross_site and not is_open:
            return 403, "forbidden", "Origin: a request from another site; refused"
        if self.policy.token is None or is_open:
            return None
        if not self.token_ok(scope):
            return (
                401,
                "unauthorized",
                "token: missing or wrong; this server takes page requests only with its token "
                "(log in on the page, or send 'Authorization: Bearer <token>')",
            )
        return None

    def token_ok(self, scope: Scope) -> bool:
        token = self.policy.token
        if token is None:
            return True
        sent: str | None = None
        auth = _header(scope, b"authorization")
        if auth is not None and auth.startswith("Bearer "):
            sent = auth[len("Bearer ") :]
        else:
            cookies: SimpleCookie = SimpleCookie()
            try:
                cookies.load(_header(scope, b"cookie") or "")
            except CookieError:
                return False  # a malformed Cookie header carries no token
            morsel = cookies.get(TOKEN_COOKIE)
            sent = morsel.value if morsel is not None else None
        return sent is not None and hmac.compare_digest(sent.encode(), token.encode())
