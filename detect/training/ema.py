"""Exponential moving average of the weights, on Lightning's WeightAveraging callback."""

from __future__ import annotations

import math

import torch
from lightning.pytorch.callbacks import WeightAveraging
from torch import Tensor


class EMA(WeightAveraging):
    """EMA of parameters and BN buffers with a warm-up of the decay, as timm/YOLOX:
    ``decay × (1 − exp(−updates / warmup_updates))``, so early averages are not dominated by
    the random initial weights. Lightning swaps the average in for validation and saves it as the
    checkpoint's ``state_dict`` (the raw weights go to ``current_model_state``)."""

    def __init__(self, decay: float = 0.9998, warmup_updates: float = 2000.0) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay, self.warmup_updates = decay, warmup_updates
        super().__init__(use_buffers=True, multi_avg_fn=self.average)

    def decay_at(self, updates: int) -> float:
        return self.decay * (1.0 - math.exp(-updates / max(self.warmup_updates, 1e-8)))

    def average(self, averaged: list[Tensor], current: list[Tensor], num_averaged: Tensor) -> None:
        """In place, once per device and dtype group (torch's foreach kernels, one host sync per
        step); integer buffers (BN's ``num_batches_tracked``) follow the model."""
        if not averaged[0].is_floating_point():
            torch._foreach_copy_(averaged, current)
            return
        torch._foreach_lerp_(averaged, current, 1.0 - self.decay_at(int(num_averaged)))
