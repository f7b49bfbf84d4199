"""What a detection stream writes: annotated mp4s and images, JSON lines, a live window.

:class:`Outputs` takes one :class:`Result` at a time (from the writer thread) and closes every
file in ``close()`` so videos are playable whenever the stream stops.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from detect.data.categories import CategoryMap
from detect.data.video import video_writer
from detect.inference.counting import Counts
from detect.inference.sources import Frame, Source
from detect.inference.tracking import Trail

log = logging.getLogger(__name__)

DEFAULT_FPS = 25.0  # for sources that do not say their frame rate
JSON_LINES = "detections.jsonl"


@dataclass(eq=False)
class Result:
    """A frame and its detections above the score threshold: ``boxes`` (D, 4) xyxy in the
    frame's pixels, ``scores`` (D,), ``labels`` (D,) contiguous 1..K, as numpy arrays. With
    tracking: ``track_ids`` (D,) (-1: no confirmed track; detections under the threshold that a
    track took are kept too), ``trails`` (track id → its recent centres, [x, y] oldest first)
    and the source's ``counts`` so far."""

    frame: Frame
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    track_ids: np.ndarray | None = None
    trails: dict[int, Trail] | None = None
    counts: Counts | None = None

    def record(self, categories: CategoryMap) -> dict[str, Any]:
        """The frame's JSON-lines record: source, frame index, timestamp, size, detections with
        box [x1, y1, x2, y2] (original pixels), category name and COCO id, score — and with
        tracking each detection's ``track_id`` (null: not a confirmed track) and the source's
        ``counts`` so far."""
        frame = self.frame
        record: dict[str, Any] = {
            "source": frame.source,
            "frame": frame.index,
            "timestamp": None if frame.timestamp is None else round(frame.timestamp, 4),
        }
        if frame.name is not None:
            record["file"] = frame.name
        record["width"], record["height"] = frame.bgr.shape[1], frame.bgr.shape[0]
        record["detections"] = [
            {
                "box": [round(float(v), 2) for v in box],
                "label": categories.names[label - 1],
                "category_id": categories.coco_id(label),
                "score": round(float(score), 4),
            }
            for box, score, label in zip(self.boxes, self.scores, self.labels.tolist(), strict=True)
        ]
        if self.track_ids is not None:
            for detection, track_id in zip(
                record["detections"], self.track_ids.tolist(), strict=True
            ):
                detection["track_id"] = track_id if track_id >= 0 else None
        if self.counts is not None:
            record["counts"] = self.counts.named(categories.names)
        return record


@functools.lru_cache(maxsize=256)
def colour(label: int) -> tuple[int, int, int]:
    """A stable, distinct BGR colour per label (golden-ratio hues)."""
    hue = int((label * 0.618033988749895 % 1.0) * 180)
    pixel = cv2.cvtColor(np.array([[[hue, 220, 255]]], dtype=np.uint8), cv2.COLOR_HSV2BGR)
    return tuple(int(v) for v in pixel[0, 0])


def label_text(
    image: np.ndarray, text: str, corner: tuple[int, int], bgr: tuple[int, int, int], scale: float
) -> None:
    """``text`` in black on a filled ``bgr`` box whose bottom-left is ``corner`` (kept inside
    the image)."""
    (width, height), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x, top = max(0, min(corner[0], image.shape[1] - width)), max(corner[1] - height - base, 0)
    cv2.rectangle(image, (x, top), (x + width, top + height + base), bgr, cv2.FILLED)
    cv2.putText(
        image, text, (x, top + height), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA
    )


def summary_text(counter: Counter[int], names: list[str]) -> str:
    """ "circle 2 square 1" (classes with no count left out), or "0"."""
    return " ".join(f"{names[k - 1]} {n}" for k, n in sorted(counter.items()) if n) or "0"


def draw_counts(
    image: np.ndarray, counts: Counts, names: list[str], thickness: int, scale: float
) -> None:
    """Each zone (outline, occupancy and entries) and line (with its in/out counts)."""
    white = (255, 255, 255)
    for zone in counts.zones:
        points = np.round(np.array(zone.points)).astype(np.int32)
        cv2.polylines(image, [points], True, white, thickness, cv2.LINE_AA)
        text = (
            f"{zone.name}: {summary_text(counts.inside[zone.name], names)} "
            f"(entered {summary_text(counts.entries[zone.name], names)})"
        )
        label_text(image, text, (int(points[:, 0].min()), int(points[:, 1].min())), white, scale)
    for line in counts.lines:
        start = tuple(round(v) for v in line.start)
        end = tuple(round(v) for v in line.end)
        cv2.line(image, start, end, white, thickness + 1, cv2.LINE_AA)
        crossed = counts.crossings[line.name]
        text = (
            f"{line.name} in: {summary_text(crossed['in'], names)} "
            f"out: {summary_text(crossed['out'], names)}"
        )
        corner = (max(0, min(start[0], end[0])), max(start[1], end[1]) - 2)
        label_text(image, text, (corner[0], min(corner[1], image.shape[0] - 2)), white, scale)


