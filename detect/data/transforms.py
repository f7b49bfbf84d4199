"""Albumentations augmentation presets for SSD-style detection training.

Every preset is an :class:`albumentations.Compose` that takes ``image`` (H, W, 3 uint8 RGB),
``bboxes`` (N, 4) in pixel xyxy ("pascal_voc") and ``labels`` (N,), and returns the image resized
to ``size × size`` with the boxes in that frame. Boxes that leave the image or shrink below one
square pixel are dropped by albumentations together with their labels.

- ``"none"``: resize only (evaluation).
- ``"ssdlite"``: torchvision's SSDLite recipe (``references/detection/presets.py``, "ssdlite"):
  :class:`RandomIoUCrop` → horizontal flip → resize.
- ``"ssd"``: torchvision's SSD recipe ("ssd"), i.e. the SSD paper §2.2 "Data augmentation"
  (arXiv:1512.02325) with the photometric distortion and zoom-out of its v2+ models:
  photometric distortion → :class:`RandomZoomOut` → :class:`RandomIoUCrop` → flip → resize.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import albumentations as A
import numpy as np
import torch
from albumentations.augmentations.crops import functional as fcrops
from albumentations.core.bbox_utils import denormalize_bboxes
from torchvision.ops import box_iou

PRESETS = ("ssdlite", "ssd", "none")
SSD_MEAN_RGB = (123, 117, 104)  # zoom-out canvas fill (ImageNet mean in 0-255), as torchvision
IOU_OPTIONS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0)  # 1.0 (or above) encodes "no crop"
MAX_OPTION_DRAWS = 100  # torchvision loops forever; we fall back to "no crop" after this many


class RandomIoUCrop(A.DualTransform):
    """SSD's IoU-constrained random crop, as ``torchvision.transforms.v2.RandomIoUCrop``.

    Albumentations has no IoU-constrained SSD crop, so this ports torchvision's sampler. One
    minimum IoU is drawn from ``sampler_options`` (a value ≥ 1 means "keep the image as is"); up
    to ``trials`` crops with side factors in [``min_scale``, ``max_scale``] and aspect ratio in
    [``min_aspect_ratio``, ``max_aspect_ratio``] are tried, and the first one that strictly
    contains the centre of at least one box, with at least one of those boxes having IoU ≥ the
    minimum with the crop, is taken; otherwise a new minimum is drawn. Only boxes whose centres
    lie strictly inside the crop are kept (rows are removed in :meth:`apply_to_bboxes`, where
    albumentations carries the labels as extra columns); the kept boxes are clipped to the
    crop by ``BboxParams`` filtering.

    Deviations from torchvision: an image without boxes is returned uncropped (torchvision keeps
    drawing until it draws "no crop", with the same result), and after ``MAX_OPTION_DRAWS``
    fruitless draws the image is returned uncropped instead of looping forever (in practice
    only when ``sampler_options`` lacks the "no crop" entry). Randomness comes from albumentations'
    ``self.py_random``, so ``A.Compose(..., seed=...)`` makes it reproducible.
    """

    def __init__(
        self,
        min_scale: float = 0.3,
        max_scale: float = 1.0,
        min_aspect_ratio: float = 0.5,
        max_aspect_ratio: float = 2.0,
        sampler_options: Sequence[float] = IOU_OPTIONS,
        trials: int = 40,
        p: float = 1.0,
    ) -> None:
        super().__init__(p=p)
        self.min_scale = min_scale
        self.max_scale = max_scale
        self.min_aspect_ratio = min_aspect_ratio
        self.max_aspect_ratio = max_aspect_ratio
        self.sampler_options = tuple(sampler_options)
        self.trials = trials

    def get_params_dependent_on_data(
        self, params: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        """Sample ``crop_coords`` (x1, y1, x2, y2) in pixels; the full image means no crop."""
        orig_h, orig_w = params["shape"][:2]
        no_crop = {"crop_coords": (0, 0, orig_w, orig_h)}
        bboxes = data.get("bboxes")
        if bboxes is None or len(bboxes) == 0:
            return no_crop
        boxes = denormalize_bboxes(np.asarray(bboxes)[:, :4], (orig_h, orig_w))
        cx = 0.5 * (boxes[:, 0] + boxes[:, 2])
        cy = 0.5 * (boxes[:, 1] + boxes[:, 3])
        rng = self.py_random
        for _ in range(MAX_OPTION_DRAWS):
            min_iou = self.sampler_options[rng.randrange(len(self.sampler_options))]
            if min_iou >= 1.0:
                return no_crop
            for _ in range(self.trials):
                span = self.max_scale - self.min_scale
                new_w = int(orig_w * (self.min_scale + span * rng.random()))
                new_h = int(orig_h * (self.min_scale + span * rng.random()))
                if new_h == 0 or not (
                    self.min_aspect_ratio <= new_w / new_h <= self.max_aspect_ratio
                ):
                    continue
                left = int((orig_w - new_w) * rng.random())
                top = int((orig_h - new_h) * rng.random())
                right, bottom = left + new_w, top + new_h
                if left == right or top == bottom:
                    continue
                inside = (left < cx) & (cx < right) & (top < cy) & (cy < bottom)
                if not inside.any():
                    continue
                crop = torch.tensor([[left, top, right, bottom]], dtype=torch.float64)
                if box_iou(torch.from_numpy(boxes[inside]), crop).max() < min_iou:
                    continue
                return {"crop_coords": (left, top, right, bottom)}
        return no_crop

    def apply(
        self, img: np.ndarray, crop_coords: tuple[int, int, int, int], **params: Any
    ) -> np.ndarray:
        """Crop the image to ``crop_coords``."""
        return fcrops.crop(img, *crop_coords)

    def apply_to_bboxes(
        self, bboxes: np.ndarray, crop_coords: tuple[int, int, int, int], **params: Any
    ) -> np.ndarray:
        """Drop boxes whose centres are not strictly inside the crop; shift the rest into it."""
        if len(bboxes) == 0:
            return bboxes
        orig_h, orig_w = params["shape"][:2]
        left, top, right, bottom = crop_coords
        pixel = denormalize_bboxes(bboxes[:, :4], (orig_h, orig_w))
        cx = 0.5 * (pixel[:, 0] + pixel[:, 2])
        cy = 0.5 * (pixel[:, 1] + pixel[:, 3])
        inside = (left < cx) & (cx < right) & (top < cy) & (cy < bottom)
        return fcrops.crop_bboxes_by_coords(bboxes[inside], crop_coords, (orig_h, orig_w))

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        """Arguments shown in ``repr`` and used for serialisation."""
        return (
            "min_scale",
            "max_scale",
            "min_aspect_ratio",
            "max_aspect_ratio",
            "sampler_options",
            "trials",
        )


class RandomZoomOut(A.DualTransform):
    """Zoom out ("expansion"), as ``torchvision.transforms.v2.RandomZoomOut`` / SSD paper §3.6.

    The image is placed at a random position on a canvas ``r`` times its size, ``r`` uniform in
    ``side_range``, filled with ``fill``. ``A.PadIfNeeded`` pads to a fixed size and ``A.Affine``
    samples scale and translation independently (the image can leave the canvas), so neither fits.
    """

    def __init__(
        self,
        fill: tuple[int, int, int] = SSD_MEAN_RGB,
        side_range: tuple[float, float] = (1.0, 4.0),
        p: float = 0.5,
    ) -> None:
        super().__init__(p=p)
        if not 1.0 <= side_range[0] <= side_range[1]:
            raise ValueError(f"side_range must satisfy 1 <= low <= high, got {side_range}")
        self.fill = fill
        self.side_range = side_range

    def get_params_dependent_on_data(
        self, params: dict[str, Any], data: dict[str, Any]
    ) -> dict[str, Any]:
        """Sample the canvas size and the image's top-left corner on it, in pixels."""
        orig_h, orig_w = params["shape"][:2]
        low, high = self.side_range
        ratio = low + (high - low) * self.py_random.random()
        canvas_w, canvas_h = int(orig_w * ratio), int(orig_h * ratio)
        left = int((canvas_w - orig_w) * self.py_random.random())
        top = int((canvas_h - orig_h) * self.py_random.random())
        return {"canvas_shape": (canvas_h, canvas_w), "offset": (left, top)}

    def apply(
        self,
        img: np.ndarray,
        canvas_shape: tuple[int, int],
        offset: tuple[int, int],
        **params: Any,
    ) -> np.ndarray:
        """Paste the image onto a ``fill``-coloured canvas at ``offset``."""
        canvas = np.empty((*canvas_shape, *img.shape[2:]), dtype=img.dtype)
        canvas[...] = np.asarray(self.fill, dtype=img.dtype)
        left, top = offset
        canvas[top : top + img.shape[0], left : left + img.shape[1]] = img
        return canvas

    def apply_to_bboxes(
        self,
        bboxes: np.ndarray,
        canvas_shape: tuple[int, int],
        offset: tuple[int, int],
        **params: Any,
    ) -> np.ndarray:
        """Shift the boxes by ``offset`` and renormalise them to the canvas."""
        left, top = offset
        canvas_h, canvas_w = canvas_shape
        window = (-left, -top, canvas_w - left, canvas_h - top)  # the canvas, in image pixels
        return fcrops.crop_bboxes_by_coords(bboxes, window, params["shape"][:2])

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        """Arguments shown in ``repr`` and used for serialisation."""
        return ("fill", "side_range")


