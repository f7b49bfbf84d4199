"""SSD default boxes for any feature-map sizes (SSD paper §2.2, eq. 4; torchvision's layout)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


class DefaultBoxes:
    """Default boxes per map: s_k and √(s_k·s_k+1) at ratio 1, then s_k at each ratio r and 1/r.

    Scales run linearly from ``min_ratio`` to ``max_ratio`` over the maps (eq. 4) with 1.0 appended;
    widths and heights are clipped to the image. Boxes come out in pixels, (x1, y1, x2, y2), ordered
    map by map, row by row, anchor by anchor — the order the head's outputs are flattened in.
    """

    def __init__(
        self,
        aspect_ratios: Sequence[Sequence[float]],
        min_ratio: float = 0.2,
        max_ratio: float = 0.95,
        clip: bool = True,
    ) -> None:
        self.aspect_ratios = [list(ratios) for ratios in aspect_ratios]
        self.clip = clip
        n = len(self.aspect_ratios)
        if n > 1:
            self.scales = [min_ratio + (max_ratio - min_ratio) * k / (n - 1.0) for k in range(n)]
            self.scales.append(1.0)
        else:
            self.scales = [min_ratio, max_ratio]
        self._wh = [self._wh_pairs(k) for k in range(n)]

    def _wh_pairs(self, k: int) -> Tensor:
        scale, next_scale = self.scales[k], self.scales[k + 1]
        extra = math.sqrt(scale * next_scale)
        pairs = [[scale, scale], [extra, extra]]
        for ratio in self.aspect_ratios[k]:
            w, h = scale * math.sqrt(ratio), scale / math.sqrt(ratio)
            pairs += [[w, h], [h, w]]
        wh = torch.tensor(pairs, dtype=torch.float32)
        return wh.clamp(0, 1) if self.clip else wh

    def num_anchors_per_location(self) -> list[int]:
        return [2 + 2 * len(ratios) for ratios in self.aspect_ratios]

    def __call__(
        self, grid_sizes: Sequence[tuple[int, int]], image_size: tuple[int, int]
    ) -> Tensor:
        """All default boxes, (A, 4) in pixels, for maps of ``grid_sizes`` on one image."""
        if len(grid_sizes) != len(self._wh):
            raise ValueError(
                f"{len(grid_sizes)} feature maps but aspect ratios for {len(self._wh)} were given"
            )
        boxes = []
        for (rows, cols), wh in zip(grid_sizes, self._wh, strict=True):
            shift_x = (torch.arange(cols) + 0.5) / cols
            shift_y = (torch.arange(rows) + 0.5) / rows
            cy, cx = torch.meshgrid(shift_y.float(), shift_x.float(), indexing="ij")
            centres = torch.stack((cx.reshape(-1), cy.reshape(-1)) * len(wh), dim=-1).reshape(-1, 2)
            boxes.append(torch.cat((centres, wh.repeat(rows * cols, 1)), dim=1))
        cxcywh = torch.cat(boxes)
        scale = torch.tensor([image_size[1], image_size[0]], dtype=torch.float32)
        return torch.cat(
            [
                (cxcywh[:, :2] - 0.5 * cxcywh[:, 2:]) * scale,
                (cxcywh[:, :2] + 0.5 * cxcywh[:, 2:]) * scale,
            ],
            dim=1,
        )
