"""Faster ways to run the same training step: each one is a switch, and each is tested to give
the plain step's loss and gradients."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class SpeedConfig:
    """``channels_last``: the network's weights and input in channels-last (NHWC) memory
    format, which CPU convolutions (1×1 ones become one matrix product) and GPUs' tensor cores
    run faster; the values, and so the maths, are unchanged. ``fused_optimizer``: torch's fused
    kernel for the optimizer's update (``fused=True``: Adam, AdamW, SGD, Adagrad), one pass
    over all parameters instead of a loop of small ops."""

    channels_last: bool = False
    fused_optimizer: bool = False

    def optimizer_options(self) -> dict[str, bool]:
        """Keyword arguments for the optimizer's constructor."""
        return {"fused": True} if self.fused_optimizer else {}

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def prepare(self, model: nn.Module) -> nn.Module:
        """``model`` in this memory format (in place; checkpoints load into it as into any)."""
        return model.to(memory_format=self.memory_format)

    def inputs(self, images: Tensor) -> Tensor:
        """A batch of images (N, 3, H, W) in this memory format."""
        return images.contiguous(memory_format=self.memory_format)
