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


def centre_size(boxes: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(x1, y1, x2, y2) → centre x, centre y, width, height."""
    width = boxes[..., 2] - boxes[..., 0]
    height = boxes[..., 3] - boxes[..., 1]
    return boxes[..., 0] + 0.5 * width, boxes[..., 1] + 0.5 * height, width, height


class BoxCoder:
    def __init__(self, weights: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0)) -> None:
        self.weights = weights

    def encode(self, boxes: Tensor, anchors: Tensor) -> Tensor:
        """Targets (dx, dy, dw, dh) that turn ``anchors`` into ``boxes``; both (..., 4) xyxy."""
        wx, wy, ww, wh = self.weights
        anchor_x, anchor_y, anchor_w, anchor_h = centre_size(anchors)
        box_x, box_y, box_w, box_h = centre_size(boxes)
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
        """Boxes (..., 4) xyxy from regression ``codes`` (..., 4) and ``anchors`` (A, 4); x and y
        side by side, element for element torchvision's arithmetic."""
        anchor_x, anchor_y, anchor_w, anchor_h = centre_size(anchors)
        anchor_centre = torch.stack((anchor_x, anchor_y), dim=-1)
        anchor_size = torch.stack((anchor_w, anchor_h), dim=-1)
        offsets = codes / codes.new_tensor(self.weights)
        centre = offsets[..., :2] * anchor_size + anchor_centre
        half = 0.5 * (torch.exp(offsets[..., 2:].clamp(max=BBOX_CLAMP)) * anchor_size)
        return torch.cat((centre - half, centre + half), dim=-1)
