"""A stream that answers but never yields a decodable frame ends after its reconnect tries
(issue 32: each successful reopen used to reset the tries, so it reconnected forever)."""

from __future__ import annotations

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
