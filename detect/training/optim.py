"""Optimiser parameter groups and the warm-up + cosine learning-rate schedule."""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def is_depthwise(module: nn.Module) -> bool:
    """A convolution with one filter per input channel (groups == in_channels > 1)."""
    return (
        isinstance(module, nn.Conv2d) and module.groups > 1 and module.groups == module.in_channels
    )


def parameter_groups(model: nn.Module, backbone_lr_mult: float = 1.0) -> list[dict]:
    """Decayed weights, and BN parameters, biases and depthwise filters without weight decay
    (MobileNetV1 §3.2: "very little or no weight decay on the depthwise filters since there are
    so few parameters in them"); with ``backbone_lr_mult`` ≠ 1 (fine-tuning), each of the two is
    split again into the backbone's (``lr_mult`` × the rate) and the rest."""
    backbone = getattr(getattr(model, "features", None), "backbone", None)
    in_backbone = {id(p) for p in backbone.parameters()} if backbone is not None else set()
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for module in model.modules():
        for parameter in module.parameters(recurse=False):  # frozen ones too: they thaw later
            exempt = parameter.ndim <= 1 or is_depthwise(module)
            split = backbone_lr_mult != 1.0 and id(parameter) in in_backbone
            groups.setdefault((exempt, split), []).append(parameter)
    chosen = []
    for (exempt, split), params in sorted(groups.items()):
        group: dict = {"params": params}
        if exempt:
            group["weight_decay"] = 0.0
        if split:
            group["lr_mult"] = backbone_lr_mult
        chosen.append(group)
    return chosen


def apply_lr_mult(optimizer: Optimizer) -> None:
    """Scale each group's rate by its ``lr_mult`` (once, before the schedule takes its base)."""
    for group in optimizer.param_groups:
        group["lr"] *= group.pop("lr_mult", 1.0)


@dataclass(frozen=True)
class ScheduleConfig:
    """Linear warm-up from ``warmup_factor × lr`` over ``warmup_epochs`` (may be fractional),
    then cosine decay to ``min_lr_ratio × lr`` at the last step (torchvision's detection recipe)."""

    warmup_epochs: float = 1.0
    warmup_factor: float = 0.001
    min_lr_ratio: float = 0.0


class WarmupCosine:
    """The schedule as a factor of each group's base rate at every step: a linear ramp from
    ``warmup_factor`` to 1 over ``warmup`` steps (``LinearLR``), then a half cosine to
    ``min_ratio`` at ``total`` (``CosineAnnealingLR``, closed form). A callable object, so
    ``LambdaLR`` saves it in checkpoints and :meth:`extend` survives a resume."""

    def __init__(self, total: int, warmup: int, warmup_factor: float, min_ratio: float) -> None:
        self.total, self.warmup = total, warmup
        self.warmup_factor, self.min_ratio = warmup_factor, min_ratio
        self.join: tuple[int, float, int] | None = None  # extended: (step, factor, ramp steps)

    def planned(self, step: int) -> float:
        """The warm-up + cosine over the whole (possibly extended) length."""
        if step < self.warmup:
            return self.warmup_factor + (1.0 - self.warmup_factor) * step / self.warmup
        progress = min((step - self.warmup) / max(self.total - self.warmup, 1), 1.0)
        return self.min_ratio + (1.0 - self.min_ratio) * (1 + math.cos(math.pi * progress)) / 2

    def __call__(self, step: int) -> float:
        if self.join is not None:
            start, factor, ramp = self.join
            if start <= step < start + ramp:  # from the rate at the join back onto the plan
                target = self.planned(start + ramp)
                return factor + (target - factor) * (step - start) / ramp
        return self.planned(step)

    def extend(self, step: int, total: int, ramp: int) -> tuple[float, float]:
        """Re-plan a resumed run that got more steps to end at ``total``: from the factor it had
        at ``step`` (so the rate is continuous at the join) a linear ramp over ``ramp`` steps
        onto the warm-up + cosine planned over the new length, then that cosine to the end.
        Returns the factors at the join and at the end of the ramp."""
        factor = self(step)
        self.total, self.join = total, (step, factor, ramp)
        return factor, self.planned(step + ramp)


def warmup_steps(config: ScheduleConfig, total_steps: int, steps_per_epoch: int) -> int:
    return min(round(config.warmup_epochs * steps_per_epoch), max(total_steps - 1, 0))


def warmup_cosine(
    optimizer: Optimizer, config: ScheduleConfig, total_steps: int, steps_per_epoch: int
) -> LambdaLR:
    """A per-step scheduler: :class:`WarmupCosine` through torch's ``LambdaLR``."""
    warmup = warmup_steps(config, total_steps, steps_per_epoch)
    plan = WarmupCosine(total_steps, warmup, config.warmup_factor, config.min_lr_ratio)
    return LambdaLR(optimizer, plan)
