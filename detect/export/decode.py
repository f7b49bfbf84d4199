"""Raw heads → detections in numpy alone: the postprocessing of a network-only export, for
runtimes and delegates that cannot run top-k or NMS (mobile GPU delegates reject TopK, GatherND
and NMS). The same steps as :mod:`detect.models.postprocess`: softmax, box decoding (SSD's
weights 10, 10, 5, 5, as :class:`~detect.models.box_coder.BoxCoder`), per-class top-k, the score
threshold, class-wise greedy NMS that stops at the detections kept, the cut, original pixels.
No torch: this runs beside onnxruntime or LiteRT only.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

BBOX_CLAMP = math.log(1000.0 / 16)  # largest exp() argument, as the box coder's
FIRST_WINDOW = 4  # × the detections kept: the first NMS window
GROWTH_MARGIN = 1.25  # a short window grows to this × the size its keep rate says is enough


@dataclass(frozen=True)
class Decoder:
    """What decoding needs besides the heads: the anchors (A, 4) xyxy in model pixels, the box
    coder's weights, the model's input side and its postprocess settings."""

    anchors: np.ndarray
    weights: tuple[float, float, float, float]
    size: int
    score_thresh: float
    topk_per_class: int
    nms_thresh: float
    detections_per_image: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "anchors": np.round(self.anchors, 6).tolist(),
            "weights": list(self.weights),
            "size": self.size,
            "score_thresh": self.score_thresh,
            "topk_per_class": self.topk_per_class,
            "nms_thresh": self.nms_thresh,
            "detections_per_image": self.detections_per_image,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Decoder:
        return cls(
            np.asarray(raw["anchors"], dtype=np.float32),
            tuple(raw["weights"]),
            int(raw["size"]),
            float(raw["score_thresh"]),
            int(raw["topk_per_class"]),
            float(raw["nms_thresh"]),
            int(raw["detections_per_image"]),
        )

    def __call__(
        self, logits: np.ndarray, codes: np.ndarray, original: tuple[int, int]
    ) -> dict[str, np.ndarray]:
        """One image's (A, C) class logits and (A, 4) box codes → ``boxes`` (D, 4) xyxy in the
        original (height, width) pixels, ``scores`` (D,) best first, ``labels`` (D,) 1..C-1."""
        scores = softmax(logits.astype(np.float32))[:, 1:].T  # (C-1, A)
        boxes = np.clip(decode_boxes(codes, self.anchors, self.weights), 0, self.size)
        rows, anchors = np.nonzero(self.candidates(scores))  # class-major, anchor order
        candidate_scores = scores[rows, anchors]
        order = np.argsort(-candidate_scores, kind="stable")
        candidate_scores, candidate_labels = candidate_scores[order], rows[order] + 1
        candidate_boxes = boxes[anchors[order]]
        kept = greedy_nms(
            candidate_boxes, candidate_labels, self.nms_thresh, self.detections_per_image
        )
        height, width = original
        scale = np.array([width, height, width, height], dtype=np.float32) / self.size
        return {
            "boxes": (candidate_boxes[kept] * scale).astype(np.float32),
            "scores": candidate_scores[kept].astype(np.float32),
            "labels": candidate_labels[kept].astype(np.int64),
        }

    def candidates(self, scores: np.ndarray) -> np.ndarray:
        """(C-1, A) mask of each class's ``topk_per_class`` best scores above the threshold.
        Thresholding first is the same set (a class with at most k scores above it keeps them
        all) and leaves only the crowded classes to partition: far cheaper than a top-k of
        every class, since a trained network puts few scores above 0.001."""
        mask = scores > self.score_thresh
        crowded = np.nonzero(mask.sum(axis=1) > self.topk_per_class)[0]
        if crowded.size:
            k = self.topk_per_class
            best = np.argpartition(-scores[crowded], k - 1, axis=1)[:, :k]
            mask[crowded] = False
            mask[crowded[:, None], best] = True
        return mask


def softmax(x: np.ndarray) -> np.ndarray:
    exp = np.exp(x - x.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)


def decode_boxes(
    codes: np.ndarray, anchors: np.ndarray, weights: tuple[float, float, float, float]
) -> np.ndarray:
    """(A, 4) xyxy boxes from (A, 4) codes, R-CNN parametrisation (as BoxCoder.decode)."""
    wx, wy, ww, wh = weights
    anchor_w = anchors[:, 2] - anchors[:, 0]
    anchor_h = anchors[:, 3] - anchors[:, 1]
    anchor_x = anchors[:, 0] + 0.5 * anchor_w
    anchor_y = anchors[:, 1] + 0.5 * anchor_h
    centre_x = codes[:, 0] / wx * anchor_w + anchor_x
    centre_y = codes[:, 1] / wy * anchor_h + anchor_y
    half_w = 0.5 * (np.exp(np.minimum(codes[:, 2] / ww, BBOX_CLAMP)) * anchor_w)
    half_h = 0.5 * (np.exp(np.minimum(codes[:, 3] / wh, BBOX_CLAMP)) * anchor_h)
    return np.stack(
        (centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h), axis=1
    ).astype(np.float32)


def greedy_nms(boxes: np.ndarray, labels: np.ndarray, threshold: float, limit: int) -> np.ndarray:
    """Class-wise greedy NMS over boxes already in processing order (best first), stopped at
    ``limit`` keeps: the full run's first ``limit`` keeps, at the cost of the windows needed.

    Written for numpy rather than as torchvision's loop (one Python step per keep, each a pass
    over the window): the overlaps of every same-class pair in a window are one vectorised
    computation, and the greedy pass then only visits the boxes that overlap a later one."""
    window = min(len(boxes), FIRST_WINDOW * limit)
    while True:
        kept = window_keeps(boxes[:window], labels[:window], threshold)
        if len(kept) >= limit or window == len(boxes):
            return kept[:limit]
        enough = math.ceil(GROWTH_MARGIN * window * limit / max(len(kept), 1))
        window = min(len(boxes), max(window + limit, enough))


def window_keeps(boxes: np.ndarray, labels: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy NMS of all of ``boxes`` (in processing order) within each label: the keeps'
    positions, in order. A box is suppressed by a kept earlier box of its label overlapping
    it more than ``threshold`` (IoU), as in torchvision's ``nms``."""
    grouped = np.argsort(labels, kind="stable")  # each label's boxes together, in order
    starts = np.flatnonzero(np.r_[True, np.diff(labels[grouped]) != 0])
    ends = np.r_[starts[1:], len(grouped)]
    # every pair (i, j), i before j, of one label: i at each position, j at the later ones
    later = np.repeat(ends, ends - starts) - np.arange(len(grouped)) - 1
    first = np.repeat(np.arange(len(grouped)), later)
    offsets = np.arange(len(first)) - np.repeat(np.cumsum(later) - later, later)
    i, j = grouped[first], grouped[first + 1 + offsets]
    x1, y1, x2, y2 = boxes.T
    width = np.clip(np.minimum(x2[i], x2[j]) - np.maximum(x1[i], x1[j]), 0, None)
    height = np.clip(np.minimum(y2[i], y2[j]) - np.maximum(y1[i], y1[j]), 0, None)
    inter = width * height
    area = (x2 - x1) * (y2 - y1)
    over = inter / (area[i] + area[j] - inter) > threshold
    sources, targets = i[over], j[over]
    if not sources.size:
        return np.arange(len(boxes))
    order = np.argsort(sources, kind="stable")
    sources, targets = sources[order], targets[order]
    suppressed = np.zeros(len(boxes), dtype=bool)
    bounds = np.flatnonzero(np.r_[True, np.diff(sources) != 0, True])
    for start, stop in itertools.pairwise(bounds):  # sources in order
        if not suppressed[sources[start]]:
            suppressed[targets[start:stop]] = True
    return np.flatnonzero(~suppressed)
