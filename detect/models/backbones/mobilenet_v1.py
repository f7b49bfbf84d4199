"""MobileNetV1 (Howard et al., 2017): 3×3 stem, 13 depthwise-separable blocks (paper Table 1)."""

from __future__ import annotations

from detect.models.backbones.base import ClassifierSpec, ConvSpec, MobileNetSpec, TapSpec
from detect.models.layers import BlockSpec, make_divisible

# Table 1, one row per depthwise-separable block: (pointwise output channels, depthwise stride).
# The table's second-to-last "Conv dw / s2" is a known typo: the feature map stays 7×7, so s1.
TABLE_1: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),  # block 11: last stride-16 map, SSD's first tap ("Conv2d_11_pointwise")
    (1024, 2),
    (1024, 1),
)
STEM_CHANNELS = 32


def spec(width_mult: float = 1.0) -> MobileNetSpec:
    """MobileNetV1 with width multiplier α (paper §3.3) applied to every layer."""
    in_ch = make_divisible(STEM_CHANNELS * width_mult)
    stem = ConvSpec(3, in_ch, kernel=3, stride=2, act="relu")
    blocks = []
    for out, stride in TABLE_1:
        out_ch = make_divisible(out * width_mult)
        blocks.append(
            BlockSpec(in_ch, in_ch, out_ch, kernel=3, stride=stride, act="relu", project_act="relu")
        )
        in_ch = out_ch
    return MobileNetSpec(
        name="v1",
        stem=stem,
        blocks=tuple(blocks),
        last_conv=None,
        classifier=ClassifierSpec(in_ch),
        # features = [stem, block 1 … block 13]: taps at block 11 (stride 16), block 13 (stride 32)
        taps=(TapSpec("C4", 11), TapSpec("C5", 13)),
    )
