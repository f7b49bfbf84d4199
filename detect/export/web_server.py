"""The web export's folder over HTTP (``detect serve-web``, the browser checks): static files
with the cross-origin isolation headers ONNX Runtime Web's threads need, and nothing else.

Hardened for a port others may reach (the standard library's ``SimpleHTTPRequestHandler``
serves any file a link inside the folder points to, lists folders, serves dotfiles, answers any
``Host`` and keeps a thread per idle connection forever): here a path must name a regular file
whose real path (links resolved) is inside the folder, no part of it hidden (``.name``); a
folder gives its ``index.html`` or 404, never a listing; ``Host`` must be a trusted name (421,
the DNS-rebinding guard of :mod:`detect.hosts`); a connection silent for ``timeout_s`` is
closed; at most ``max_connections`` are served at once (beyond: closed at once); a client that
drops mid-download ends its thread quietly.
"""

from __future__ import annotations

import os
import posixpath
import socket
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from detect.errors import ConfigError
from detect.hosts import MISDIRECTED, default_names, host_allowed, host_name

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
}
PAGE_HEADERS = {  # no framing (clickjacking), no referrer, no type sniffing
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
TIMEOUT_S = 30.0
MAX_CONNECTIONS = 64
DROPPED = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class FolderHandler(SimpleHTTPRequestHandler):
    """One request for a file of ``self.directory`` (see the module's docstring)."""

    extensions_map: ClassVar[dict[str, str]] = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
    }
    server: FolderServer

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except DROPPED:  # the client went away or fell silent: nothing to say to anyone
            self.close_connection = True

    def send_head(self) -> Any:
        if not host_allowed(self.headers.get("Host"), self.server.names):
            name = host_name(self.headers.get("Host"))
            self.send_error(HTTPStatus.MISDIRECTED_REQUEST, MISDIRECTED.format(name=name))
            return None
        file = self.file_for(self.path)
        if file is None:
            self.send_error(HTTPStatus.NOT_FOUND, "no such file")
            return None
        self.path = "/" + file.relative_to(self.server.root).as_posix()
        return super().send_head()

    def file_for(self, url_path: str) -> Path | None:
        """The regular file ``url_path`` names inside the folder, or None."""
        parts = [p for p in posixpath.normpath(unquote(urlsplit(url_path).path)).split("/") if p]
        if any(part.startswith(".") or "\\" in part or "\0" in part for part in parts):
            return None
        path = self.server.root.joinpath(*parts)
        if path.is_dir():
            path = path / "index.html"
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not real.is_relative_to(self.server.root) or not real.is_file():
            return None
        inside = real.relative_to(self.server.root).parts
        return real if not any(part.startswith(".") for part in inside) else None

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(HTTPStatus.NOT_FOUND, "no such file")
        return None

    def end_headers(self) -> None:
        for key, value in {**ISOLATION_HEADERS, **PAGE_HEADERS}.items():
            self.send_header(key, value)
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, *args: object) -> None:
        pass


class FolderServer(ThreadingHTTPServer):
    """A folder's server: ``names`` the trusted ``Host`` names, ``timeout_s`` per silent
    connection, ``max_connections`` at once."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        root: Path,
        names: tuple[str, ...],
        timeout_s: float = TIMEOUT_S,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.root, self.names = root.resolve(), names
        self.slots = threading.BoundedSemaphore(max_connections)

        handler_class = type("Handler", (FolderHandler,), {"timeout": timeout_s})

        def handler(*args: Any) -> FolderHandler:
            return handler_class(*args, directory=str(self.root))

        super().__init__(address, handler)

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):  # full: this one is closed at once
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: socket.socket, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A dropped client is no error worth a traceback; anything else is reported once."""
        import sys

        error = sys.exc_info()[1]
        if not isinstance(error, DROPPED):
            super().handle_error(request, client_address)


def serve_folder(
    folder: Path,
    port: int = 0,
    host: str = "127.0.0.1",
    trusted_hosts: tuple[str, ...] | None = None,
    timeout_s: float = TIMEOUT_S,
    max_connections: int = MAX_CONNECTIONS,
) -> FolderServer:
    """A server for ``folder`` on ``host:port`` (0: any free port); ``trusted_hosts``: the
    ``Host`` names answered (None: loopback names and ``host``)."""
    names = trusted_hosts if trusted_hosts is not None else default_names(host)
    try:
        return FolderServer((host, port), folder, tuple(names), timeout_s, max_connections)
    except OSError as error:
        raise ConfigError(f"cannot listen on {host}:{port} ({error.strerror})") from None
