"""Pure ASGI middleware (no buffering, so SSE and MJPEG stream through): the API key check,
and the access log + request metrics."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from detect.serve.metrics import Metrics
from detect.serve.problems import ApiError, error_response
from detect.serve.security import authorized, is_public

access = logging.getLogger("detect.serve.access")

Scope = MutableMapping[str, Any]
App = Callable[..., Awaitable[None]]
MEDIA_SUFFIXES = ("/events", "/video.mjpg")  # an <img> or EventSource sends no header


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
        header = headers.get(b"authorization", b"").decode("latin-1") or None
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
        if scope["method"] != "GET" or not scope["path"].endswith(MEDIA_SUFFIXES):
            return False
        keys = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("key", [])
        return bool(keys) and authorized(f"Bearer {keys[-1]}", self.key)


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
