"""Box regression targets relative to anchors (R-CNN parametrisation, SSD weights 10, 10, 5, 5).

Hand-written rather than torchvision's ``_utils.BoxCoder`` (private API, one image at a time):
this one decodes a whole batch (N, A, 4) in one call. The arithmetic matches torchvision's op for
op, so converted models give the same boxes.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

BBOX_CLAMP = math.log(1000.0 / 16)  # largest exp() argument, as torchvision


class BoxCoder:
    def __init__(self, weights: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)) -> None:
        self.weights = weights

    def encode(self, boxes: Tensor, anchors: Tensor) -> Tensor:
        """Targets (dx, dy, dw, dh) that turn ``anchors`` into ``boxes``; both (..., 4) xyxy."""
        wx, wy, ww, wh = self.weights
        anchor_w = anchors[..., 2] - anchors[..., 0]
        anchor_h = anchors[..., 3] - anchors[..., 1]
        anchor_x = anchors[..., 0] + 0.5 * anchor_w
        anchor_y = anchors[..., 1] + 0.5 * anchor_h
        box_w = boxes[..., 2] - boxes[..., 0]
        box_h = boxes[..., 3] - boxes[..., 1]
        box_x = boxes[..., 0] + 0.5 * box_w
        box_y = boxes[..., 1] + 0.5 * box_h
        return torch.stack(
            (
                wx * (box_x - anchor_x) / anchor_w,
                wy * (box_y - anchor_y) / anchor_h,
                ww * torch.log(box_w / anchor_w),
                wh * torch.log(box_h / anchor_h),
            ),
            dim=-1,
        )

    def decode(self, codes: Tensor, anchors: Tensor) -> Tensor:
        """Boxes (..., 4) xyxy from regression ``codes`` (..., 4) and ``anchors`` (A, 4)."""
        wx, wy, ww, wh = self.weights
        anchor_w = anchors[..., 2] - anchors[..., 0]
        anchor_h = anchors[..., 3] - anchors[..., 1]
        anchor_x = anchors[..., 0] + 0.5 * anchor_w
        anchor_y = anchors[..., 1] + 0.5 * anchor_h
        dx, dy = codes[..., 0] / wx, codes[..., 1] / wy
        dw = (codes[..., 2] / ww).clamp(max=BBOX_CLAMP)
        dh = (codes[..., 3] / wh).clamp(max=BBOX_CLAMP)
        centre_x, centre_y = dx * anchor_w + anchor_x, dy * anchor_h + anchor_y
        half_w, half_h = 0.5 * (torch.exp(dw) * anchor_w), 0.5 * (torch.exp(dh) * anchor_h)
        return torch.stack(
            (centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h), dim=-1
        )
