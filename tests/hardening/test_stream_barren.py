"""A stream that answers but never yields a decodable frame ends after its reconnect tries
(issue 32: each successful reopen used to reset the tries, so it reconnected forever), and
FFmpeg's own log lines are not printed raw beside ours."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from support.mjpeg_server import MjpegServer, free_port

from detect.inference.sources import Reconnect, open_sources

BROKEN_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"


@pytest.fixture
def broken_stream():
    server = MjpegServer([BROKEN_JPEG], free_port(), fps=50)
    server.start()
    yield server
    server.stop()


@pytest.mark.slow
def test_a_stream_of_broken_jpegs_ends_after_its_tries(broken_stream):
    reconnect = Reconnect(tries=2, backoff_s=0.05, max_backoff_s=0.05)
    try:
        (source,) = open_sources(broken_stream.url, reconnect=reconnect, timeout_s=3)
    except Exception as error:  # FFmpeg may refuse it at open: also one clear end
        assert "stream" in str(error)
        return
    stop = threading.Event()
    timer = threading.Timer(40, stop.set)  # the bug: never ends; this bounds the test
    timer.start()
    began = time.perf_counter()
    try:
        frames = list(source.frames(stop))
    finally:
        timer.cancel()
    assert not stop.is_set(), f"still reconnecting after 40 s ({source.reconnects} reopens)"
    assert frames == []
    assert source.reconnects == 2
    assert "without one decodable frame" in source.lost
    assert time.perf_counter() - began < 30


# a fresh process, as the command is: OpenCV reads FFmpeg's log level once, at its first capture
QUIET = """
import sys
from detect.errors import SourceError
from detect.inference.sources import open_sources
for url in sys.argv[1:]:
    try:
        open_sources([url], timeout_s=2)
    except SourceError as error:
        print("refused:", error)
"""


@pytest.mark.slow
def test_ffmpegs_own_lines_are_not_printed_raw(broken_stream):
    """Before: "[tcp @ 0x…] Connection to tcp://127.0.0.1:… failed: Connection refused" and
    "[mjpeg @ 0x…] No JPEG data found in image" lines beside ours."""
    closed = f"http://127.0.0.1:{free_port()}/stream.mjpg"
    done = subprocess.run(
        [sys.executable, "-c", QUIET, closed, broken_stream.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    printed = done.stdout + done.stderr
    assert done.returncode == 0 and "refused:" in printed, printed[-1500:]  # the closed port
    assert " @ 0x" not in printed, printed[-1500:]
