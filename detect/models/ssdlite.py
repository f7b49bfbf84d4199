"""SSDLite parts: extra feature layers and the depthwise-separable head (V2 paper §6.2)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from detect.models.backbones import MobileNet
from detect.models.layers import BatchNormConfig, ConvBNAct, normal_init

EXTRA_DEPTHS = (512, 256, 256, 128)  # torchvision's SSDLite: four extra maps after the backbone


def extra_block(in_ch: int, out_ch: int, bn: BatchNormConfig) -> nn.Sequential:
    """1×1 → depthwise 3×3 stride 2 → 1×1, each BN + ReLU6 (SSDLite replaces SSD's 3×3 convs)."""
    mid = out_ch // 2
    return nn.Sequential(
        ConvBNAct(in_ch, mid, 1, act="relu6", bn=bn),
        ConvBNAct(mid, mid, 3, stride=2, groups=mid, act="relu6", bn=bn),
        ConvBNAct(mid, out_ch, 1, act="relu6", bn=bn),
    )


def prediction_block(in_ch: int, out_ch: int, bn: BatchNormConfig) -> nn.Sequential:
    """Depthwise 3×3 + BN + ReLU6, then a plain 1×1 conv (SSDLite's separable prediction layer)."""
    return nn.Sequential(
        ConvBNAct(in_ch, in_ch, 3, groups=in_ch, act="relu6", bn=bn),
        nn.Conv2d(in_ch, out_ch, 1),
    )


class SSDLiteFeatures(nn.Module):
    """The backbone's two taps (stride 16, 32) plus the extra layers: six maps in all."""

    def __init__(
        self,
        backbone: MobileNet,
        bn: BatchNormConfig,
        depths: Sequence[int] = EXTRA_DEPTHS,
        width_mult: float = 1.0,
        min_depth: int = 16,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        channels = [info.channels for info in backbone.feature_info]
        strides = [info.stride for info in backbone.feature_info]
        extras = []
        for depth in depths:
            out_ch = max(min_depth, int(depth * width_mult))
            extras.append(extra_block(channels[-1], out_ch, bn))
            channels.append(out_ch)
            strides.append(strides[-1] * 2)
        self.extras = nn.ModuleList(extras)
        normal_init(self.extras)
        self.channels, self.strides = channels, strides

    def grid_sizes(self, size: int) -> list[tuple[int, int]]:
        """Each map's (rows, cols) on a size×size input: every stride-2 conv gives ⌈n/2⌉."""
        sides = [-(-size // stride) for stride in self.strides[: len(self.backbone.feature_info)]]
        for _ in self.extras:
            sides.append(-(-sides[-1] // 2))
        return [(side, side) for side in sides]

    def forward(self, images: Tensor) -> list[Tensor]:
        maps = list(self.backbone.forward_taps(images).values())
        for block in self.extras:
            maps.append(block(maps[-1]))
        return maps


class SSDLiteHead(nn.Module):
    """Per-map class and box predictors; outputs flattened to (N, anchors, K) in anchor order.

    ``folded_classes``: extra class outputs that count as background — the class layer has
    ``num_classes + len(folded_classes)`` outputs per anchor, and the folded ones (output
    indices) are merged into the background logit by log-sum-exp, so p(background) = p(0) +
    Σ p(folded) and every other class keeps exactly its probability. A torchvision COCO head's
    ten N/A outputs fold this way, as do a source model's classes that a fine-tuned one drops.
    The remaining outputs, in index order, are the labels 1..num_classes-1."""

    def __init__(
        self,
        in_channels: Sequence[int],
        anchors_per_location: Sequence[int],
        num_classes: int,
        bn: BatchNormConfig,
        folded_classes: Sequence[int] = (),
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.folded_classes = tuple(int(c) for c in folded_classes)
        self.outputs = num_classes + len(self.folded_classes)  # class outputs per anchor
        folded = self.folded_classes
        if len(set(folded)) < len(folded) or not all(0 < c < self.outputs for c in folded):
            raise ValueError(
                f"folded_classes {folded} must be distinct output indices in 1..{self.outputs - 1}"
            )
        kept = [c for c in range(1, self.outputs) if c not in self.folded_classes]
        self.register_buffer("background", torch.tensor((0, *self.folded_classes)), False)
        self.register_buffer("kept", torch.tensor(kept, dtype=torch.int64), False)
        pairs = list(zip(in_channels, anchors_per_location, strict=True))
        self.classification = nn.ModuleList(
            prediction_block(ch, self.outputs * n, bn) for ch, n in pairs
        )
        self.regression = nn.ModuleList(prediction_block(ch, 4 * n, bn) for ch, n in pairs)
        normal_init(self)

    @staticmethod
    def _flatten(outputs: list[Tensor], columns: int) -> Tensor:
        """(N, A·K, H, W) maps → (N, Σ H·W·A, K), location-major then anchor (torchvision's
        order). Written shape-free (``flatten(1)`` is ONNX ``Flatten``) with one reshape at the
        end: reading each map's shape put a dozen Shape/Gather/Concat chains in the exported
        graph, each a kernel call per run."""
        flat = torch.cat([out.permute(0, 2, 3, 1).flatten(1) for out in outputs], dim=1)
        return flat.reshape(flat.shape[0], -1, columns)

    def fold(self, logits: Tensor) -> Tensor:
        """(…, outputs) → (…, num_classes): the folded outputs merged into background."""
        if not self.folded_classes:
            return logits
        background = torch.logsumexp(logits.index_select(-1, self.background), -1, keepdim=True)
        return torch.cat((background, logits.index_select(-1, self.kept)), dim=-1)

    def forward(self, maps: list[Tensor]) -> dict[str, Tensor]:
        classes = [block(x) for block, x in zip(self.classification, maps, strict=True)]
        boxes = [block(x) for block, x in zip(self.regression, maps, strict=True)]
        return {
            "cls_logits": self.fold(self._flatten(classes, self.outputs)),
            "bbox_regression": self._flatten(boxes, 4),
        }
