"""The confusion matrix of a detector at one score and IoU threshold, background included.

Rows are the ground-truth class, columns the predicted class; the last row and column are
*background*. Per image, the detections scoring at least ``score_thresh`` are matched one to one
with the (non-crowd) ground truth at IoU ≥ ``iou_thresh``, in score order, each taking the free
box it overlaps most: first among boxes of its own class, then — for those left — among boxes of
any class. A matched pair counts in (its box's class, its class); a detection left over counts
in (background, its class) unless it lies on a crowd region (ignored, as COCO ignores it); a box
left over counts in (its class, background). Ground truth fed back is therefore diagonal, and a
label swapped on it moves exactly one count off the diagonal.
"""

from __future__ import annotations

import csv
import functools
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from detect.data.categories import CategoryMap
from detect.io import atomic_write

BACKGROUND = "background"


def caption(score_thresh: float, iou_thresh: float) -> str:
    return (
        f"Detections with score ≥ {score_thresh:g} matched one to one to ground truth at IoU ≥ "
        f"{iou_thresh:g} (own class first, then any class). Rows: the true class; columns: the "
        "predicted class. Last column, background: ground truth no detection found (missed). "
        "Last row, background: detections on no ground-truth box (false positives)."
    )


def confusion_matrix(
    ground_truth: COCO,
    results: Sequence[dict],
    image_ids: Iterable[int],
    categories: CategoryMap,
    score_thresh: float = 0.5,
    iou_thresh: float = 0.5,
) -> np.ndarray:
    """(K + 1) × (K + 1) counts, classes in ``categories`` order, background last."""
    size = len(categories.coco_ids)
    index = {coco_id: k for k, coco_id in enumerate(categories.coco_ids)}
    matrix = np.zeros((size + 1, size + 1), dtype=np.int64)
    by_image: dict[int, list[dict]] = defaultdict(list)
    for result in results:
        if result["score"] >= score_thresh:
            by_image[result["image_id"]].append(result)
    for image_id in image_ids:
        annotations = ground_truth.imgToAnns.get(image_id, [])
        truth = [a for a in annotations if not a.get("iscrowd", 0)]
        crowd = [a for a in annotations if a.get("iscrowd", 0)]
        found = sorted(by_image.get(image_id, []), key=lambda r: -r["score"])
        pairs, left = match_image(found, truth, iou_thresh)
        for detection, box in pairs:
            matrix[index[box["category_id"]], index[detection["category_id"]]] += 1
        taken = {id(box) for _, box in pairs}
        for box in truth:
            if id(box) not in taken:
                matrix[index[box["category_id"]], size] += 1
        for detection in left:
            if not on_crowd(detection, crowd, iou_thresh):
                matrix[size, index[detection["category_id"]]] += 1
    return matrix


def match_image(
    found: list[dict], truth: list[dict], iou_thresh: float
) -> tuple[list[tuple[dict, dict]], list[dict]]:
    """Greedy one-to-one matching (``found`` in score order): own class first, then any."""
    if not found or not truth:
        return [], found
    ious = mask_utils.iou([r["bbox"] for r in found], [a["bbox"] for a in truth], [0] * len(truth))
    same = np.array([[r["category_id"] == a["category_id"] for a in truth] for r in found])
    free = np.ones(len(truth), dtype=bool)
    chosen: dict[int, int] = {}
    for allowed in (same, np.ones_like(same)):
        for row in range(len(found)):
            if row in chosen:
                continue
            candidates = np.where(allowed[row] & free, ious[row], -1.0)
            best = int(candidates.argmax())
            if candidates[best] >= iou_thresh:
                chosen[row], free[best] = best, False
    pairs = [(found[row], truth[column]) for row, column in chosen.items()]
    return pairs, [r for row, r in enumerate(found) if row not in chosen]


def on_crowd(detection: dict, crowd: list[dict], iou_thresh: float) -> bool:
    """Whether the detection lies on a crowd region (COCO's crowd IoU: overlap / its area)."""
    if not crowd:
        return False
    ious = mask_utils.iou([detection["bbox"]], [a["bbox"] for a in crowd], [1] * len(crowd))
    return bool(ious.max() >= iou_thresh)


def labels(categories: CategoryMap) -> list[str]:
    return [*categories.names, BACKGROUND]


def write_confusion_csv(matrix: np.ndarray, categories: CategoryMap, path: Path) -> None:
    """Rows: true class; columns: predicted class; background last in both."""
    text = io.StringIO()
    writer = csv.writer(text)
    names = labels(categories)
    writer.writerow(["true \\ predicted", *names])
    for name, row in zip(names, matrix, strict=True):
        writer.writerow([name, *row.tolist()])
    atomic_write(path, text.getvalue())


def plot_confusion(
    matrix: np.ndarray, categories: CategoryMap, path: Path, score_thresh: float, iou_thresh: float
) -> None:
    """A heat map of the classes that occur (row or column not empty), background last, the
    counts written in each cell and the caption below."""
    size = len(categories.names)
    shown = [k for k in range(size) if matrix[k].sum() or matrix[:, k].sum()] + [size]
    sub = matrix[np.ix_(shown, shown)]
    names = [labels(categories)[k] for k in shown]
    side = max(4.5, 0.22 * len(shown) + 2.2)  # inches: the cells, then 1.5 in of labels
    height = side + 0.9  # and the caption below
    figure = Figure(figsize=(side, height))
    axes = figure.subplots()
    shade = np.log1p(sub)
    axes.imshow(shade, cmap="Blues")
    axes.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    axes.set_yticks(range(len(names)), names, fontsize=7)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    limit = shade.max() or 1.0
    for (row, column), value in np.ndenumerate(sub):
        if value:
            colour = "white" if shade[row, column] > 0.6 * limit else "black"
            axes.text(column, row, str(value), ha="center", va="center", fontsize=6, color=colour)
    axes.set_title(f"confusion at score ≥ {score_thresh:g}, IoU ≥ {iou_thresh:g}")
    figure.text(0.02, 0.1 / height, caption(score_thresh, iou_thresh), wrap=True, fontsize=8)
    figure.subplots_adjust(
        left=1.5 / side, right=1 - 0.1 / side, bottom=2.3 / height, top=1 - 0.35 / height
    )
    atomic_write(path, functools.partial(figure.savefig, format="png", dpi=90))
