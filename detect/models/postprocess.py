"""Detections from raw outputs: softmax, score filter, per-class top-k, batched NMS — vectorised.

torchvision's SSD loops over the 90 classes in Python for every image (vision issue #4853); here
the per-class top-k is one ``topk`` over a (classes, anchors) matrix and NMS is one
``torchvision.ops.batched_nms`` call per image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torchvision.ops import batched_nms, clip_boxes_to_image

from detect.models.box_coder import BoxCoder


@dataclass(frozen=True)
class PostprocessConfig:
    score_thresh: float = 0.001
    topk_per_class: int = 300
    nms_thresh: float = 0.55
    detections_per_image: int = 300


def postprocess(
    cls_logits: Tensor,
    bbox_regression: Tensor,
    anchors: Tensor,
    input_size: tuple[int, int],
    original_sizes: Sequence[tuple[int, int]],
    box_coder: BoxCoder,
    config: PostprocessConfig = PostprocessConfig(),
) -> list[dict[str, Tensor]]:
    """Per image: ``boxes`` (D, 4) xyxy in original pixels, ``scores`` (D,), ``labels`` (D,)."""
    if len(original_sizes) != cls_logits.shape[0]:
        raise ValueError(
            f"{cls_logits.shape[0]} images in the outputs but {len(original_sizes)} original sizes"
        )
    num_classes = cls_logits.shape[-1]
    scores = torch.softmax(cls_logits, dim=-1)[..., 1:].transpose(1, 2)  # (N, C-1, A)
    boxes = clip_boxes_to_image(box_coder.decode(bbox_regression, anchors), input_size)
    top_scores, top_anchor = scores.topk(min(config.topk_per_class, scores.shape[-1]), dim=-1)
    labels = torch.arange(1, num_classes, device=cls_logits.device)[:, None].expand_as(top_anchor)
    detections = []
    for image, original in enumerate(original_sizes):
        keep = top_scores[image] > config.score_thresh
        image_scores, image_labels = top_scores[image][keep], labels[image][keep]
        image_boxes = boxes[image][top_anchor[image][keep]]
        kept = batched_nms(image_boxes, image_scores, image_labels, config.nms_thresh)
        kept = kept[: config.detections_per_image]
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
