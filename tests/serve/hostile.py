"""Loopback listeners for the hostile-request tests: an HTTP server on any 127.0.0.x address
that answers each path as told (a status and headers, a body, an MJPEG stream) and records
every request it receives — a "refused host" that must see none."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
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


class PeakRSS:
    """This process's resident memory sampled every 5 ms inside the block: ``growth`` is the
    peak above the level at entry, in bytes (the test server runs in this process)."""

    def __enter__(self) -> PeakRSS:
        self.base = self.peak = rss()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        return self

    def sample(self) -> None:
        while not self.done.wait(0.005):
            self.peak = max(self.peak, rss())

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, rss())

    @property
    def growth(self) -> int:
        return self.peak - self.base


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def forged_jpeg(width: int, height: int) -> bytes:
    """A tiny real JPEG (1.5 KB, a comment pads it) whose frame header (SOF0) is rewritten to
    declare width × height; it still ends with its end-of-image marker."""
    import cv2
    import numpy as np

    data = bytearray(cv2.imencode(".jpg", np.full((16, 16, 3), 90, np.uint8))[1].tobytes())
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    pad = max(0, 1500 - len(data) - 4)
    return bytes(data[:2]) + b"\xff\xfe" + (pad + 2).to_bytes(2, "big") + b" " * pad + data[2:]


@contextlib.contextmanager
def serving(app, config, timeout: float = 60.0) -> Iterator[str]:
    """``app`` served by detect's uvicorn server (its protocol and timeouts from ``config``)
    on a free loopback port until the block ends; yields its URL once /readyz answers."""
    import dataclasses

    from detect.serve.run import Server

    port = free_port()
    server = Server(app, dataclasses.replace(config, port=port))
    server.config.log_level = "warning"
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while not ready(url):
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not become ready")
            time.sleep(0.05)
        yield url
    finally:
        server.stop()
        thread.join(timeout=30)


def ready(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def first_then(first: Reply, later: Reply) -> Reply:
    """``first`` for the first request, ``later`` for every one after (a server that shows
    a probe one face and the real client another)."""
    calls = []

    def reply(handler: BaseHTTPRequestHandler) -> None:
        calls.append(1)
        (first if len(calls) == 1 else later)(handler)

    return reply
