"""The network all MobileNet papers describe: stem, a table of blocks, last 1×1 conv, classifier.

Each paper file turns its layer table into a :class:`MobileNetSpec`; :class:`MobileNet` builds
modules from it and exposes the detection feature taps. The layout (``features`` then
``classifier``) follows torchvision's so that its weights import in order.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal

from torch import Tensor, nn

from detect.models.layers import (
    ActivationName,
    BatchNormConfig,
    BlockSpec,
    ConvBNAct,
    InvertedResidual,
    activation,
    normal_init,
)


@dataclass(frozen=True)
class ConvSpec:
    """A plain convolution row of a table (the 3×3 stem, the last 1×1 conv)."""

    in_ch: int
    out_ch: int
    kernel: int
    stride: int
    act: ActivationName


@dataclass(frozen=True)
class ClassifierSpec:
    """Global pool → [Linear → act] → dropout → Linear; V3 adds the hidden 1280 layer (V3 §5.1)."""

    in_ch: int
    hidden_ch: int | None = None
    hidden_act: ActivationName | None = None
    dropout: float = 0.0


@dataclass(frozen=True)
class TapSpec:
    """A detection feature map: the output (or expansion output) of ``features[layer]``."""

    name: str
    layer: int
    at_expansion: bool = False


@dataclass(frozen=True)
class FeatureInfo:
    """Channels and stride of a named feature tap (timm's ``feature_info``)."""

    name: str
    channels: int
    stride: int


@dataclass(frozen=True)
class MobileNetSpec:
    """A whole architecture, channels resolved for one width multiplier."""

    name: str
    stem: ConvSpec
    blocks: tuple[BlockSpec, ...]
    last_conv: ConvSpec | None
    classifier: ClassifierSpec
    taps: tuple[TapSpec, ...]
    bn: BatchNormConfig = field(default_factory=BatchNormConfig)

    @property
    def layer_strides(self) -> list[int]:
        """Stride of each entry of ``features`` (stem, blocks, last conv)."""
        strides = [self.stem.stride] + [b.stride for b in self.blocks]
        return strides + ([self.last_conv.stride] if self.last_conv else [])

    @property
    def total_stride(self) -> int:
        return math.prod(self.layer_strides)

    def feature_info(self) -> list[FeatureInfo]:
        """Channels and output stride of each tap, derived from the table alone."""
        layers: list[ConvSpec | BlockSpec] = [self.stem, *self.blocks]
        layers += [self.last_conv] if self.last_conv else []
        strides = self.layer_strides
        info = []
        for tap in self.taps:
            layer = layers[tap.layer]
            if tap.at_expansion:
                assert isinstance(layer, BlockSpec), "only a block has an expansion output"
                channels, stride = layer.exp_ch, math.prod(strides[: tap.layer])
            else:
                channels, stride = layer.out_ch, math.prod(strides[: tap.layer + 1])
            info.append(FeatureInfo(tap.name, channels, stride))
        return info


class MobileNet(nn.Module):
    """A MobileNet classifier with named detection taps (``forward_taps``)."""

    def __init__(
        self, spec: MobileNetSpec, num_classes: int | None = 1000, init: InitScheme = "kaiming"
    ) -> None:
        super().__init__()
        self.spec = spec
        self.feature_info = spec.feature_info()
        stem, bn = spec.stem, spec.bn
        layers: list[nn.Module] = [
            ConvBNAct(stem.in_ch, stem.out_ch, stem.kernel, stem.stride, act=stem.act, bn=bn)
        ]
        layers += [InvertedResidual(block, bn) for block in spec.blocks]
        if spec.last_conv:
            last = spec.last_conv
            layers.append(
                ConvBNAct(last.in_ch, last.out_ch, last.kernel, last.stride, act=last.act, bn=bn)
            )
        self.features = nn.Sequential(*layers)
        # No classifier when used as a detection backbone (num_classes=None).
        self.classifier = _classifier(spec.classifier, num_classes) if num_classes else None
        self._taps = {tap.layer: tap for tap in spec.taps}
        init_weights(self, init)

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(
                f"expected a batch of RGB images (N, 3, H, W), got shape {tuple(x.shape)}"
            )
        stride = self.spec.total_stride
        if x.shape[-2] < stride or x.shape[-1] < stride:
            raise ValueError(
                f"input {x.shape[-2]}×{x.shape[-1]} is smaller than {self.spec.name}'s total "
                f"stride {stride}; use an input of at least {stride}×{stride} pixels"
            )

    def forward_taps(self, x: Tensor) -> OrderedDict[str, Tensor]:
        """The detection feature maps named in ``feature_info`` (stops after the last tap)."""
        self._check_input(x)
        taps: OrderedDict[str, Tensor] = OrderedDict()
        last = max(self._taps)
        for index, layer in enumerate(self.features[: last + 1]):
            tap = self._taps.get(index)
            if tap is not None and tap.at_expansion:
                expanded = layer.expand(x)
                taps[tap.name] = expanded
                x = layer.forward_from_expansion(x, expanded)
            else:
                x = layer(x)
                if tap is not None:
                    taps[tap.name] = x
        return taps

    def forward(self, x: Tensor) -> Tensor:
        """Class logits (ImageNet-style classification, for checking against the papers)."""
        self._check_input(x)
        if self.classifier is None:
            raise RuntimeError("built without a classifier (num_classes=None): use forward_taps")
        return self.classifier(self.features(x).mean(dim=(2, 3)))


InitScheme = Literal["kaiming", "normal"]


def init_weights(model: nn.Module, scheme: InitScheme) -> None:
    """Reset weights: "kaiming" as torchvision's classifiers, "normal" = N(0, 0.03) convs, the
    init torchvision's SSDLite uses when training a detector from scratch."""
    if scheme not in ("kaiming", "normal"):
        raise ValueError(f"unknown init {scheme!r}; choose 'kaiming' or 'normal'")
    if scheme == "normal":
        normal_init(model)
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and scheme == "kaiming":
            nn.init.kaiming_normal_(module.weight, mode="fan_out")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.01)
            nn.init.zeros_(module.bias)


def _classifier(spec: ClassifierSpec, num_classes: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    in_ch = spec.in_ch
    if spec.hidden_ch:
        layers += [nn.Linear(in_ch, spec.hidden_ch), activation(spec.hidden_act)]
        in_ch = spec.hidden_ch
    if spec.dropout > 0:
        layers.append(nn.Dropout(spec.dropout))
    layers.append(nn.Linear(in_ch, num_classes))
    return nn.Sequential(*layers)