def draw(result: Result, categories: CategoryMap) -> np.ndarray:
    """A copy of the frame with each detection's box, category name and score drawn; with
    tracking, a tracked box's id and short trail (in the track's colour), and the lines and
    zones with their counts."""
    image = draw_boxes(
        result.frame.bgr,
        result.boxes,
        result.labels,
        categories,
        result.scores,
        track_ids=result.track_ids,
        trails=result.trails,
    )
    if result.counts is not None:
        thickness, scale = _line_sizes(image)
        draw_counts(image, result.counts, list(categories.names), thickness, scale)
    return image


def _line_sizes(image: np.ndarray) -> tuple[int, float]:
    """Line thickness and font scale for an image of this size."""
    return max(1, round(min(image.shape[:2]) / 300)), max(0.35, min(image.shape[:2]) / 900)


def draw_boxes(
    bgr: np.ndarray,
    boxes: np.ndarray,
    labels: Sequence[int],
    categories: CategoryMap,
    scores: Sequence[float] | None = None,
    notes: Sequence[str] | None = None,
    track_ids: np.ndarray | None = None,
    trails: dict[int, Trail] | None = None,
) -> np.ndarray:
    """A copy of ``bgr`` with each box (xyxy pixels) in its label's :func:`colour` (a tracked
    box: its track's colour, ``#id`` and trail), captioned with the category name, the score
    (if given) and a note (if given, e.g. an error type)."""
    image = bgr.copy()
    thickness, scale = _line_sizes(image)
    for index, (box, label) in enumerate(zip(boxes, list(labels), strict=True)):
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        track_id = -1 if track_ids is None else int(track_ids[index])
        bgr_colour = colour(int(label)) if track_id < 0 else colour(track_id)
        trail = (trails or {}).get(track_id)
        if trail is not None and len(trail) > 1:
            points = np.round(trail).astype(np.int32)
            cv2.polylines(image, [points], False, bgr_colour, thickness, cv2.LINE_AA)
        cv2.rectangle(image, (x1, y1), (x2, y2), bgr_colour, thickness, cv2.LINE_AA)
        text = categories.names[int(label) - 1]
        if scores is not None:
            text += f" {scores[index]:.2f}"
        if notes is not None and notes[index]:
            text += f" {notes[index]}"
        if track_id >= 0:
            text = f"#{track_id} {text}"
        label_text(image, text, (x1, y1), bgr_colour, scale)
    return image


class VideoOutput:
    """An mp4 of a source's annotated frames, opened at the first frame's size; a frame of
    another size (a stream that came back at another resolution) is resized to it."""

    def __init__(self, path: Path, fps: float | None) -> None:
        self.path, self.fps = path, fps or DEFAULT_FPS
        self.writer: cv2.VideoWriter | None = None
        self.size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if self.writer is None:
            self.size = (image.shape[1], image.shape[0])
            self.writer = video_writer(self.path, self.fps, self.size)
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        self.writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()  # writes the mp4 index: the file is playable from here
            self.writer = None


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

    def __init__(
        self, config: OutputConfig, categories: CategoryMap, sources: list[Source]
    ) -> None:
        self.config, self.categories = config, categories
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
            self.json = open(self.dir / JSON_LINES, "w", encoding="utf-8", buffering=1)  # noqa: SIM115
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
            annotated = draw(result, self.categories)
            if video:
                self.video(source).write(annotated)
            if images:
                folder = self.dir / source.slug
                folder.mkdir(exist_ok=True)
                name = result.frame.name or f"{result.frame.index:06d}.jpg"
                if not cv2.imwrite(str(folder / name), annotated):
                    raise OSError(f"cannot write image {folder / name}")
            if self.display is not None:
                self.display.show(source.name, annotated)
        if self.json is not None:
            self.json.write(json.dumps(result.record(self.categories)) + "\n")

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
