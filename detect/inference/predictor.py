"""Predictor: preprocess → network → postprocess for a batch of images (PyTorch backend)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from detect.models import SSDLite, preprocess


def detect(model: SSDLite, images: Sequence[Tensor]) -> list[dict[str, Tensor]]:
    """(C, H, W) uint8 or [0, 1] float images of any sizes, on the model's device → per image
    ``boxes`` (xyxy, original pixels), ``scores``, ``labels`` (contiguous, 1..K). The one path
    shared by training validation and every evaluation, so their mAPs agree."""
    batch = preprocess(images, model.size)
    return model.postprocess(model(batch.images), batch.original_sizes)


class Predictor:
    """Runs a detector in eval mode under ``torch.inference_mode`` on ``device``.

    ``compile=True`` compiles the network (backbone + head) with ``torch.compile`` (inductor);
    the first calls for each new batch size pay the compilation.
    """

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
