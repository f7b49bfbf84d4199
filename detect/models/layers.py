"""Bricks all MobileNets share: width rounding, activations, ConvBNAct, SE, the mobile block."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

ActivationName = Literal["relu", "relu6", "hswish"]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,  # V1 (paper Fig. 3)
    "relu6": nn.ReLU6,  # V2 (paper §3.2: robust under low-precision arithmetic)
    "hswish": nn.Hardswish,  # V3 eq. 2: x · ReLU6(x + 3) / 6
}


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round to a multiple of ``divisor``, never losing more than 10% (V2/V3 reference code)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def activation(name: ActivationName | None) -> nn.Module:
    """The named non-linearity, or identity for a linear layer (V2's linear bottleneck)."""
    if name is None:
        return nn.Identity()
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name](inplace=True)


def normal_init(module: nn.Module, std: float = 0.03) -> None:
    """N(0, std) conv weights, zero biases: torchvision SSDLite's init for training from scratch."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.normal_(layer.weight, 0.0, std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


@dataclass(frozen=True)
class BatchNormConfig:
    """BatchNorm settings; SSDLite uses eps 0.001 / momentum 0.03 (torchvision ssdlite.py)."""

    eps: float = 1e-5
    momentum: float = 0.1


class ConvBNAct(nn.Sequential):
    """Conv2d (no bias) → BatchNorm → activation, with 'same' padding for odd kernels."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int = 1,
        stride: int = 1,
        groups: int = 1,
        dilation: int = 1,
        act: ActivationName | None = "relu",
        bn: BatchNormConfig = BatchNormConfig(),  # frozen, so a shared default is safe
    ) -> None:
        padding = (kernel - 1) // 2 * dilation
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel, stride, padding, dilation, groups, bias=False),
            nn.BatchNorm2d(out_ch, eps=bn.eps, momentum=bn.momentum),
            activation(act),
        )


class SqueezeExcite(nn.Module):
    """Squeeze-and-excite with a hard-sigmoid gate (V3 paper §5.3, Fig. 4)."""

    def __init__(self, channels: int, squeeze_ch: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze_ch, 1)
        self.fc2 = nn.Conv2d(squeeze_ch, channels, 1)
        self.relu = nn.ReLU(inplace=True)
        self.gate = nn.Hardsigmoid(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        # torchvision's pooling: ATen computes it as the mean over H, W (bit-identical), and
        # it exports as ONNX GlobalAveragePool, which ONNX Runtime runs in its blocked NCHWc
        # layout (a ReduceMean made it convert the layout back and forth around every SE)
        scale = F.adaptive_avg_pool2d(x, 1)
        return x * self.gate(self.fc2(self.relu(self.fc1(scale))))


@dataclass(frozen=True)
class BlockSpec:
    """One row of a paper's layer table, with channels already rounded for the width multiplier.

    ``exp_ch == in_ch`` means no expansion conv (V1's depthwise-separable block, V2's t=1 block);
    ``project_act`` is None for V2/V3's linear bottleneck and "relu" for V1's pointwise conv.
    """

    in_ch: int
    exp_ch: int
    out_ch: int
    kernel: int
    stride: int
    act: ActivationName
    se_ch: int = 0
    project_act: ActivationName | None = None
    dilation: int = 1
    residual: bool = False


class InvertedResidual(nn.Module):
    """1×1 expand → k×k depthwise → SE → 1×1 project, plus skip (V2 Table 1, V3 Fig. 4).

    With no expansion, no SE, a ReLU projection and no skip it is V1's depthwise-separable block
    (V1 Fig. 3), so all three papers share one brick and one weight layout.
    """

    def __init__(self, spec: BlockSpec, bn: BatchNormConfig) -> None:
        super().__init__()
        self.spec = spec
        exp = spec.exp_ch
        self.expand = (
            ConvBNAct(spec.in_ch, exp, 1, act=spec.act, bn=bn)
            if exp != spec.in_ch
            else nn.Identity()
        )
        self.depthwise = ConvBNAct(
            exp,
            exp,
            spec.kernel,
            spec.stride,
            groups=exp,
            dilation=spec.dilation,
            act=spec.act,
            bn=bn,
        )
        self.se = SqueezeExcite(exp, spec.se_ch) if spec.se_ch else nn.Identity()
        self.project = ConvBNAct(exp, spec.out_ch, 1, act=spec.project_act, bn=bn)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_from_expansion(x, self.expand(x))

    def forward_from_expansion(self, x: Tensor, expanded: Tensor) -> Tensor:
        """Finish the block from the expansion output (SSDLite taps the expansion, V2 §6.2)."""
        y = self.project(self.se(self.depthwise(expanded)))
        return x + y if self.spec.residual else y
