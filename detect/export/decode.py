"""Raw heads → detections in numpy alone: the postprocessing of a network-only export, for
runtimes and delegates that cannot run top-k or NMS (mobile GPU delegates reject TopK, GatherND
and NMS; LiteRT and NCNN files hold the network alone). The same detections as the whole ONNX
graph (:mod:`detect.export.graph`): softmax, box decoding (SSD's weights 10, 10, 5, 5, as
:class:`~detect.models.box_coder.BoxCoder`), per-class top-k, the score threshold, class-wise
greedy NMS that stops at the detections kept, the cut, original pixels; ties fall as there
(lower class, then lower anchor).

Written to cost less than the network it follows: the threshold is tested on the logits before
any softmax (only anchors that can pass get exp'd), only a window of the best candidates is
ranked (partial selection) and NMS'd, the per-class cut is a rank within that window, and NMS
compares same-class pairs in one vectorised step. No torch: this runs beside onnxruntime,
LiteRT or NCNN only.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

BBOX_CLAMP = math.log(1000.0 / 16)  # largest exp() argument, as the box coder's
FIRST_WINDOW = 4  # × the detections kept: the first NMS window
GROWTH_MARGIN = 1.25  # a short window grows to this × the size its keep rate says is enough
LOG_MARGIN = 1e-3  # slack of the logit pre-test (float rounding is ~1e-6 there)


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

    def with_settings(self, **changes: Any) -> Decoder:
        """This decoder with other postprocess settings (e.g. ``score_thresh=0.3``, a caller's
        own cut: the same detections as a cut after decoding, found sooner)."""
        return dataclasses.replace(self, **changes)

    def __call__(
        self, logits: np.ndarray, codes: np.ndarray, original: tuple[int, int]
    ) -> dict[str, np.ndarray]:
        """One image's (A, C) class logits and (A, 4) box codes → ``boxes`` (D, 4) xyxy in the
        original (height, width) pixels, ``scores`` (D,) best first, ``labels`` (D,) 1..C-1."""
        live, probabilities = self.live_scores(np.asarray(logits, dtype=np.float32))
        classes, rows = np.nonzero(self.score_thresh < probabilities.T)  # class-major
        scores = probabilities[rows, classes]
        decoded = decode_boxes(np.asarray(codes)[live], self.anchors[live], self.weights)
        boxes = np.clip(decoded, 0, self.size)[rows]
        kept = self.first_keeps(scores, classes, boxes)
        height, width = original
        scale = np.array([width, height, width, height], dtype=np.float32) / self.size
        return {
            "boxes": (boxes[kept] * scale).astype(np.float32),
            "scores": scores[kept].astype(np.float32),
            "labels": (classes[kept] + 1).astype(np.int64),
        }

    def live_scores(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The anchors that can score above the threshold (R,), and their class scores
        (R, C-1): the softmax without its background column, computed for them alone.

        A score is exp(l - max) / Σ exp(l' - max) and the sum is at least 1 (the max's own
        term), so score > t needs l > max + log t: one comparison over the logits, no exp,
        drops the anchors that cannot qualify (its margin covers float rounding). The others'
        scores are computed with the full softmax's arithmetic (same rounding), and the exact
        threshold is applied to them by the caller: the candidates are exactly the full
        softmax's."""
        top = logits.max(axis=1)
        if self.score_thresh > 0:
            floor = top + np.float32(math.log(self.score_thresh) - LOG_MARGIN)
            live = np.flatnonzero((logits[:, 1:] > floor[:, None]).any(axis=1))
        else:
            live = np.arange(len(logits))
        exp = np.exp(logits[live] - top[live, None])
        return live, exp[:, 1:] / exp.sum(axis=1, keepdims=True)

    def first_keeps(self, scores: np.ndarray, classes: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """The detections: positions of the first ``detections_per_image`` NMS keeps among the
        class-major candidates, best first.

        NMS visits the candidates best first, ties to the lower class then the lower anchor
        (the class-major position: the whole graph's order), each class cut to its
        ``topk_per_class`` best. Greedy NMS decides a box from the boxes before it alone, so a
        prefix of that order gives the full run's keeps among it: only a window of the best
        candidates is ranked (partial selection), cut per class (a class's rank in the prefix
        is its rank among all) and run through NMS, and it grows until it holds the keeps
        needed — as the whole graph's window does."""
        count, limit = len(scores), self.detections_per_image
        window = min(count, FIRST_WINDOW * limit)
        while True:
            prefix = best_first(scores, window)
            prefix = prefix[class_ranks(classes[prefix]) < self.topk_per_class]
            kept = window_keeps(boxes[prefix], classes[prefix], self.nms_thresh)
            if len(kept) >= limit or window == count:
                return prefix[kept[:limit]]
            enough = math.ceil(GROWTH_MARGIN * window * limit / max(len(kept), 1))
            window = min(count, max(window + limit, enough))


def best_first(scores: np.ndarray, count: int) -> np.ndarray:
    """Positions of the ``count`` best ``scores`` in processing order: best first, ties to the
    lower position (a stable sort's order), found by partial selection (np.partition) so that
    only they are sorted."""
    if count < len(scores):
        kth = np.partition(scores, len(scores) - count)[len(scores) - count]  # count-th best
        better = np.flatnonzero(scores > kth)
        ties = np.flatnonzero(scores == kth)[: count - len(better)]
        chosen = np.sort(np.concatenate((better, ties)))
    else:
        chosen = np.arange(len(scores))
    return chosen[np.argsort(-scores[chosen], kind="stable")]


def class_ranks(labels: np.ndarray) -> np.ndarray:
    """Each entry's rank among the entries of its label before it (0 for the first)."""
    grouped = np.argsort(labels, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(labels[grouped]) != 0])
    sizes = np.diff(np.r_[starts, len(labels)])
    ranks = np.empty(len(labels), dtype=np.int64)
    ranks[grouped] = np.arange(len(labels)) - np.repeat(starts, sizes)
    return ranks


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
