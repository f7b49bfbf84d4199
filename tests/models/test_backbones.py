import pytest
import torch
import torchvision

from detect.models import BACKBONES, backbone_spec, mobilenet
from detect.models.layers import make_divisible

TORCHVISION = {
    "v2": torchvision.models.mobilenet_v2,
    "v3_large": torchvision.models.mobilenet_v3_large,
    "v3_small": torchvision.models.mobilenet_v3_small,
}


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("name", "expected"), [("v2", 3_504_872), ("v3_large", 5_483_032), ("v3_small", 2_542_856)]
)
def test_parameter_count_equals_torchvision_published(name, expected):
    assert n_params(mobilenet(name)) == expected


@pytest.mark.parametrize("name", sorted(TORCHVISION))
@pytest.mark.parametrize("width", [0.75, 0.5, 0.35])
def test_parameter_count_equals_torchvision_at_every_width(name, width):
    assert n_params(mobilenet(name, width)) == n_params(TORCHVISION[name](width_mult=width))


@pytest.mark.parametrize("name", ["v3_large", "v3_small"])
def test_reduced_tail_parameter_count_equals_torchvision(name):
    ours = mobilenet(name, reduced_tail=True, dilated=True)
    assert n_params(ours) == n_params(TORCHVISION[name](reduced_tail=True, dilated=True))


def test_v1_matches_paper_params():
    assert round(n_params(mobilenet("v1")) / 1e6, 1) == 4.2  # V1 paper Table 6: 4.2M


def test_v2_keeps_1280_last_channels_below_width_one():
    assert backbone_spec("v2", 0.5).last_conv.out_ch == 1280
    assert backbone_spec("v2", 1.4).last_conv.out_ch == make_divisible(1280 * 1.4)


def test_v3_se_squeeze_is_a_quarter_of_the_expansion():
    for block in backbone_spec("v3_large").blocks:
        assert block.se_ch in (0, make_divisible(block.exp_ch // 4))


@pytest.mark.parametrize(
    ("name", "options", "taps"),
    [
        ("v1", {}, {"C4": (512, 16), "C5": (1024, 32)}),
        ("v2", {}, {"C4": (576, 16), "C5": (1280, 32)}),
        ("v3_large", {}, {"C4": (672, 16), "C5": (960, 32)}),
        ("v3_large", {"reduced_tail": True}, {"C4": (672, 16), "C5": (480, 32)}),
        ("v3_small", {}, {"C4": (288, 16), "C5": (576, 32)}),
        ("v3_large", {"dilated": True}, {"C4": (672, 16), "C5": (960, 16)}),
    ],
)
def test_feature_taps_channels_strides_and_shapes(name, options, taps):
    model = mobilenet(name, **options).eval()
    info = {i.name: (i.channels, i.stride) for i in model.feature_info}
    assert info == taps
    with torch.no_grad():
        features = model.forward_taps(torch.randn(2, 3, 320, 320))
    assert list(features) == list(taps)
    for tap, (channels, stride) in taps.items():
        assert features[tap].shape == (2, channels, 320 // stride, 320 // stride)


@pytest.mark.parametrize("name", BACKBONES)
def test_classifier_output_shape_at_other_resolutions(name):
    model = mobilenet(name, width_mult=0.5, num_classes=10).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 160, 192)).shape == (1, 10)


def test_bn_settings_and_normal_init_are_applied():
    model = mobilenet("v3_large", bn_eps=0.001, bn_momentum=0.03, init="normal")
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(bn.eps == 0.001 and bn.momentum == 0.03 for bn in bns)
    convs = torch.cat(
        [m.weight.flatten() for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    )
    assert abs(convs.std().item() - 0.03) < 0.002


def test_unknown_backbone_names_the_choices():
    with pytest.raises(
        ValueError, match=r"unknown backbone 'v4'; choose one of v1, v2, v3_large, v3_small"
    ):
        mobilenet("v4")


@pytest.mark.parametrize("width", [0.0, -0.5])
def test_non_positive_width_is_rejected(width):
    with pytest.raises(ValueError, match="width_mult must be > 0"):
        mobilenet("v2", width)


def test_option_of_another_paper_is_rejected():
    with pytest.raises(ValueError, match="backbone 'v1' has no option reduced_tail"):
        mobilenet("v1", reduced_tail=True)


def test_input_smaller_than_total_stride_is_rejected():
    with pytest.raises(ValueError, match="smaller than v3_small's total stride 32"):
        mobilenet("v3_small")(torch.randn(1, 3, 24, 24))


def test_wrong_tensor_shape_is_rejected():
    with pytest.raises(ValueError, match=r"expected a batch of RGB images \(N, 3, H, W\)"):
        mobilenet("v2")(torch.randn(3, 224, 224))
