"""Optimiser parameter groups and the warm-up + cosine learning-rate schedule."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, LRScheduler, SequentialLR


def is_depthwise(module: nn.Module) -> bool:
    """A convolution with one filter per input channel (groups == in_channels > 1)."""
    return (
        isinstance(module, nn.Conv2d) and module.groups > 1 and module.groups == module.in_channels
    )


def parameter_groups(model: nn.Module) -> list[dict]:
    """Two groups: decayed weights, and BN parameters, biases and depthwise filters without
    weight decay (MobileNetV1 §3.2: "very little or no weight decay on the depthwise filters
    since there are so few parameters in them")."""
    decay, no_decay = [], []
    for module in model.modules():
        for parameter in module.parameters(recurse=False):
            if not parameter.requires_grad:
                continue
            exempt = parameter.ndim <= 1 or is_depthwise(module)
            (no_decay if exempt else decay).append(parameter)
    return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]


@dataclass(frozen=True)
class ScheduleConfig:
    """Linear warm-up from ``warmup_factor × lr`` over ``warmup_epochs`` (may be fractional),
    then cosine decay to ``min_lr_ratio × lr`` at the last step (torchvision's detection recipe)."""

    warmup_epochs: float = 1.0
    warmup_factor: float = 0.001
    min_lr_ratio: float = 0.0


def warmup_cosine(
    optimizer: Optimizer, config: ScheduleConfig, total_steps: int, steps_per_epoch: int
) -> LRScheduler:
    """A per-step scheduler built from torch's LinearLR and CosineAnnealingLR."""
    warmup = min(round(config.warmup_epochs * steps_per_epoch), max(total_steps - 1, 0))
    base_lr = optimizer.param_groups[0]["lr"]
    cosine = CosineAnnealingLR(
        optimizer, T_max=max(total_steps - warmup, 1), eta_min=config.min_lr_ratio * base_lr
    )
    if warmup == 0:
        return cosine
    ramp = LinearLR(optimizer, start_factor=config.warmup_factor, total_iters=warmup)
    return SequentialLR(optimizer, [ramp, cosine], milestones=[warmup])
