"""Pure ASGI middleware (no buffering, so SSE and MJPEG stream through): the API key check,
and the access log + request metrics."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from detect.hosts import MISDIRECTED, host_allowed, host_name
from detect.serve.metrics import Metrics
from detect.serve.problems import ApiError, error_response
from detect.serve.security import MEDIA_ROUTE, authorized, is_public

access = logging.getLogger("detect.serve.access")

Scope = MutableMapping[str, Any]
App = Callable[..., Awaitable[None]]


class ApiKey:
    """Every route but the public ones (/healthz, the page's shell) needs
    ``Authorization: Bearer <key>``; the live media routes also take ``?key=``, since a
    browser's ``<img>`` and ``EventSource`` cannot send a header."""

    def __init__(self, app: App, key: str) -> None:
        self.app, self.key = app, key

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        header = headers.get(b"authorization") or None
        if not authorized(header, self.key) and not self.query_key(scope):
            message = (
                "missing API key: send Authorization: Bearer <key>"
                if header is None
                else "wrong API key"
            )
            error = ApiError(401, message, "authorization", {"WWW-Authenticate": "Bearer"})
            await error_response(error)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def query_key(self, scope: Scope) -> bool:
        if scope["method"] != "GET" or not MEDIA_ROUTE.fullmatch(scope["path"]):
            return False
        keys = parse_qs(scope.get("query_string", b"").decode("latin-1"), encoding="utf-8")
        given = keys.get("key", [])
        return bool(given) and authorized(b"Bearer " + given[-1].encode("utf-8"), self.key)


class TrustedHosts:
    """A request naming a ``Host`` this server is not known by is refused (421): the DNS
    rebinding guard (see :mod:`detect.serve.hosts`)."""

    def __init__(self, app: App, names: tuple[str, ...]) -> None:
        self.app, self.names = app, names

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            raw = headers.get(b"host")
            header = None if raw is None else raw.decode("latin-1")
            if not host_allowed(header, self.names):
                error = ApiError(421, MISDIRECTED.format(name=host_name(header)), "host")
                await error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


# the live page loads its script, style and frames from this origin only; Swagger UI (/docs)
# needs its one inline script (the configuration FastAPI writes)
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class SecurityHeaders:
    """Every response says: no framing, no referrer, no type sniffing, this origin's content
    only (``Content-Security-Policy``)."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = DOCS_POLICY if scope["path"] == "/docs" else PAGE_POLICY

        async def with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"content-security-policy", policy.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-content-type-options", b"nosniff"),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


class AccessLog:
    """One JSON line per request (method, path, route, status, ms, client, bytes out) on the
    ``detect.serve.access`` logger, and the request metrics by route and status."""

    def __init__(self, app: App, metrics: Metrics, enabled: bool = True) -> None:
        self.app, self.metrics, self.enabled = app, metrics, enabled

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status, sent = 500, 0

        async def watched(message: MutableMapping[str, Any]) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, watched)
        finally:
            self.metrics.in_progress.dec()
            seconds = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                "/static" if scope["path"].startswith("/static/") else "unmatched"
            )
            self.metrics.on_request(template, scope["method"], status, seconds)
            if self.enabled:
                client = scope.get("client")
                access.info(
                    json.dumps(
                        {
                            "method": scope["method"],
                            "path": scope["path"],
                            "route": template,
                            "status": status,
                            "ms": round(seconds * 1000, 2),
                            "client": f"{client[0]}:{client[1]}" if client else None,
                            "bytes": sent,
                        }
                    )
                )
