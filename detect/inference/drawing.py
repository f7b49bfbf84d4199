"""Drawing detections on BGR images: boxes with captions, tracks' ids and trails, counting
lines and zones (OpenCV, anti-aliased, sizes scaled to the image)."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from detect.inference.counting import Counts
from detect.inference.tracking import Trail


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


def name_of(names: Mapping[int, str], class_id: int) -> str:
    """A class's name, or its number when ``names`` lacks it."""
    return names.get(class_id, str(class_id))


def summary_text(counter: Counter[int], names: Mapping[int, str]) -> str:
    """ "circle 2 square 1" (classes with no count left out), or "0"."""
    return " ".join(f"{name_of(names, k)} {n}" for k, n in sorted(counter.items()) if n) or "0"


def draw_counts(
    image: np.ndarray, counts: Counts, names: Mapping[int, str], thickness: int, scale: float
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


def line_sizes(image: np.ndarray) -> tuple[int, float]:
    """Line thickness and font scale for an image of this size."""
    return max(1, round(min(image.shape[:2]) / 300)), max(0.35, min(image.shape[:2]) / 900)


def draw_boxes(
    bgr: np.ndarray,
    boxes: np.ndarray,
    labels: Sequence[int],
    names: Mapping[int, str],
    scores: Sequence[float] | None = None,
    notes: Sequence[str] | None = None,
    track_ids: np.ndarray | None = None,
    trails: dict[int, Trail] | None = None,
) -> np.ndarray:
    """A copy of ``bgr`` with each box (xyxy pixels) in its label's :func:`colour` (a tracked
    box: its track's colour, ``#id`` and trail), captioned with the category name, the score
    (if given) and a note (if given, e.g. an error type)."""
    image = bgr.copy()
    thickness, scale = line_sizes(image)
    for index, (box, label) in enumerate(zip(boxes, list(labels), strict=True)):
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        track_id = -1 if track_ids is None else int(track_ids[index])
        bgr_colour = colour(int(label)) if track_id < 0 else colour(track_id)
        trail = (trails or {}).get(track_id)
        if trail is not None and len(trail) > 1:
            points = np.round(trail).astype(np.int32)
            cv2.polylines(image, [points], False, bgr_colour, thickness, cv2.LINE_AA)
        cv2.rectangle(image, (x1, y1), (x2, y2), bgr_colour, thickness, cv2.LINE_AA)
        text = name_of(names, int(label))
        if scores is not None:
            text += f" {scores[index]:.2f}"
        if notes is not None and notes[index]:
            text += f" {notes[index]}"
        if track_id >= 0:
            text = f"#{track_id} {text}"
        label_text(image, text, (x1, y1), bgr_colour, scale)
    return image
