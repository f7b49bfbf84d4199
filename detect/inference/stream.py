"""The detection pipeline: a reader thread per source → bounded buffers → one inference loop
that batches frames from all sources into ONE detector call → a writer thread.

Memory is bounded by the buffers, whatever the stream's length: ``every_frame`` buffers hold
``queue_size`` frames and block their reader when full (files: every frame, in order);
``realtime`` buffers are a one-frame "latest" slot whose overwritten frames count as dropped
(live sources: always the newest frame). The writer's queue holds ``queue_size`` results and
blocks the inference loop when full. Embed it as an iterator::

    with DetectionStream(detector, open_sources(["a.mp4", "rtsp://cam"]), StreamConfig()) as s:
        for result in s:  # Result: frame, detections (boxes, scores, class ids)
            ...

or run it with outputs (mp4, images, JSON lines, window) via :func:`run_stream`.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from tqdm import tqdm

from detect.data.categories import CategoryMap
from detect.errors import StreamConfigError
from detect.inference.analytics import Analytics
from detect.inference.backends import ExportedPredictor
from detect.inference.counting import CountConfig
from detect.inference.detections import DEFAULT_SCORE_THRESH, Detections
from detect.inference.outputs import OutputConfig, Outputs, Result
from detect.inference.sources import Frame, Source
from detect.inference.stats import SourceStats, Stage, StreamSummary
from detect.inference.tracking import TRACKERS, TrackerConfig
from detect.models.predictor import Detector

log = logging.getLogger(__name__)

MODES = ("auto", "every_frame", "realtime")


STOP_GRACE_S = 2.0  # after a stop, how long to wait for a reader stuck in a blocking read
FILL_WAIT_S = 0.02  # every_frame: how long to wait for a reader to fill a batch


@dataclass
class StreamConfig:
    """``mode``: every_frame | realtime | auto (every_frame for files and images, realtime for
    webcams and URLs); a file in realtime mode is read at its own frame rate, like a camera.
    ``batch_size``: most frames per detector call, taken round-robin across sources.
    ``queue_size``: every_frame buffer per source and the writer's queue. ``max_frames``: most
    frames read from each source (None: to its end). ``classes``: the category ids kept (None:
    all); ``max_detections``: most detections kept per frame, the best scores. ``track``: None
    or ``"bytetrack"`` (a tracker per source, see :mod:`detect.inference.tracking`) with
    ``tracker``'s settings; ``count``: lines and zones to count tracks on (needs ``track``)."""

    mode: str = "auto"
    batch_size: int = 4
    queue_size: int = 8
    score_thresh: float = DEFAULT_SCORE_THRESH
    classes: tuple[int, ...] | None = None
    max_detections: int | None = None
    max_frames: int | None = None
    track: str | None = None
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    count: CountConfig = field(default_factory=CountConfig)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise StreamConfigError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.batch_size < 1 or self.queue_size < 1:
            raise StreamConfigError("batch_size and queue_size must be at least 1")
        if self.track is not None and self.track not in TRACKERS:
            raise StreamConfigError(
                f"track must be null or one of {', '.join(TRACKERS)}, not {self.track!r}"
            )
        if self.max_frames is not None and self.max_frames < 1:
            raise StreamConfigError(
                f"max_frames={self.max_frames}: give at least 1, or null to read to the end"
            )
        if self.max_detections is not None and self.max_detections < 1:
            raise StreamConfigError(
                f"max_detections={self.max_detections}: give at least 1, or null for all"
            )
        if self.classes is not None:
            self.classes = tuple(int(c) for c in self.classes)
        if self.count.active and self.track is None:
            raise StreamConfigError("count.lines and count.zones count tracks: set track=bytetrack")

    def source_mode(self, source: Source) -> str:
        if self.mode != "auto":
            return self.mode
        return "realtime" if source.live else "every_frame"


class FrameBuffer:
    """A source's bounded buffer; all share one condition so the consumer waits on any."""

    def __init__(
        self, capacity: int, latest: bool, ready: threading.Condition, stats: SourceStats
    ) -> None:
        self.items: collections.deque[Frame] = collections.deque()
        self.capacity, self.latest, self.ready, self.stats = capacity, latest, ready, stats
        self.finished = False

    def put(self, frame: Frame, stop: threading.Event) -> None:
        """Latest slot: replace what is there (a drop). Else wait for room (or a stop)."""
        with self.ready:
            if self.latest:
                while len(self.items) >= self.capacity:
                    self.items.popleft()
                    self.stats.dropped += 1
            else:
                while len(self.items) >= self.capacity and not stop.is_set():
                    self.ready.wait(0.1)
                if len(self.items) >= self.capacity:
                    self.stats.dropped += 1
                    return
            self.items.append(frame)
            self.ready.notify_all()

    def finish(self) -> None:
        with self.ready:
            self.finished = True
            self.ready.notify_all()


