"""MobileNetV3-Large and -Small (Howard et al., 2019): SE, h-swish, the efficient last stage
(paper Tables 1 and 2), with the detection options of §6.3 (reduced tail, dilation)."""

from __future__ import annotations

from typing import Literal

from detect.models.backbones.base import ClassifierSpec, ConvSpec, MobileNetSpec, TapSpec
from detect.models.layers import ActivationName, BatchNormConfig, BlockSpec, make_divisible

Row = tuple[int, int, int, bool, ActivationName, int]

# Table 1 (Large): (kernel, expansion size, output channels, SE, NL, stride); input 16 channels.
TABLE_1_LARGE: tuple[Row, ...] = (
    (3, 16, 16, False, "relu", 1),
    (3, 64, 24, False, "relu", 2),
    (3, 72, 24, False, "relu", 1),
    (5, 72, 40, True, "relu", 2),
    (5, 120, 40, True, "relu", 1),
    (5, 120, 40, True, "relu", 1),
    (3, 240, 80, False, "hswish", 2),
    (3, 200, 80, False, "hswish", 1),
    (3, 184, 80, False, "hswish", 1),
    (3, 184, 80, False, "hswish", 1),
    (3, 480, 112, True, "hswish", 1),
    (3, 672, 112, True, "hswish", 1),
    (5, 672, 160, True, "hswish", 2),  # last stage: its expansion is SSDLite's first tap (§6.3)
    (5, 960, 160, True, "hswish", 1),
    (5, 960, 160, True, "hswish", 1),
)
# Table 2 (Small).
TABLE_2_SMALL: tuple[Row, ...] = (
    (3, 16, 16, True, "relu", 2),
    (3, 72, 24, False, "relu", 2),
    (3, 88, 24, False, "relu", 1),
    (5, 96, 40, True, "hswish", 2),
    (5, 240, 40, True, "hswish", 1),
    (5, 240, 40, True, "hswish", 1),
    (5, 120, 48, True, "hswish", 1),
    (5, 144, 48, True, "hswish", 1),
    (5, 288, 96, True, "hswish", 2),  # last stage starts here
    (5, 576, 96, True, "hswish", 1),
    (5, 576, 96, True, "hswish", 1),
)
TABLES = {"large": (TABLE_1_LARGE, 1280), "small": (TABLE_2_SMALL, 1024)}
LAST_STAGE = {"large": 12, "small": 8}  # table row where the stride-32 stage begins
STEM_CHANNELS = 16
BN = BatchNormConfig(eps=0.001, momentum=0.01)  # torchvision's MobileNetV3 defaults


def spec(
    size: Literal["large", "small"],
    width_mult: float = 1.0,
    reduced_tail: bool = False,
    dilated: bool = False,
) -> MobileNetSpec:
    """MobileNetV3; ``reduced_tail`` halves the last stage's channels and ``dilated`` trades its
    stride 2 for dilation 2 (both from §6.3, for detection and segmentation)."""
    table, hidden = TABLES[size]
    last_stage = LAST_STAGE[size]
    in_ch = make_divisible(STEM_CHANNELS * width_mult)
    stem = ConvSpec(3, in_ch, kernel=3, stride=2, act="hswish")
    blocks = []
    for row, (kernel, exp, out, use_se, act, stride) in enumerate(table):
        tail_divider = 2 if reduced_tail and row >= last_stage else 1
        if row > last_stage:
            exp //= tail_divider
        out_ch = make_divisible(out // tail_divider * width_mult)
        exp_ch = make_divisible(exp * width_mult)
        dilation = 2 if dilated and row >= last_stage else 1
        blocks.append(
            BlockSpec(
                in_ch,
                exp_ch,
                out_ch,
                kernel=kernel,
                stride=1 if dilation > 1 else stride,
                act=act,
                se_ch=make_divisible(exp_ch // 4) if use_se else 0,  # SE squeeze: expansion / 4
                dilation=dilation,
                residual=stride == 1 and in_ch == out_ch,
            )
        )
        in_ch = out_ch
    last_ch = 6 * in_ch  # the efficient last stage: 1×1 conv to 6× the last block's channels
    hidden_ch = make_divisible(hidden // (2 if reduced_tail else 1) * width_mult)
    return MobileNetSpec(
        name=f"v3_{size}",
        stem=stem,
        blocks=tuple(blocks),
        last_conv=ConvSpec(in_ch, last_ch, kernel=1, stride=1, act="hswish"),
        classifier=ClassifierSpec(last_ch, hidden_ch, hidden_act="hswish", dropout=0.2),
        taps=(TapSpec("C4", last_stage + 1, at_expansion=True), TapSpec("C5", len(blocks) + 1)),
        bn=BN,
    )
