"""Raw heads → detections in numpy alone: the postprocessing of a network-only export, for
runtimes and delegates that cannot run top-k or NMS (mobile GPU delegates reject TopK, GatherND
and NMS). The same steps as :mod:`detect.models.postprocess`: softmax, box decoding (SSD's
weights 10, 10, 5, 5, as :class:`~detect.models.box_coder.BoxCoder`), per-class top-k, the score
threshold, class-wise greedy NMS that stops at the detections kept, the cut, original pixels.
No torch: this runs beside onnxruntime or LiteRT only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

BBOX_CLAMP = math.log(1000.0 / 16)  # largest exp() argument, as the box coder's
FIRST_WINDOW = 4  # × the detections kept: the first NMS window, growing 4× when short


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
        k = min(self.topk_per_class, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # each class's k best anchors
        top_scores = np.take_along_axis(scores, top, axis=1)
        labels = np.broadcast_to(np.arange(1, scores.shape[0] + 1)[:, None], top.shape)
        keep = top_scores > self.score_thresh
        candidate_scores, candidate_labels = top_scores[keep], labels[keep]
        order = np.argsort(-candidate_scores, kind="stable")
        candidate_scores, candidate_labels = candidate_scores[order], candidate_labels[order]
        candidate_boxes = boxes[top[keep][order]]
        kept = greedy_nms(
            candidate_boxes + (candidate_labels * (self.size + 1.0))[:, None],
            self.nms_thresh,
            self.detections_per_image,
        )
        height, width = original
        scale = np.array([width, height, width, height], dtype=np.float32) / self.size
        return {
            "boxes": (candidate_boxes[kept] * scale).astype(np.float32),
            "scores": candidate_scores[kept].astype(np.float32),
            "labels": candidate_labels[kept].astype(np.int64),
        }


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


def greedy_nms(boxes: np.ndarray, threshold: float, limit: int) -> np.ndarray:
    """Greedy NMS over boxes already in processing order (best first), stopped at ``limit``
    keeps: each keep clears the candidates after it that overlap it more than ``threshold``,
    a window of candidates at a time (a window is first cleared against the keeps so far), so
    the result is the full run's first ``limit`` keeps at the cost of the windows needed."""
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1) * (y2 - y1)

    def overlapping(best: int, rest: np.ndarray) -> np.ndarray:
        width = np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest])
        height = np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest])
        inter = np.clip(width, 0, None) * np.clip(height, 0, None)
        return inter / (area[best] + area[rest] - inter) > threshold

    kept: list[int] = []
    start, window = 0, FIRST_WINDOW * limit
    while start < len(boxes) and len(kept) < limit:
        stop = min(len(boxes), start + window)
        chunk = np.arange(start, stop)
        for best in kept:  # cleared against the keeps so far
            chunk = chunk[~overlapping(best, chunk)]
        while chunk.size and len(kept) < limit:
            best, chunk = int(chunk[0]), chunk[1:]
            kept.append(best)
            chunk = chunk[~overlapping(best, chunk)]
        start, window = stop, window * 4
    return np.asarray(kept, dtype=np.int64)