class DetectionStream:
    """Readers, buffers and the batching inference loop; iterate for :class:`Result`\\ s (the
    loop runs in the iterating thread). ``stop()`` ends reading; what is buffered is still
    detected and yielded, so every frame read is either yielded or counted as dropped."""

    def __init__(
        self,
        detector: Detector,
        sources: Sequence[Source],
        config: StreamConfig | None = None,
        categories: CategoryMap | None = None,
    ) -> None:
        """``categories``: the detector's, to give category ids and names (None: the
        detector's labels stand for both)."""
        self.detector, self.sources, self.categories = detector, list(sources), categories
        if len({source.name for source in self.sources}) < len(self.sources):
            raise ValueError("sources need unique names (open_sources gives them)")
        self.config = config or StreamConfig()
        self.stop_event = threading.Event()
        self.stopped_by: str | None = None
        self.stopped_at: float | None = None
        self.ready = threading.Condition()
        self.stats = {
            s.name: SourceStats(s.name, s.kind, self.config.source_mode(s)) for s in self.sources
        }
        self.buffers = [
            FrameBuffer(
                1 if self.stats[s.name].mode == "realtime" else self.config.queue_size,
                self.stats[s.name].mode == "realtime",
                self.ready,
                self.stats[s.name],
            )
            for s in self.sources
        ]
        self.analytics = None
        if self.config.track is not None:
            self.analytics = Analytics(self.config.tracker, self.config.count, self.sources)
        threshold = self.config.score_thresh
        floor = self.analytics.floor(threshold) if self.analytics else threshold
        if isinstance(detector, ExportedPredictor):  # raw heads: decoded from the floor on
            self.detector = detector.decoding_from(floor)
        self.infer, self.track = Stage(), Stage()
        self.batch_sizes: collections.Counter[int] = collections.Counter()
        self.threads: list[threading.Thread] = []
        self.turn = 0
        self.started: float | None = None

    def __enter__(self) -> DetectionStream:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start a reader thread per source (once)."""
        if self.started is not None:
            return
        self.started = time.perf_counter()
        for source, buffer in zip(self.sources, self.buffers, strict=True):
            thread = threading.Thread(
                target=self.read, args=(source, buffer), name=f"read {source.name}", daemon=True
            )
            thread.start()
            self.threads.append(thread)

    def stop(self, reason: str = "request") -> None:
        """Stop reading (thread-safe; a signal handler may call it)."""
        if not self.stop_event.is_set():
            self.stopped_by, self.stopped_at = reason, time.perf_counter()
            self.stop_event.set()

    def close(self) -> None:
        """Stop, and wait (briefly) for the readers to release their sources."""
        self.stop("close")
        for thread in self.threads:
            thread.join(timeout=STOP_GRACE_S)
        for source, thread in zip(self.sources, self.threads, strict=False):
            if not thread.is_alive():
                source.close()

    def read(self, source: Source, buffer: FrameBuffer) -> None:
        """Reader thread: frames → buffer, until the source ends, fails, or ``stop``."""
        stats, limit = buffer.stats, self.config.max_frames
        pace = stats.mode == "realtime" and not source.live
        frames = source.frames(self.stop_event, pace=pace)
        try:
            while limit is None or stats.read < limit:
                start = time.perf_counter()
                frame = next(frames, None)
                if frame is None:
                    break
                stats.read_latency.add(time.perf_counter() - start)
                stats.read += 1
                buffer.put(frame, self.stop_event)
            stats.status = "stopped" if self.stop_event.is_set() else "ended"
        except Exception as error:  # a source failing mid-stream must not stop the others
            source.error = str(error)
            log.error("%s: %s", source.name, error)
        finally:
            frames.close()
            source.close()
            stats.reconnects, stats.skipped = source.reconnects, dict(source.skipped)
            if source.error:
                stats.status = f"failed: {source.error}"
            elif source.lost:
                stats.status = f"lost: {source.lost}"
            elif source.truncated:
                stats.status = f"truncated: {source.truncated}"
            buffer.finish()

    def take(self) -> list[Frame]:
        """Up to ``batch_size`` frames, round-robin over the sources, once any has one (and an
        every_frame reader had up to ``FILL_WAIT_S`` to fill the batch); [] when every source
        has ended and its buffer is empty."""
        with self.ready:
            while not any(buffer.items for buffer in self.buffers):
                if all(buffer.finished for buffer in self.buffers):
                    return []
                if self.stopped_at and time.perf_counter() - self.stopped_at > STOP_GRACE_S:
                    return []  # a reader stuck in a blocking read: leave it behind
                self.ready.wait(0.1)
            deadline = time.perf_counter() + FILL_WAIT_S
            while self.can_fill() and (left := deadline - time.perf_counter()) > 0:
                self.ready.wait(left)
            count = len(self.buffers)
            order = [self.buffers[(self.turn + i) % count] for i in range(count)]
            self.turn += 1
            batch: list[Frame] = []
            while len(batch) < self.config.batch_size and any(b.items for b in order):
                for buffer in order:
                    if buffer.items and len(batch) < self.config.batch_size:
                        batch.append(buffer.items.popleft())
            self.ready.notify_all()
            return batch

    def can_fill(self) -> bool:
        """The batch is short and an every_frame reader that is still going has room."""
        if sum(len(buffer.items) for buffer in self.buffers) >= self.config.batch_size:
            return False
        return not self.stop_event.is_set() and any(
            not buffer.latest and not buffer.finished and len(buffer.items) < buffer.capacity
            for buffer in self.buffers
        )

    def __iter__(self) -> Iterator[Result]:
        self.start()
        while frames := self.take():
            start = time.perf_counter()
            detections = self.detector([torch.from_numpy(frame.rgb) for frame in frames])
            self.infer.add(time.perf_counter() - start)
            self.batch_sizes[len(frames)] += 1
            threshold = self.config.score_thresh
            floor = self.analytics.floor(threshold) if self.analytics else threshold
            limits = self.config.classes, self.config.max_detections
            for frame, found in zip(frames, detections, strict=True):
                frame.rgb = None  # the detector's copy is no longer needed
                self.stats[frame.source].processed += 1
                result = Result(
                    frame, Detections.from_output(found, self.categories, floor, *limits)
                )
                if self.analytics is not None:
                    start = time.perf_counter()
                    self.analytics.update(result, threshold)
                    self.track.add(time.perf_counter() - start)
                yield result

    def summary(self) -> StreamSummary:
        """Counts and latencies so far (read latency summed over the sources)."""
        reads = [stats.read_latency for stats in self.stats.values()]
        wall = time.perf_counter() - self.started if self.started else 0.0
        stopped = self.stopped_by if self.stopped_by != "close" else None
        stages = {"read": Stage().merge(reads), "infer": self.infer}
        if self.analytics is not None:
            stages["track"] = self.track
            for name, analytics in self.analytics.sources.items():
                stats = self.stats[name]
                stats.track_ids, stats.peak_tracks = analytics.ids_given, analytics.peak_tracks
                if analytics.counter.active:
                    stats.counts = analytics.counter.snapshot()
        return StreamSummary(
            list(self.stats.values()),
            wall,
            stages,
            dict(sorted(self.batch_sizes.items())),
            stopped,
            tracking=self.analytics is not None,
        )


class Writer:
    """A thread that writes results through :class:`Outputs` from a bounded queue. A write
    error stops the stream and is raised again by ``close()``."""

    def __init__(self, outputs: Outputs, queue_size: int, on_error: Callable[[], None]) -> None:
        self.outputs, self.on_error = outputs, on_error
        self.queue: queue.Queue[Result | None] = queue.Queue(maxsize=queue_size)
        self.write, self.end_to_end = Stage(), Stage()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.run, name="write", daemon=True)
        self.thread.start()

    def put(self, result: Result) -> None:
        self.queue.put(result)

    def run(self) -> None:
        while (result := self.queue.get()) is not None:
            if self.error is not None:
                continue  # keep draining so the producer never blocks
            start = time.perf_counter()
            try:
                self.outputs.write(result)
            except Exception as error:
                self.error = error
                self.on_error()
                continue
            done = time.perf_counter()
            self.write.add(done - start)
            self.end_to_end.add(done - result.frame.read_at)

    def close(self) -> None:
        """Write what is queued, then close every output file."""
        self.queue.put(None)
        self.thread.join()
        self.outputs.close()
        if self.error is not None:
            raise self.error


@contextlib.contextmanager
def stop_on_signals(stop: Callable[[str], None]) -> Iterator[None]:
    """SIGINT / SIGTERM call ``stop(name)`` (drain and close cleanly); a second one aborts.
    Only in the main thread (elsewhere Python cannot take signals): a no-op there."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(number: int, frame: object) -> None:
        received.append(number)
        if len(received) > 1:
            raise KeyboardInterrupt
        name = signal.Signals(number).name
        log.warning("%s: stopping, finishing the queued frames (again to abort)", name)
        stop(name)

    previous = {number: signal.signal(number, handler) for number in SIGNALS}
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)


SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_stream(
    detector: Detector,
    categories: CategoryMap,
    sources: Sequence[Source],
    config: StreamConfig | None = None,
    outputs: OutputConfig | None = None,
    progress: bool = True,
) -> StreamSummary:
    """Detect on every source and write the outputs (None: write nothing); returns the
    summary. A progress bar
    counts processed frames (with a total when every source's length is known)."""
    config = config or StreamConfig()
    nothing = OutputConfig(save_video=False, save_images=False, save_json=False)
    sink = Outputs(outputs or nothing, sources)
    stream = DetectionStream(detector, sources, config, categories)
    writer = Writer(sink, config.queue_size, on_error=lambda: stream.stop("write error"))
    total = None
    if all(source.length is not None for source in sources):
        total = sum(min(source.length, config.max_frames or source.length) for source in sources)
    bar = tqdm(total=total, desc="detecting", unit="frame", disable=not progress)
    try:
        with stop_on_signals(stream.stop), stream:
            for result in stream:
                writer.put(result)
                bar.update()
                if sink.quit_requested:
                    stream.stop("window closed")
    finally:
        bar.close()
        writer.close()  # before the summary: the wall time includes the last writes
    summary = stream.summary()
    summary.stages["write"], summary.stages["end_to_end"] = writer.write, writer.end_to_end
    summary.outputs = sink.paths()
    summary.names = categories.by_id
    return summary
