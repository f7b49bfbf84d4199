"""A network stream on loopback: an MJPEG-over-HTTP server serves a real clip, the pipeline reads
it in realtime mode; the server stops and restarts on the same port; the pipeline reconnects
and goes on. Everything on 127.0.0.1, bounded in time."""

from __future__ import annotations

import threading
import time

from support.mjpeg_server import MjpegServer, encode_clip, free_port

from detect.inference import DetectionStream, Reconnect, StreamConfig, open_sources

DEADLINE_S = 30


def test_a_dropped_stream_is_reconnected_and_detection_goes_on(short_clip, tiny_detector):
    predictor, _ = tiny_detector
    server = MjpegServer(encode_clip(short_clip, 40), free_port(), fps=25)
    server.start()
    sources = open_sources(
        server.url, reconnect=Reconnect(tries=10, backoff_s=0.2, max_backoff_s=0.5), timeout_s=3
    )
    stream = DetectionStream(predictor, sources, StreamConfig(mode="auto", batch_size=2))
    first, again = threading.Event(), threading.Event()
    restarted_at: list[float] = []

    def operator() -> None:  # stop the server once frames flow, restart it a second later
        if first.wait(DEADLINE_S):
            server.stop()
            time.sleep(1.0)
            server.start()
            restarted_at.append(time.time())
            again.wait(DEADLINE_S)
        stream.stop("test")

    control = threading.Thread(target=operator, daemon=True)
    watchdog = threading.Timer(DEADLINE_S, stream.stop, args=("deadline",))
    after: list[float] = []
    segments: set[int] = set()
    begin = time.perf_counter()
    control.start()
    watchdog.start()
    try:
        with stream:
            for count, result in enumerate(stream, start=1):
                if count == 10:
                    first.set()
                if restarted_at and result.frame.timestamp > restarted_at[0]:
                    after.append(result.frame.timestamp)
                    segments.add(result.frame.segment)
                    if len(after) == 10:
                        again.set()
    finally:
        watchdog.cancel()
        server.stop()
        control.join(timeout=5)
    summary = stream.summary()
    stats = summary.sources[0]
    assert summary.stopped_by == "test", "the deadline stopped it: no frames after the restart"
    assert (stats.mode, stats.reconnects) == ("realtime", 1)
    assert len(after) >= 10 and server.connections == 2
    assert segments == {1}  # frames after the reconnection: a new segment (a tracker resets)
    assert stats.read == stats.processed + stats.dropped
    assert time.perf_counter() - begin < DEADLINE_S


def test_a_stream_that_stays_down_ends_after_its_tries_and_the_others_go_on(short_clip):
    from support.streams import Recorder, synthetic

    server = MjpegServer(encode_clip(short_clip, 10), free_port(), fps=50)
    server.start()
    (live,) = open_sources(
        server.url, reconnect=Reconnect(tries=2, backoff_s=0.1, max_backoff_s=0.2), timeout_s=2
    )
    other = synthetic("file", count=10**6, period=0.002)
    stream = DetectionStream(Recorder(), [live, other], StreamConfig())
    watchdog = threading.Timer(DEADLINE_S, stream.stop, args=("deadline",))
    watchdog.start()
    try:
        with stream:
            for count, _ in enumerate(stream, start=1):
                if count == 20:
                    server.stop()
                if live.lost and stream.stats["file"].processed > 400:
                    stream.stop("test")
    finally:
        watchdog.cancel()
        server.stop()
    summary = stream.summary()
    lost, kept = summary.sources
    assert lost.status == "lost: 2 reconnection tries failed"
    assert lost.reconnects == 0 and kept.status == "stopped" and kept.processed > 400
    assert summary.stopped_by == "test" and summary.incomplete == [lost]
    assert "| lost: 2 reconnection tries failed |" in summary.format()
