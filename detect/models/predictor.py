"""The detection contract and its PyTorch implementation: images in, detections out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
from torch import Tensor

from detect.models.detector import SSDLite
from detect.models.transform import preprocess


class Detector(Protocol):
    """What every backend is: (3, H, W) uint8 RGB images of any sizes, one call = one batch →
    per image ``boxes`` (D, 4) xyxy in that image's pixels, ``scores`` (D,) best first and
    ``labels`` (D,) contiguous 1..K (0 is background)."""

    def __call__(self, images: Sequence[Tensor]) -> list[dict[str, Tensor]]: ...


def detect(model: SSDLite, images: Sequence[Tensor]) -> list[dict[str, Tensor]]:
    """(C, H, W) uint8 or [0, 1] float images of any sizes, on the model's device → per image
    ``boxes`` (xyxy, original pixels), ``scores``, ``labels`` (contiguous, 1..K). The one path
    shared by training validation and every evaluation, so their mAPs agree."""
    batch = preprocess(images, model.size)
    return model.postprocess(model(batch.images), batch.original_sizes)


class Predictor:
    """A :class:`Detector` over an SSDLite in eval mode under ``torch.inference_mode`` on
    ``device``. ``compile=True`` compiles the network with ``torch.compile`` (inductor); the
    first calls for each new batch size pay the compilation."""

    def __init__(
        self, model: SSDLite, device: str | torch.device = "cpu", compile: bool = False
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        if compile:
            self.model = torch.compile(self.model)  # attributes pass through to the module

    @torch.inference_mode()
    def __call__(self, images: Sequence[Tensor]) -> list[dict[str, Tensor]]:
        """See :func:`detect`; images may be on any device."""
        return detect(self.model, [image.to(self.device) for image in images])
