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
        super().__init__(use_buffers=True, avg_fn=self.average)

    def decay_at(self, updates: int) -> float:
        return self.decay * (1.0 - math.exp(-updates / max(self.warmup_updates, 1e-8)))

    def average(self, averaged: Tensor, current: Tensor, num_averaged: Tensor) -> Tensor:
        decay = self.decay_at(int(num_averaged))
        if not averaged.is_floating_point():  # e.g. BN's num_batches_tracked
            return current.clone()
        return torch.lerp(current, averaged, decay)
