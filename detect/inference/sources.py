"""Frame sources: images, folders and globs, video files, webcams and network streams.

``open_sources(["clip.mp4", "shots/*.jpg", "0", "rtsp://cam/live"])`` checks that every source
opens (or raises a :class:`SourceError` naming it) and returns one :class:`Source` each; a
source's ``frames(stop)`` yields :class:`Frame`\\ s until it ends or ``stop`` is set. Live
sources (webcams, URLs) that drop are reopened with bounded exponential backoff.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from detect.data.images import IMAGE_SUFFIXES, read_image
from detect.errors import ImageError, SourceError

log = logging.getLogger(__name__)

# FFmpeg's own log lines ("[tcp @ 0x…] Connection refused", "[mjpeg @ 0x…] No JPEG data found")
# were printed raw beside ours; a source reports each failure itself, once. OpenCV reads this
# at its first FFmpeg capture; set OPENCV_FFMPEG_LOGLEVEL=32 (AV_LOG_INFO) to see them again.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv"}
GLOB_CHARS = re.compile(r"[*?\[]")
FFMPEG_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"


@dataclass(frozen=True)
class Reconnect:
    """How a live source that drops is reopened: ``tries`` attempts, waiting ``backoff_s``,
    then twice as long each time, at most ``max_backoff_s``."""

    tries: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0

    def delays(self) -> Iterator[float]:
        for attempt in range(self.tries):
            yield min(self.backoff_s * 2**attempt, self.max_backoff_s)


@dataclass(eq=False)
class Frame:
    """One decoded frame: ``bgr`` (H, W, 3) uint8 as OpenCV gives it, ``rgb`` (3, H, W) for the
    detector (dropped once detected); ``timestamp`` in seconds (position in a file, Unix time
    of capture for a live source, ``None`` for a still image); ``name`` an image's file name;
    ``segment`` counts the source's restarts before this frame (a looped file rewinding, a live
    stream reconnecting): frames of one segment follow each other."""

    source: str
    index: int
    timestamp: float | None
    bgr: np.ndarray
    rgb: np.ndarray | None
    read_at: float  # time.perf_counter() when decoded
    name: str | None = None
    segment: int = 0


@dataclass(eq=False)
class Source:
    """A frame source. ``live``: frames come at their own pace and may be dropped (webcams,
    URLs). ``length``: number of frames when known. ``reconnects`` counts reopenings. How it
    ended, when not cleanly: ``error`` (it failed while reading), ``lost`` (a live source out of
    reconnection tries), ``truncated`` (a file that ended before the frames its container
    lists), and ``skipped`` (unreadable images, file → reason)."""

    name: str
    kind: str  # "images" | "video" | "webcam" | "stream"
    live: bool
    length: int | None = None
    fps: float | None = None
    reconnects: int = 0
    error: str | None = None
    lost: str | None = None
    truncated: str | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    slug: str = ""

    def frames(self, stop: threading.Event, pace: bool = False) -> Iterator[Frame]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the source holds (idempotent)."""


def to_rgb_chw(bgr: np.ndarray) -> np.ndarray:
    """(H, W, 3) BGR → contiguous (3, H, W) RGB, the layout the detector takes."""
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).transpose(2, 0, 1))


@dataclass(eq=False)
class ImageSource(Source):
    """Still images, in the given order; an unreadable one is skipped, warned about and kept in
    ``skipped`` (file → reason)."""

    files: list[Path] = field(default_factory=list)

    def frames(self, stop: threading.Event, pace: bool = False) -> Iterator[Frame]:
        for index, file in enumerate(self.files):
            if stop.is_set():
                return
            try:
                bgr = read_image(file, order="bgr")
            except ImageError as error:
                self.skipped[str(file)] = error.reason
                log.warning("%s: skipping %s", self.name, error)
                continue
            rgb = to_rgb_chw(bgr)
            yield Frame(self.name, index, None, bgr, rgb, time.perf_counter(), file.name)


