"""MobileNetV2 (Sandler et al., 2018): inverted residuals, linear bottlenecks (paper Table 2)."""

from __future__ import annotations

from detect.models.backbones.base import ClassifierSpec, ConvSpec, MobileNetSpec, TapSpec
from detect.models.layers import BlockSpec, make_divisible

# Table 2: (expansion t, output channels c, repeats n, first stride s).
TABLE_2: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),  # its first block's expansion (576 ch, stride 16) is SSDLite's first tap (§6.2)
    (6, 320, 1, 1),
)
STEM_CHANNELS = 32
LAST_CHANNELS = 1280


def spec(width_mult: float = 1.0) -> MobileNetSpec:
    """MobileNetV2; the last 1×1 conv keeps 1280 channels for α < 1 (paper §5.1)."""
    in_ch = make_divisible(STEM_CHANNELS * width_mult)
    stem = ConvSpec(3, in_ch, kernel=3, stride=2, act="relu6")
    blocks: list[BlockSpec] = []
    c4_layer = 0
    for t, c, n, s in TABLE_2:
        out_ch = make_divisible(c * width_mult)
        if c == 160:
            c4_layer = len(blocks) + 1  # +1: features[0] is the stem
        for i in range(n):
            stride = s if i == 0 else 1
            blocks.append(
                BlockSpec(
                    in_ch,
                    round(in_ch * t),
                    out_ch,
                    kernel=3,
                    stride=stride,
                    act="relu6",
                    residual=stride == 1 and in_ch == out_ch,
                )
            )
            in_ch = out_ch
    last_ch = make_divisible(LAST_CHANNELS * max(1.0, width_mult))
    return MobileNetSpec(
        name="v2",
        stem=stem,
        blocks=tuple(blocks),
        last_conv=ConvSpec(in_ch, last_ch, kernel=1, stride=1, act="relu6"),
        classifier=ClassifierSpec(last_ch, dropout=0.2),
        taps=(TapSpec("C4", c4_layer, at_expansion=True), TapSpec("C5", len(blocks) + 1)),
    )
