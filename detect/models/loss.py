"""SSD training loss: anchor matching, softmax cross-entropy with 3:1 hard negatives, Smooth-L1."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import box_iou

from detect.models.box_coder import BoxCoder


@dataclass(frozen=True)
class LossConfig:
    iou_thresh: float = 0.5  # an anchor is positive at IoU ≥ 0.5 with its best ground truth
    neg_to_pos: float = 3.0  # hard negatives kept per positive (SSD paper §2.2)
    # Hard negatives of an image without boxes (torchvision keeps none, so such images would
    # not train at all); images with boxes always have ≥ neg_to_pos, so parity is unaffected.
    min_negatives: int = 3


def match_anchors(gt_boxes: Tensor, anchors: Tensor, iou_thresh: float) -> Tensor:
    """Index of each anchor's ground truth, or -1 for background (SSD paper §2.2, "matching").

    An anchor takes its highest-IoU box when IoU ≥ ``iou_thresh``; then each box is forced onto
    its own best anchor, so no ground truth goes unmatched.
    """
    if gt_boxes.numel() == 0:
        return torch.full((anchors.shape[0],), -1, dtype=torch.int64, device=anchors.device)
    iou = box_iou(gt_boxes, anchors)  # (G, A)
    best_iou, matches = iou.max(dim=0)
    matches[best_iou < iou_thresh] = -1
    best_anchor_per_gt = iou.argmax(dim=1)
    matches[best_anchor_per_gt] = torch.arange(len(gt_boxes), device=anchors.device)
    return matches


def ssd_loss(
    cls_logits: Tensor,
    bbox_regression: Tensor,
    anchors: Tensor,
    targets: list[dict[str, Tensor]],
    box_coder: BoxCoder,
    config: LossConfig = LossConfig(),
) -> dict[str, Tensor]:
    """Classification and box losses, each summed and divided by the number of positives.

    ``targets[i]`` holds ``boxes`` (G, 4) xyxy in model-input pixels and ``labels`` (G,) with
    0 reserved for background. Images without boxes contribute negatives only.
    """
    num_classes = cls_logits.shape[-1]
    for index, target in enumerate(targets):
        labels = target["labels"]
        if labels.numel() and (labels.min() < 1 or labels.max() >= num_classes):
            raise ValueError(
                f"target {index} has labels in [{int(labels.min())}, {int(labels.max())}]; "
                f"they must lie in [1, {num_classes - 1}] (0 is background)"
            )
    matched = torch.stack([match_anchors(t["boxes"], anchors, config.iou_thresh) for t in targets])
    foreground = matched >= 0  # (N, A)
    cls_targets = torch.zeros_like(matched)
    matched_boxes = torch.zeros_like(bbox_regression)
    for i, target in enumerate(targets):
        index = matched[i, foreground[i]]
        cls_targets[i, foreground[i]] = target["labels"][index]
        matched_boxes[i, foreground[i]] = target["boxes"][index].to(matched_boxes.dtype)
    num_positive = foreground.sum()
    box_targets = box_coder.encode(
        matched_boxes[foreground], anchors.expand_as(matched_boxes)[foreground]
    )
    box_loss = F.smooth_l1_loss(bbox_regression[foreground], box_targets, reduction="sum")

    cls_loss = F.cross_entropy(
        cls_logits.reshape(-1, num_classes), cls_targets.reshape(-1), reduction="none"
    ).view_as(cls_targets)
    # Hard negative mining: per image, the neg_to_pos × positives highest-loss background anchors.
    negative_loss = cls_loss.masked_fill(foreground, -float("inf"))
    order = negative_loss.argsort(dim=1, descending=True)
    rank = order.argsort(dim=1)
    num_negative = (config.neg_to_pos * foreground.sum(dim=1, keepdim=True)).clamp(
        min=config.min_negatives
    )
    hard_negative = (rank < num_negative) & ~foreground
    normaliser = num_positive.clamp(min=1)
    return {
        "bbox_regression": box_loss / normaliser,
        "classification": (cls_loss[foreground].sum() + cls_loss[hard_negative].sum()) / normaliser,
    }
