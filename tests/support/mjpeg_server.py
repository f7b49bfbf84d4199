"""A loopback MJPEG-over-HTTP server (``multipart/x-mixed-replace``), like an IP camera's:
serves a clip's frames at a fixed rate on 127.0.0.1, in a thread, stoppable and restartable."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2

BOUNDARY = "frame"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def encode_clip(clip: Path, count: int, width: int = 160) -> list[bytes]:
    """The first ``count`` frames of ``clip``, shrunk to ``width`` px wide, as JPEG bytes."""
    capture = cv2.VideoCapture(str(clip))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        height = round(frame.shape[0] * width / frame.shape[1])
        frames.append(cv2.imencode(".jpg", cv2.resize(frame, (width, height)))[1].tobytes())
    capture.release()
    return frames


class MjpegServer:
    """``start()`` / ``stop()`` any number of times on one port; ``stop`` cuts live clients."""

    def __init__(self, frames: list[bytes], port: int, fps: float = 30.0) -> None:
        self.frames, self.port, self.period = frames, port, 1.0 / fps
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.serving = threading.Event()
        self.connections = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def start(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.connections += 1
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.end_headers()
                try:
                    for jpeg in itertools.cycle(owner.frames):
                        if not owner.serving.is_set():
                            return
                        self.wfile.write(
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                            + jpeg
                            + b"\r\n"
                        )
                        time.sleep(owner.period)
                except OSError:  # the client went away
                    return

            def log_message(self, *args: object) -> None:  # quiet
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.serving.set()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop listening and end every stream being served (clients see the stream drop)."""
        self.serving.clear()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)
            self.server = None
        time.sleep(2 * self.period)  # let handlers notice and close their sockets
