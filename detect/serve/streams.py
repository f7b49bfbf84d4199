"""The stream registry: each stream is the library's own pipeline — :func:`open_sources` (its
reconnect with backoff), a :class:`DetectionStream` (bounded buffers, batching) with its own
tracker and counter — run in a thread, and published for the routes: its recent records
(server-sent events), its newest annotated frame (MJPEG), its state and counts.

Streams share the model, never a tracker or a counter. Memory per stream is bounded: the
pipeline's buffers, ``history`` records and one frame.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import threading
import time
import uuid
from dataclasses import fields
from typing import Any

import cv2

from detect.errors import DetectError
from detect.inference.backends import LoadedDetector
from detect.inference.counting import CountConfig
from detect.inference.outputs import Result, draw
from detect.inference.sources import Source, open_sources
from detect.inference.stream import DetectionStream, StreamConfig
from detect.inference.tracking import TrackerConfig
from detect.serve.config import ServeConfig
from detect.serve.problems import ApiError
from detect.serve.schemas import StreamRequest
from detect.serve.security import SourcePolicy, probe

log = logging.getLogger(__name__)

STALL_S = 1.5  # a live source without a frame for this long (and 5 frame periods) is reconnecting
JPEG_QUALITY = 80
FPS_WINDOW_S = 2.0  # a stream's fps: frames published over this many seconds


class StreamHandle:
    """One stream: its pipeline thread and what it published."""

    def __init__(
        self,
        stream_id: str,
        source: Source,
        config: StreamConfig,
        loaded: LoadedDetector,
        history: int,
    ) -> None:
        self.id, self.source, self.config = stream_id, source, config
        self.pipeline = DetectionStream(loaded.detector, [source], config, loaded.categories)
        self.names = loaded.categories.by_id
        self.history: collections.deque[tuple[int, dict[str, Any]]] = collections.deque(
            maxlen=history
        )
        self.lock = threading.Lock()
        self.latest: Result | None = None
        self.seq = 0
        self.counts: dict[str, Any] | None = None
        self.error: str | None = None
        self.finished = threading.Event()
        self.stopping = False
        self.last_frame_at: float | None = None
        self.recent: collections.deque[float] = collections.deque()  # publish times
        self.fps = 0.0
        self.thread = threading.Thread(target=self.run, name=f"stream {stream_id}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        try:
            with self.pipeline as pipeline:
                for result in pipeline:
                    self.publish(result)
        except Exception as error:  # a stream failing must not take the server down
            self.error = str(error)
            log.error("stream %s (%s) failed: %s", self.id, self.source.name, error)
        finally:
            self.finished.set()

    def publish(self, result: Result) -> None:
        record = result.record()
        now = time.perf_counter()
        with self.lock:
            self.seq += 1
            record["seq"] = self.seq
            self.history.append((self.seq, record))
            self.latest = result
            self.recent.append(now)
            while now - self.recent[0] > FPS_WINDOW_S:
                self.recent.popleft()
            span = now - self.recent[0]  # frames over the last seconds, not one gap: a batch
            self.fps = (len(self.recent) - 1) / span if span > 0 else 0.0  # lands at once
            self.last_frame_at = now
            if result.counts is not None:
                self.counts = record["counts"]

    def since(self, seq: int) -> list[tuple[int, dict[str, Any]]]:
        """The kept records after ``seq``."""
        with self.lock:
            return [(s, record) for s, record in self.history if s > seq]

    def frame_jpeg(self) -> tuple[int, bytes | None]:
        """The newest frame annotated (boxes, ids, trails, lines and counts) as a JPEG."""
        with self.lock:
            result, seq = self.latest, self.seq
        if result is None:
            return seq, None
        ok, data = cv2.imencode(".jpg", draw(result), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        return seq, data.tobytes() if ok else None

    def stop(self) -> None:
        self.stopping = True
        self.pipeline.stop("deleted")

    def close(self, timeout: float = 5.0) -> None:
        self.stop()
        self.thread.join(timeout)

    @property
    def state(self) -> str:
        status = self.pipeline.stats[self.source.name].status
        if self.finished.is_set():
            if self.stopping:
                return "stopped"
            if self.error or status.startswith(("failed", "lost")):
                return "failed"
            return "ended"
        if self.last_frame_at is None:
            return "starting"
        stall = max(STALL_S, 5.0 / self.fps) if self.fps else STALL_S
        if self.source.live and time.perf_counter() - self.last_frame_at > stall:
            return "reconnecting"
        return "running"

    def info(self) -> dict[str, Any]:
        stats = self.pipeline.stats[self.source.name]
        analytics = self.pipeline.analytics
        failure = self.error or (
            stats.status if stats.status.startswith(("failed", "lost", "truncated")) else None
        )
        return {
            "id": self.id,
            "source": self.source.name,
            "state": self.state,
            "fps": round(self.fps, 2),
            "frames": stats.processed,
            "dropped": stats.dropped,
            "reconnects": self.source.reconnects,
            "track_ids": analytics.sources[self.source.name].ids_given if analytics else 0,
            "counts": self.counts,
            "error": failure,
        }


def tracker_config(values: dict[str, float]) -> TrackerConfig:
    known = {f.name for f in fields(TrackerConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ApiError(
            422,
            f"tracker: unknown setting(s) {unknown}; known: {', '.join(sorted(known))}",
            "tracker",
        )
    for key, value in values.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ApiError(422, f"tracker.{key}: a finite number, not {value!r}", f"tracker.{key}")
    ints = {"confirm_hits", "lost_frames"}
    return TrackerConfig(**{k: int(v) if k in ints else v for k, v in values.items()})


class StreamRegistry:
    """The server's streams, at most ``max_streams`` running; finished ones are kept (their
    state and counts readable) until deleted, the oldest forgotten beyond as many again."""

    def __init__(self, loaded: LoadedDetector, config: ServeConfig) -> None:
        self.loaded, self.config = loaded, config
        self.policy = SourcePolicy(
            config.stream_dirs, config.allowed_hosts, config.only_allowed_hosts
        )
        self.streams: dict[str, StreamHandle] = {}
        self.lock = asyncio.Lock()
        self.opening = 0  # sources being opened (each holds a slot of max_streams)

    def running(self) -> int:
        return sum(not handle.finished.is_set() for handle in self.streams.values())

    async def open(self, request: StreamRequest) -> StreamHandle:
        """Check the source, open it (a source that does not answer fails here, 422), start."""
        checked = self.policy.check(request.source)
        try:
            classes = (
                None if request.classes is None else self.loaded.categories.ids_of(request.classes)
            )
            config = StreamConfig(
                mode=request.mode,
                score_thresh=(
                    request.score_thresh
                    if request.score_thresh is not None
                    else self.config.score_thresh
                ),
                classes=classes,
                max_frames=request.max_frames,
                track="bytetrack" if request.track else None,
                tracker=tracker_config(request.tracker),
                count=CountConfig.from_plain(**request.count.model_dump()),
            )
        except DetectError as error:
            field = next((k for k in ("count", "tracker", "classes") if k in str(error)), None)
            raise ApiError(422, str(error), field) from None
        async with self.lock:  # a slot is taken here; the source opens outside the lock
            if self.running() + self.opening >= self.config.max_streams:
                raise ApiError(
                    429,
                    f"{self.config.max_streams} streams are running (serve.max_streams): delete "
                    "one first",
                    "source",
                )
            self.opening += 1
        try:
            await asyncio.to_thread(probe, checked, self.config.stream_timeout_s)
            sources = await asyncio.to_thread(
                open_sources,
                [checked.spec],
                request.loop,
                None,
                self.config.stream_timeout_s,
                checked.ffmpeg_options,
            )
        except DetectError as error:
            raise ApiError(
                422, f"source: {error}".replace(checked.spec, checked.name), "source"
            ) from None
        finally:
            self.opening -= 1
        sources[0].name = checked.name
        stream_id = uuid.uuid4().hex[:12]
        try:
            handle = StreamHandle(
                stream_id, sources[0], config, self.loaded, self.config.stream_history
            )
        except DetectError as error:
            for source in sources:
                source.close()
            raise ApiError(422, str(error), "count") from None
        async with self.lock:
            self.streams[stream_id] = handle
            self.forget_finished()
        handle.start()
        log.info("stream %s: %s", stream_id, sources[0].name)
        return handle

    def forget_finished(self) -> None:
        finished = [i for i, handle in self.streams.items() if handle.finished.is_set()]
        for stream_id in finished[: max(0, len(finished) - self.config.max_streams)]:
            del self.streams[stream_id]

    def get(self, stream_id: str) -> StreamHandle:
        handle = self.streams.get(stream_id)
        if handle is None:
            raise ApiError(404, f"no stream {stream_id!r}", "id")
        return handle

    async def delete(self, stream_id: str) -> None:
        handle = self.get(stream_id)
        await asyncio.to_thread(handle.close)
        self.streams.pop(stream_id, None)

    async def close_all(self) -> None:
        handles = list(self.streams.values())
        for handle in handles:
            handle.stop()
        await asyncio.gather(*(asyncio.to_thread(handle.close) for handle in handles))

    def infos(self) -> list[dict[str, Any]]:
        return [handle.info() for handle in list(self.streams.values())]
