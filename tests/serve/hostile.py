"""Loopback listeners for the hostile-request tests: an HTTP server on any 127.0.0.x address
that answers each path as told (a status and headers, a body, an MJPEG stream) and records
every request it receives — a "refused host" that must see none."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOUNDARY = "frame"
Reply = Callable[[BaseHTTPRequestHandler], None]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class Listener:
    """An HTTP listener on ``host``: ``routes`` maps a path to a reply; ``requests`` holds
    (path, Host header) of every request received, and ``connections`` counts TCP accepts."""

    def __init__(self, host: str, routes: dict[str, Reply] | None = None) -> None:
        self.host, self.routes = host, dict(routes or {})
        self.requests: list[tuple[str, str | None]] = []
        self.connections = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                owner.connections += 1
                super().setup()

            def do_GET(self) -> None:
                owner.requests.append((self.path, self.headers.get("Host")))
                reply = owner.routes.get(self.path.split("?")[0])
                if reply is None:
                    self.send_error(404)
                    return
                try:
                    reply(self)
                except OSError:
                    return

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def __enter__(self) -> Listener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def redirect(location: str, status: int = 302) -> Reply:
    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return reply


def body(data: bytes, content_type: str) -> Reply:
    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return reply


def mjpeg(frames: list[bytes], seconds: float = 5.0, fps: float = 20.0) -> Reply:
    def reply(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        handler.end_headers()
        end = time.monotonic() + seconds
        index = 0
        while time.monotonic() < end:
            jpeg = frames[index % len(frames)]
            head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}"
            handler.wfile.write(head.encode() + b"\r\n\r\n" + jpeg + b"\r\n")
            index += 1
            time.sleep(1 / fps)

    return reply
