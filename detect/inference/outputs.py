"""What a detection stream writes: annotated mp4s and images, JSON lines, a live window.

:class:`Outputs` takes one :class:`Result` at a time (from the writer thread) and closes every
file in ``close()`` so videos are playable whenever the stream stops.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from detect.data.video import video_writer
from detect.inference.counting import Counts
from detect.inference.detections import Detections
from detect.inference.drawing import draw_counts, line_sizes
from detect.inference.sources import Frame, Source
from detect.inference.tracking import Trail
from detect.io import atomic_write, fresh_file, staging_file

log = logging.getLogger(__name__)

DEFAULT_FPS = 25.0  # for sources that do not say their frame rate
JSON_LINES = "detections.jsonl"


@dataclass(eq=False)
class Result:
    """A frame and its :class:`Detections` above the score threshold (in the frame's pixels).
    With tracking, the detections carry ``track_ids`` (-1: no confirmed track; detections
    under the threshold that a track took are kept too), and the result the ``trails`` (track
    id → its recent centres, [x, y] oldest first) and the source's ``counts`` so far."""

    frame: Frame
    detections: Detections
    trails: dict[int, Trail] | None = None
    counts: Counts | None = None

    def record(self) -> dict[str, Any]:
        """The frame's JSON-lines record: source, frame index, timestamp, file (images),
        width, height, the detections (:meth:`Detections.to_records`) and, when counting, the
        source's ``counts`` so far."""
        frame = self.frame
        record: dict[str, Any] = {
            "source": frame.source,
            "frame": frame.index,
            "timestamp": None if frame.timestamp is None else round(frame.timestamp, 4),
        }
        if frame.name is not None:
            record["file"] = frame.name
        record["width"], record["height"] = frame.bgr.shape[1], frame.bgr.shape[0]
        record["detections"] = self.detections.to_records()
        if self.counts is not None:
            record["counts"] = self.counts.named(self.detections.names)
        return record


def draw(result: Result) -> np.ndarray:
    """A copy of the frame with each detection's box, category name and score drawn; with
    tracking, a tracked box's id and short trail (in the track's colour), and the lines and
    zones with their counts."""
    image = result.detections.draw(result.frame.bgr, result.trails)
    if result.counts is not None:
        thickness, scale = line_sizes(image)
        draw_counts(image, result.counts, result.detections.names, thickness, scale)
    return image


class VideoOutput:
    """An mp4 of a source's annotated frames, opened at the first frame's size; a frame of
    another size (a stream that came back at another resolution) is resized to it. OpenCV
    writes a file made exclusively beside ``path`` (it would follow a link planted at
    ``path``), renamed onto ``path`` when closed."""

    def __init__(self, path: Path, fps: float | None) -> None:
        self.path, self.fps = path, fps or DEFAULT_FPS
        self.writer: cv2.VideoWriter | None = None
        self.staging: Path | None = None
        self.size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if self.writer is None:
            self.size = (image.shape[1], image.shape[0])
            file, staging = staging_file(self.path, suffix=self.path.suffix)
            file.close()
            try:
                self.writer = video_writer(staging, self.fps, self.size)
            except BaseException:
                staging.unlink(missing_ok=True)
                raise
            self.staging = staging
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self.writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()  # writes the mp4 index: the file is playable from here
            self.writer = None
            os.replace(self.staging, self.path)


class Display:
    """One OpenCV window per source; ``q`` or Esc asks the stream to stop."""

    def __init__(self) -> None:
        self.windows: set[str] = set()
        self.quit = False

    @staticmethod
    def available() -> str | None:
        """None when a window can be shown, else why not."""
        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            return "no display (DISPLAY is not set)"
        try:
            cv2.namedWindow("detect", cv2.WINDOW_NORMAL)
            cv2.destroyWindow("detect")
        except cv2.error:
            return (
                "this OpenCV has no GUI (opencv-python-headless); "
                "install opencv-python to show a window"
            )
        return None

    def show(self, name: str, image: np.ndarray) -> None:
        self.windows.add(name)
        cv2.imshow(name, image)
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            self.quit = True

    def close(self) -> None:
        for name in self.windows:
            cv2.destroyWindow(name)


@dataclass
class OutputConfig:
    """Where and what to write. ``save_video``: an annotated mp4 per video, webcam or stream
    source; ``save_images``: the annotated images of image sources; ``save_json``: one
    JSON-lines file, a record per processed frame; ``show``: a live window if there is a
    display."""

    output_dir: str | Path | None = None
    save_video: bool = True
    save_images: bool = True
    save_json: bool = True
    show: bool = False


class Outputs:
    """Writes every :class:`Result` as configured; ``close()`` finalises every file."""

    def __init__(self, config: OutputConfig, sources: list[Source]) -> None:
        self.config = config
        self.sources = {source.name: source for source in sources}
        writes = config.save_video or config.save_images or config.save_json
        if writes and config.output_dir is None:
            raise ValueError("output_dir is needed to save videos, images or JSON lines")
        self.dir = Path(config.output_dir) if config.output_dir is not None else None
        if writes:
            self.dir.mkdir(parents=True, exist_ok=True)
        self.videos: dict[str, VideoOutput] = {}
        self.json: IO[str] | None = None
        if config.save_json:
            # open for the stream's whole life, closed by close(); line-buffered: a record per
            # frame reaches the file as it is written
            self.json = io.TextIOWrapper(
                fresh_file(self.dir / JSON_LINES), encoding="utf-8", line_buffering=True
            )
        self.display: Display | None = None
        if config.show:
            reason = Display.available()
            if reason:
                log.warning("show=true: no live window, %s", reason)
            else:
                self.display = Display()

    @property
    def quit_requested(self) -> bool:
        return self.display is not None and self.display.quit

    def write(self, result: Result) -> None:
        source = self.sources[result.frame.source]
        video = self.config.save_video and source.kind != "images"
        images = self.config.save_images and source.kind == "images"
        if video or images or self.display is not None:
            annotated = draw(result)
            if video:
                self.video(source).write(annotated)
            if images:
                folder = self.dir / source.slug
                folder.mkdir(exist_ok=True)
                name = result.frame.name or f"{result.frame.index:06d}.jpg"
                encoded, data = cv2.imencode(Path(name).suffix or ".jpg", annotated)
                if not encoded:
                    raise OSError(f"cannot write image {folder / name}")
                atomic_write(folder / name, data.tobytes())
            if self.display is not None:
                self.display.show(source.name, annotated)
        if self.json is not None:
            self.json.write(json.dumps(result.record()) + "\n")

    def video(self, source: Source) -> VideoOutput:
        if source.name not in self.videos:
            path = self.dir / f"{source.slug}.mp4"
            self.videos[source.name] = VideoOutput(path, source.fps)
        return self.videos[source.name]

    def paths(self) -> list[Path]:
        """The files and folders written so far."""
        written = [video.path for video in self.videos.values()]
        if self.json is not None:
            written.append(self.dir / JSON_LINES)
        written += [
            self.dir / source.slug
            for source in self.sources.values()
            if source.kind == "images" and (self.dir / source.slug).is_dir()
        ]
        return written

    def close(self) -> None:
        for video in self.videos.values():
            video.close()
        if self.json is not None:
            self.json.close()
        if self.display is not None:
            self.display.close()
