"""A detect server in a background thread on a free 127.0.0.1 port, stopped with the block."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import httpx

from support.mjpeg_server import free_port


@contextlib.contextmanager
def running(app, timeout: float = 60.0) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL once /readyz answers 200."""
    from detect.serve.config import ServeConfig
    from detect.serve.run import Server

    port = free_port()
    server = Server(app, ServeConfig(port=port))
    server.config.log_level = "warning"
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code in (200, 401):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the test server did not become ready")
            time.sleep(0.05)
        yield url
    finally:
        server.stop()
        thread.join(timeout=30)
