import pytest
import torch

from detect.models.layers import BatchNormConfig, BlockSpec, InvertedResidual, make_divisible


@pytest.mark.parametrize(
    "value", [3.0, 11.2, 16.0, 24 * 0.35, 100.0, 504.0, 672 * 0.75, 1280 * 0.5]
)
def test_make_divisible_rounds_to_eight_and_keeps_ninety_percent(value):
    rounded = make_divisible(value)
    assert rounded % 8 == 0
    assert rounded >= 0.9 * value
    assert rounded >= 8


def test_make_divisible_known_values():
    # 32 × 0.35 = 11.2 rounds to 8, which loses > 10%, so it goes up to 16 (V2 reference code).
    assert make_divisible(32 * 0.35) == 16
    assert make_divisible(960 * 0.75) == 720
    assert make_divisible(20) == 24  # nearest multiple, ties up


def test_residual_block_is_identity_when_its_projection_is_zero():
    spec = BlockSpec(16, 64, 16, kernel=3, stride=1, act="relu6", residual=True)
    block = InvertedResidual(spec, BatchNormConfig()).eval()
    torch.nn.init.zeros_(block.project[1].weight)  # BN scale 0 → branch outputs BN shift = 0
    x = torch.randn(2, 16, 8, 8)
    torch.testing.assert_close(block(x), x)


def test_v1_block_has_nonlinear_projection_and_no_skip():
    spec = BlockSpec(32, 32, 64, kernel=3, stride=1, act="relu", project_act="relu")
    block = InvertedResidual(spec, BatchNormConfig()).eval()
    assert isinstance(block.expand, torch.nn.Identity)  # depthwise-separable: no expansion
    y = block(torch.randn(1, 32, 8, 8))
    assert y.shape == (1, 64, 8, 8) and (y >= 0).all()


def test_block_forward_from_expansion_equals_forward():
    spec = BlockSpec(24, 72, 24, kernel=5, stride=1, act="hswish", se_ch=24, residual=True)
    block = InvertedResidual(spec, BatchNormConfig()).eval()
    x = torch.randn(1, 24, 10, 10)
    torch.testing.assert_close(block.forward_from_expansion(x, block.expand(x)), block(x))
