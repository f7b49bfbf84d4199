"""Preprocessing as torchvision's SSDLite: scale to [-1, 1], warp to size×size; targets follow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import clip_boxes_to_image

from detect.models.postprocess import scale_boxes


@dataclass
class Batch:
    """Model-ready images, their original (height, width), targets in model pixels."""

    images: Tensor
    original_sizes: list[tuple[int, int]]
    targets: list[dict[str, Tensor]] | None = None
    dropped_boxes: int = 0  # degenerate (zero-area after clipping) boxes removed from targets


def to_rgb_float(image: Tensor) -> Tensor:
    """A (C, H, W) image with 1 (grey), 3 (RGB) or 4 (RGBA) channels → float RGB in [0, 1]."""
    if image.dim() != 3 or image.shape[0] not in (1, 3, 4):
        raise ValueError(
            f"expected an image tensor (C, H, W) with C = 1, 3 or 4, got {tuple(image.shape)} "
            "(for an HWC array use torch.from_numpy(array).permute(2, 0, 1))"
        )
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    image = image[:3]
    if image.dtype == torch.uint8:
        return image.float() / 255.0
    if not image.is_floating_point():
        raise ValueError(f"expected a uint8 or float image, got {image.dtype}")
    if image.numel() and (image.min() < 0 or image.max() > 1):
        raise ValueError(
            f"a float image must lie in [0, 1], got values in [{float(image.min()):g}, "
            f"{float(image.max()):g}]; divide by 255 or pass the uint8 image"
        )
    return image.float()


def clean_boxes(
    target: dict[str, Tensor], height: int, width: int
) -> tuple[dict[str, Tensor], int]:
    """Clip boxes to the image and drop those left with no area; returns how many were dropped."""
    boxes = clip_boxes_to_image(target["boxes"].reshape(-1, 4).float(), (height, width))
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    cleaned = {**target, "boxes": boxes[keep], "labels": target["labels"][keep]}
    return cleaned, int((~keep).sum())


def preprocess(
    images: Sequence[Tensor],
    size: int,
    targets: Sequence[dict[str, Tensor]] | None = None,
    mean: float = 0.5,
    std: float = 0.5,
) -> Batch:
    """Normalise ((x - 0.5) / 0.5 → [-1, 1]) then resize bilinearly to size×size, as torchvision.

    Images may differ in size; target ``boxes`` (xyxy, original pixels) are clipped, cleaned of
    degenerate boxes (counted in ``dropped_boxes``) and scaled to the model's input.
    """
    batch, sizes, scaled, dropped = [], [], [], 0
    for index, image in enumerate(images):
        rgb = to_rgb_float(image)
        height, width = rgb.shape[-2:]
        sizes.append((height, width))
        normalised = (rgb - mean) / std
        if (height, width) != (size, size):  # (bilinear onto its own size is the identity)
            normalised = F.interpolate(normalised[None], size=(size, size), mode="bilinear")[0]
        batch.append(normalised)
        if targets is not None:
            target, n_dropped = clean_boxes(targets[index], height, width)
            dropped += n_dropped
            target["boxes"] = scale_boxes(target["boxes"], (height, width), (size, size))
            scaled.append(target)
    return Batch(torch.stack(batch), sizes, scaled if targets is not None else None, dropped)