def photometric_distort() -> A.Sequential:
    """``torchvision.transforms.v2.RandomPhotometricDistort`` (SSD paper §2.2), in albumentations.

    Brightness ×[0.875, 1.125], then contrast ×[0.5, 1.5] either before or after saturation
    ×[0.5, 1.5] and hue ±0.05, then a channel permutation; each step with probability 0.5.
    """

    def jitter(**kwargs: float | tuple[float, float]) -> A.ColorJitter:
        ranges = {"brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "hue": 0.0, **kwargs}
        return A.ColorJitter(**ranges, p=0.5)

    def saturation_hue() -> list[A.ColorJitter]:
        return [jitter(saturation=(0.5, 1.5)), jitter(hue=(-0.05, 0.05))]

    return A.Sequential(
        [
            jitter(brightness=(0.875, 1.125)),
            A.OneOf(
                [
                    A.Sequential([jitter(contrast=(0.5, 1.5)), *saturation_hue()], p=1.0),
                    A.Sequential([*saturation_hue(), jitter(contrast=(0.5, 1.5))], p=1.0),
                ],
                p=1.0,
            ),
            A.ChannelShuffle(p=0.5),
        ],
        p=1.0,
    )


def bbox_params() -> A.BboxParams:
    """Pixel-xyxy boxes with ``labels``; boxes under 1 px² after any step are dropped."""
    return A.BboxParams(format="pascal_voc", label_fields=["labels"], min_area=1.0, clip=True)


def build_transforms(preset: str, size: int) -> A.Compose:
    """The augmentation pipeline ``preset`` (one of :data:`PRESETS`) ending in a size×size resize.

    ``"ssdlite"`` and ``"ssd"`` follow torchvision's detection reference presets of those names;
    ``"none"`` only resizes (evaluation).
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown augmentation preset {preset!r}; valid presets: {PRESETS}")
    resize = A.Resize(size, size)
    if preset == "none":
        transforms: list[A.BasicTransform | A.BaseCompose] = [resize]
    elif preset == "ssdlite":
        transforms = [RandomIoUCrop(), A.HorizontalFlip(p=0.5), resize]
    else:
        transforms = [
            photometric_distort(),
            RandomZoomOut(fill=SSD_MEAN_RGB, p=0.5),
            RandomIoUCrop(),
            A.HorizontalFlip(p=0.5),
            resize,
        ]
    return A.Compose(transforms, bbox_params=bbox_params())