@dataclass(eq=False)
class VideoSource(Source):
    """A video file, webcam or network stream read with OpenCV's FFmpeg (or V4L2) backend.
    ``expected``: the frame count a file's container lists (None for live sources)."""

    target: str | int = ""
    loop: bool = False
    reconnect: Reconnect = field(default_factory=Reconnect)
    timeout_s: float = 10.0
    capture: cv2.VideoCapture | None = None
    expected: int | None = None
    ffmpeg_options: str | None = None  # FFmpeg's open options (the server limits protocols)
    barren: int = 0  # reopens in a row that gave no decodable frame (reset by a frame)
    finite: bool = False  # a URL serving a file (its frame count known): not reopened at its end

    def open(self) -> cv2.VideoCapture:
        """A new capture, or a :class:`SourceError` that says why not."""
        if isinstance(self.target, int):
            capture = cv2.VideoCapture(self.target)
            reason = f"no camera answers at index {self.target}"
        else:
            timeout_ms = int(self.timeout_s * 1000)
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms]
            params += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
            with capture_options(self.ffmpeg_options):
                capture = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, params)
            reason = (
                f"no answer within {self.timeout_s:g} s or not a stream FFmpeg can read"
                if self.kind == "stream"
                else "not a video FFmpeg can read"
            )
        if not capture.isOpened():
            capture.release()
            raise SourceError(self.name, reason)
        return capture

    def start(self) -> None:
        """Open now (so a bad source fails before the pipeline starts) and read its properties."""
        self.capture = self.open()
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else None
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        # a URL whose container lists its frames is a file over HTTP, not a camera: its end is
        # the end (reopening it would download it again and again as if live)
        self.finite = self.kind == "stream" and count > 0
        self.expected = count if count > 0 and not self.live else None
        self.length = self.expected if not self.loop else None

    def frames(self, stop: threading.Event, pace: bool = False) -> Iterator[Frame]:
        if self.capture is None:
            self.start()
        index, offset, last, this_pass, segment = 0, 0.0, 0.0, 0, 0
        began = time.perf_counter()
        period = 1.0 / self.fps if pace and self.fps else 0.0
        try:
            while not stop.is_set():
                if period:  # a file read "live": at its own frame rate
                    wait = began + index * period - time.perf_counter()
                    if wait > 0 and stop.wait(wait):
                        return
                ok, bgr = self.capture.read()
                if not ok:
                    if self.live and not self.finite and self.reopen(stop):
                        segment += 1
                        continue
                    self.check_complete(this_pass)
                    if self.loop and index and self.rewind():
                        this_pass = 0
                        segment += 1
                        offset = last + (period or 1.0 / (self.fps or 25.0))
                        continue
                    return
                if self.live:
                    timestamp = time.time()
                else:
                    timestamp = offset + self.capture.get(cv2.CAP_PROP_POS_MSEC) / 1000
                    last = timestamp
                self.barren = 0
                rgb = to_rgb_chw(bgr)
                yield Frame(
                    self.name, index, timestamp, bgr, rgb, time.perf_counter(), segment=segment
                )
                index += 1
                this_pass += 1
        finally:
            self.close()

    def check_complete(self, decoded: int) -> None:
        """A file that ends well short of the frames its container lists is truncated (a few
        frames' slack: some containers' counts are estimates)."""
        missing = (self.expected or 0) - decoded
        if self.expected and self.truncated is None and missing > max(2, self.expected // 50):
            self.truncated = f"decoded {decoded} of the {self.expected} frames its container lists"
            log.error("%s: truncated: %s", self.name, self.truncated)

    def rewind(self) -> bool:
        """Start a looped file again from its first frame."""
        self.capture.release()
        self.capture = self.open()
        return True

    def reopen(self, stop: threading.Event) -> bool:
        """Reconnect a dropped live source with backoff; False once the tries are spent (the
        source then ends with ``error`` set) or when stopped. A reopen that yields no decodable
        frame before dropping again counts as a spent try: a server that answers but sends
        only broken frames would otherwise be reopened forever."""
        self.capture.release()
        if self.barren >= self.reconnect.tries:
            self.capture = None
            self.lost = (
                f"reopened {self.barren} times in a row without one decodable frame (the "
                "stream answers but its frames cannot be decoded: check its URL and format)"
            )
            log.error("%s: stream lost: %s", self.name, self.lost)
            return False
        for attempt, delay in enumerate(self.reconnect.delays(), start=1):
            log.warning(
                "%s: stream lost, reconnecting in %.1f s (try %d of %d)",
                self.name,
                delay,
                attempt,
                self.reconnect.tries,
            )
            if stop.wait(delay):
                return False
            try:
                self.capture = self.open()
            except SourceError:
                continue
            self.reconnects += 1
            self.barren += 1
            log.warning("%s: reconnected", self.name)
            return True
        self.capture = None
        self.lost = f"{self.reconnect.tries} reconnection tries failed"
        log.error("%s: stream lost: %s", self.name, self.lost)
        return False

    def close(self) -> None:
        if self.capture is not None:
            self.capture.release()
            self.capture = None


class _SharedOptions:
    """``OPENCV_FFMPEG_CAPTURE_OPTIONS`` is one variable per process, read by OpenCV at each
    open: opens with the same options run together, one with other options waits until
    they are done (a source slow to answer delays only opens that need other options)."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.current: str | None = None
        self.users = 0
        self.before: str | None = None

    @contextlib.contextmanager
    def using(self, options: str) -> Iterator[None]:
        with self.changed:
            self.changed.wait_for(lambda: self.users == 0 or self.current == options)
            if self.users == 0:
                self.before = os.environ.get(FFMPEG_OPTIONS_ENV)
                os.environ[FFMPEG_OPTIONS_ENV] = options
                self.current = options
            self.users += 1
        try:
            yield
        finally:
            with self.changed:
                self.users -= 1
                if self.users == 0:
                    if self.before is None:
                        os.environ.pop(FFMPEG_OPTIONS_ENV, None)
                    else:
                        os.environ[FFMPEG_OPTIONS_ENV] = self.before
                    self.current = None
                    self.changed.notify_all()


_OPTIONS = _SharedOptions()


@contextlib.contextmanager
def capture_options(options: str | None) -> Iterator[None]:
    """FFmpeg's open options for the captures opened inside (``key;value|key;value``, as
    OpenCV reads ``OPENCV_FFMPEG_CAPTURE_OPTIONS`` at each open): sources with different
    options never see each other's; sources with the same ones open at once. None: as they
    are."""
    if options is None:
        yield
        return
    with _OPTIONS.using(options):
        yield


def expand(spec: str) -> list[Path]:
    """The image and video files a folder or glob names, sorted (by suffix: an unreadable one,
    even a directory named like an image, is kept so that it is reported, not lost)."""
    path = Path(spec)
    if path.is_dir():
        files = list(path.iterdir())
    else:
        files = [Path(name) for name in glob.glob(spec, recursive=True)]
    known = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    return sorted(file for file in files if file.suffix.lower() in known)


def is_webcam(spec: str | int) -> bool:
    return isinstance(spec, int) or str(spec).isdigit()


def is_live(spec: str | int) -> bool:
    """A webcam index or a URL: a source with no end."""
    return is_webcam(spec) or "://" in str(spec)


def open_source(
    spec: str | int,
    loop: bool = False,
    reconnect: Reconnect | None = None,
    timeout_s: float = 10.0,
    ffmpeg_options: str | None = None,
) -> list[Source]:
    """The source(s) ``spec`` names, opened: a webcam index, a URL, an image, a video file, or a
    folder/glob (all its images as one source, each video as its own). ``ffmpeg_options``:
    FFmpeg's open options for its videos (see :func:`capture_options`)."""
    reconnect = reconnect or Reconnect()
    name = str(spec)
    options = {
        "loop": loop,
        "reconnect": reconnect,
        "timeout_s": timeout_s,
        "ffmpeg_options": ffmpeg_options,
    }
    if is_webcam(spec):
        sources: list[Source] = [
            VideoSource(name, "webcam", live=True, target=int(name), **options)
        ]
    elif is_live(spec):
        sources = [VideoSource(name, "stream", live=True, target=name, **options)]
    elif Path(name).is_file():
        if Path(name).suffix.lower() in IMAGE_SUFFIXES:
            sources = [ImageSource(name, "images", live=False, files=[Path(name)])]
        else:
            sources = [VideoSource(name, "video", live=False, target=name, **options)]
    elif Path(name).is_dir() or GLOB_CHARS.search(name):
        files = expand(name)
        if not files:
            raise SourceError(name, "no image or video files there")
        images = [file for file in files if file.suffix.lower() in IMAGE_SUFFIXES]
        videos = [file for file in files if file.suffix.lower() in VIDEO_SUFFIXES]
        sources = [ImageSource(name, "images", live=False, files=images)] if images else []
        sources += [
            VideoSource(str(file), "video", live=False, target=str(file), **options)
            for file in videos
        ]
    else:
        raise SourceError(name, "no such file or directory")
    for source in sources:
        start(source)
    return sources


