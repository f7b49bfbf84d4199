"""The worst images of an evaluation, drawn: ground truth on the left, detections on the right."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from pycocotools.coco import COCO

from detect.data.categories import CategoryMap
from detect.data.images import read_image
from detect.evaluation.tide import ERROR_TYPES, ErrorBreakdown
from detect.inference.drawing import draw_boxes
from detect.io import atomic_write

PANEL_WIDTH = 480  # px: each half is scaled to at most this wide
GAP = 8  # px of white between the halves
TITLE_HEIGHT = 22  # px: the strip above each half that names it


@dataclass(frozen=True)
class GalleryImage:
    """One drawn image: its file name under the report, the source file, the AP it loses and
    how many errors of each type it holds (any score)."""

    file: str
    source: str
    loss: float
    errors: dict[str, int]


def xyxy(boxes: list[list[float]]) -> np.ndarray:
    array = np.asarray(boxes, dtype=float).reshape(-1, 4)
    return np.concatenate([array[:, :2], array[:, :2] + array[:, 2:]], axis=1)


def side_by_side(left: np.ndarray, right: np.ndarray, titles: tuple[str, str]) -> np.ndarray:
    """The two halves (same size) scaled to :data:`PANEL_WIDTH`, each under its title, joined
    with a white gap."""
    scale = min(1.0, PANEL_WIDTH / left.shape[1])
    size = (round(left.shape[1] * scale), round(left.shape[0] * scale))
    halves = []
    for half, title in zip((left, right), titles, strict=True):
        strip = np.full((TITLE_HEIGHT, size[0], 3), 255, dtype=np.uint8)
        cv2.putText(
            strip,
            title,
            (4, TITLE_HEIGHT - 7),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
        halves.append(np.concatenate([strip, cv2.resize(half, size, interpolation=cv2.INTER_AREA)]))
    gap = np.full((halves[0].shape[0], GAP, 3), 255, dtype=np.uint8)
    return np.concatenate([halves[0], gap, halves[1]], axis=1)


def write_gallery(
    breakdown: ErrorBreakdown,
    ground_truth: COCO,
    results: list[dict],
    categories: CategoryMap,
    image_dir: Path,
    folder: Path,
    count: int,
    score_thresh: float,
) -> list[GalleryImage]:
    """The ``count`` images losing the most AP (none that lose nothing), as JPEGs in
    ``folder``: ground truth (left) and the detections scoring ≥ ``score_thresh`` (right), each
    false positive tagged with its error type."""
    worst = sorted(breakdown.image_loss.items(), key=lambda item: -item[1])
    worst = [(image_id, loss) for image_id, loss in worst if loss > 0][:count]
    kind = breakdown.attribution.kind
    by_image: dict[int, list[int]] = {image_id: [] for image_id, _ in worst}
    for index, result in enumerate(results):
        if result["image_id"] in by_image:
            by_image[result["image_id"]].append(index)
    missed = Counter(ground_truth.anns[g]["image_id"] for g in breakdown.attribution.missed)
    drawn = []
    for image_id, loss in worst:
        info = ground_truth.imgs[image_id]
        bgr = read_image(image_dir / info["file_name"], "bgr")
        truth = [a for a in ground_truth.imgToAnns.get(image_id, []) if not a.get("iscrowd", 0)]
        left = draw_boxes(
            bgr,
            xyxy([a["bbox"] for a in truth]),
            [a["category_id"] for a in truth],
            categories.by_id,
        )
        shown = [i for i in by_image[image_id] if results[i]["score"] >= score_thresh]
        shown.sort(key=lambda i: results[i]["score"])  # the best drawn last, on top
        right = draw_boxes(
            bgr,
            xyxy([results[i]["bbox"] for i in shown]),
            [results[i]["category_id"] for i in shown],
            categories.by_id,
            scores=[results[i]["score"] for i in shown],
            notes=[kind[i] if kind[i] in ERROR_TYPES else "" for i in shown],
        )
        name = f"{image_id}.jpg"
        ok, encoded = cv2.imencode(
            ".jpg",
            side_by_side(left, right, ("ground truth", f"detections, score >= {score_thresh:g}")),
            [cv2.IMWRITE_JPEG_QUALITY, 88],
        )
        if not ok:
            raise OSError(f"cannot encode the gallery image of {info['file_name']}")
        atomic_write(folder / name, encoded.tobytes())
        errors = Counter(str(kind[i]) for i in by_image[image_id] if kind[i] in ERROR_TYPES)
        errors["miss"] += missed[image_id]
        drawn.append(
            GalleryImage(
                name,
                info["file_name"],
                loss,
                {error: errors[error] for error in ERROR_TYPES if errors[error]},
            )
        )
    return drawn
