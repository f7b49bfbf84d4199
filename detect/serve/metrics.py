"""Prometheus metrics (prometheus-client), in a registry per app: requests by route and status,
request latency, batch sizes and detector time, queue depth, and per stream its frames,
drops, reconnects and state.

With ``serve.workers`` > 1 every worker writes its values to ``$PROMETHEUS_MULTIPROC_DIR``
(prometheus-client's multiprocess mode, set up by :mod:`detect.serve.run`) and /metrics, in
whichever worker answers, reads them all: the sums across workers (queue depth and requests in
progress summed over the live ones)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10)
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 32, 64)


class StreamCollector(Collector):
    """Reads the stream registry at each scrape: no bookkeeping on the frame path."""

    def __init__(self, streams: Callable[[], list[dict]]) -> None:
        self.streams = streams

    def collect(self) -> Iterator:
        frames = CounterMetricFamily("detect_stream_frames", "frames detected", labels=["stream"])
        dropped = CounterMetricFamily(
            "detect_stream_dropped", "frames dropped (realtime: stale)", labels=["stream"]
        )
        reconnects = CounterMetricFamily(
            "detect_stream_reconnects", "source reopenings", labels=["stream"]
        )
        fps = GaugeMetricFamily("detect_stream_fps", "frames per second lately", labels=["stream"])
        up = GaugeMetricFamily("detect_streams", "streams by state", labels=["state"])
        states: dict[str, int] = {}
        for info in self.streams():
            frames.add_metric([info["id"]], info["frames"])
            dropped.add_metric([info["id"]], info["dropped"])
            reconnects.add_metric([info["id"]], info["reconnects"])
            fps.add_metric([info["id"]], info["fps"])
            states[info["state"]] = states.get(info["state"], 0) + 1
        for state, count in states.items():
            up.add_metric([state], count)
        yield from (frames, dropped, reconnects, fps, up)


class Metrics:
    """The app's metrics; ``render()`` is the /metrics body."""

    def __init__(self, queue_depth: Callable[[], int], streams: Callable[[], list[dict]]) -> None:
        self.shared = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.queue_depth = queue_depth
        # shared: the values live in the folder's files, read at render (none registered here)
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "detect_requests",
            "HTTP requests",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "detect_request_seconds",
            "HTTP request latency (to the response's last byte)",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "detect_batch_size",
            "images per detector call",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "detect_batch_seconds",
            "detector time per call",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "detect_requests_in_progress",
            "HTTP requests being answered",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.rejected = Counter(
            "detect_rejected",
            "requests refused because the queue was full",
            registry=self.registry,
        )
        self.depth = Gauge(
            "detect_queue_depth",
            "images waiting for the detector",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        if not self.shared:
            self.depth.set_function(queue_depth)
        self.registry.register(StreamCollector(streams))

    def on_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)
        if self.shared:
            self.depth.set(self.queue_depth())

    def on_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if self.shared:
            self.depth.set(self.queue_depth())

    def close(self) -> None:
        """This worker is stopping: its live gauges (in progress, queue depth) leave the sums."""
        if self.shared:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())

    def render(self) -> bytes:
        if not self.shared:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        everyone = CollectorRegistry()
        multiprocess.MultiProcessCollector(everyone)
        return generate_latest(everyone)