def start(source: Source) -> None:
    """Open a source now: a bad file or a URL that does not answer fails here, by name."""
    if isinstance(source, VideoSource):
        source.start()
    elif isinstance(source, ImageSource):
        if len(source.files) == 1 and source.name == str(source.files[0]):
            try:  # a single image must be one; a folder's bad files are skipped and counted
                read_image(source.files[0])
            except ImageError as error:
                raise SourceError(source.name, error.reason) from None
        source.length = len(source.files)


def slug(name: str) -> str:
    """A file-name-safe short form of a source name (for output files)."""
    if "://" in name:
        text = name.split("://", 1)[1]
    else:
        path = Path(name.split("#")[0])
        while GLOB_CHARS.search(str(path)) and path != path.parent:
            path = path.parent  # photos/*.jpg → photos
        text = path.stem if path.is_file() else path.name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "source"


def unopened(name: str, error: SourceError) -> Source:
    """A list's file that could not be opened: a source of no images, the file in its
    ``skipped``, which the run's summary lists, as a folder's unreadable images."""
    return ImageSource(name, "images", live=False, files=[], skipped={name: error.reason})


def open_sources(
    specs: str | int | Sequence[str | int],
    loop: bool = False,
    reconnect: Reconnect | None = None,
    timeout_s: float = 10.0,
    ffmpeg_options: str | None = None,
) -> list[Source]:
    """Every source the specs name, opened, with unique names and ``slug``\\ s; on an error,
    the sources opened so far are closed and the :class:`SourceError` names the culprit."""
    if isinstance(specs, (str, int)):
        specs = [specs]
    if not specs:
        raise SourceError("", "no source given: source=<image|folder|glob|video|webcam|URL>")
    sources: list[Source] = []
    try:
        for spec in specs:
            try:
                sources += open_source(spec, loop, reconnect, timeout_s, ffmpeg_options)
            except SourceError as error:
                if len(specs) == 1 or is_live(spec) or is_webcam(spec):
                    raise
                # a file of a list is skipped and counted, as a folder's are
                log.warning("skipping %s", error)
                sources.append(unopened(str(spec), error))
    except BaseException:
        for source in sources:
            source.close()
        raise
    names: dict[str, int] = {}
    slugs: dict[str, int] = {}
    for source in sources:  # the same source twice: "clip.mp4", "clip.mp4#2"
        names[source.name] = names.get(source.name, 0) + 1
        if names[source.name] > 1:
            source.name = f"{source.name}#{names[source.name]}"
        base = slug(source.name)
        slugs[base] = slugs.get(base, 0) + 1
        source.slug = base if slugs[base] == 1 else f"{base}_{slugs[base]}"
    return sources
