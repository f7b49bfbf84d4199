"""Detections from raw outputs: softmax, score filter, per-class top-k, class-wise NMS that
stops once it has all the detections it may return — exact, and vectorised.

torchvision's SSD loops over the 90 classes in Python for every image (vision issue #4853); here
the per-class top-k is one ``topk`` over a (classes, anchors) matrix. Greedy NMS decides each
candidate from the higher-ranked ones alone, so NMS over the top ``w`` candidates keeps exactly
the full run's keeps among them: :func:`early_stopping_nms` grows ``w`` until it holds
``detections_per_image`` keeps, touching a fraction of the ~27,000 candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torchvision.ops import clip_boxes_to_image, nms

from detect.models.box_coder import BoxCoder

FIRST_WINDOW = 4  # × detections_per_image: the first NMS window; it grows 4× when short


@dataclass(frozen=True)
class PostprocessConfig:
    score_thresh: float = 0.001
    topk_per_class: int = 300
    nms_thresh: float = 0.55
    detections_per_image: int = 300


def early_stopping_nms(
    boxes: Tensor, scores: Tensor, labels: Tensor, iou: float, limit: int, offset: float
) -> Tensor:
    """Class-wise greedy NMS over candidates sorted by score (best first, ties in the order
    given), stopped at ``limit`` keeps: the indices of the first ``limit`` keeps, in order.

    Boxes of different classes are moved ``offset`` apart per label so that one ``nms`` call
    never suppresses across classes (``batched_nms``'s coordinate trick); ``nms`` keeps its
    input's order among tied scores, so every window is a prefix of the same processing order
    and its keeps are the full run's first keeps."""
    count = len(scores)
    shifted = boxes + (labels.to(boxes.dtype) * offset)[:, None]
    window = min(count, FIRST_WINDOW * limit)
    while True:
        kept = nms(shifted[:window], scores[:window], iou)
        if len(kept) >= limit or window == count:
            return kept[:limit]
        window = min(count, window * 4)


def postprocess(
    cls_logits: Tensor,
    bbox_regression: Tensor,
    anchors: Tensor,
    input_size: tuple[int, int],
    original_sizes: Sequence[tuple[int, int]],
    box_coder: BoxCoder,
    config: PostprocessConfig = PostprocessConfig(),
) -> list[dict[str, Tensor]]:
    """Per image: ``boxes`` (D, 4) xyxy in original pixels, ``scores`` (D,) best first (ties in
    class order, then each class's top-k order), ``labels`` (D,)."""
    if len(original_sizes) != cls_logits.shape[0]:
        raise ValueError(
            f"{cls_logits.shape[0]} images in the outputs but {len(original_sizes)} original sizes"
        )
    num_classes = cls_logits.shape[-1]
    scores = torch.softmax(cls_logits, dim=-1)[..., 1:].transpose(1, 2)  # (N, C-1, A)
    boxes = clip_boxes_to_image(box_coder.decode(bbox_regression, anchors), input_size)
    top_scores, top_anchor = scores.topk(min(config.topk_per_class, scores.shape[-1]), dim=-1)
    labels = torch.arange(1, num_classes, device=cls_logits.device)[:, None].expand_as(top_anchor)
    offset = float(max(input_size)) + 1.0
    detections = []
    for image, original in enumerate(original_sizes):
        keep = top_scores[image] > config.score_thresh  # candidates, class-major
        image_scores, image_labels = top_scores[image][keep], labels[image][keep]
        image_anchors = top_anchor[image][keep]
        order = image_scores.sort(descending=True, stable=True).indices  # NMS's order
        image_scores, image_labels = image_scores[order], image_labels[order]
        image_boxes = boxes[image][image_anchors[order]]
        kept = early_stopping_nms(
            image_boxes,
            image_scores,
            image_labels,
            config.nms_thresh,
            config.detections_per_image,
            offset,
        )
        detections.append(
            {
                "boxes": scale_boxes(image_boxes[kept], input_size, original),
                "scores": image_scores[kept],
                "labels": image_labels[kept],
            }
        )
    return detections


def scale_boxes(boxes: Tensor, from_size: tuple[int, int], to_size: tuple[int, int]) -> Tensor:
    """Map xyxy boxes between image sizes given as (height, width)."""
    ratio_h = torch.tensor(to_size[0], dtype=torch.float32) / torch.tensor(from_size[0])
    ratio_w = torch.tensor(to_size[1], dtype=torch.float32) / torch.tensor(from_size[1])
    ratios = torch.stack((ratio_w, ratio_h, ratio_w, ratio_h)).to(boxes.device)
    return boxes * ratios
