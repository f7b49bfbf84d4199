"""Weight import: torchvision MobileNets (random weights, real BN stats) → ours, same logits."""

import pytest
import torch
import torchvision

from detect.models import load_torchvision, mobilenet

CASES = [
    ("v2", torchvision.models.mobilenet_v2, {}),
    ("v2", torchvision.models.mobilenet_v2, {"width_mult": 0.5}),
    ("v3_large", torchvision.models.mobilenet_v3_large, {}),
    ("v3_large", torchvision.models.mobilenet_v3_large, {"width_mult": 0.75, "reduced_tail": True}),
    ("v3_small", torchvision.models.mobilenet_v3_small, {}),
]


def torchvision_model(build, images: torch.Tensor, **options) -> torch.nn.Module:
    """A seeded torchvision model whose every weight and BN statistic is non-trivial."""
    torch.manual_seed(0)
    model = build(weights=None, **options)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.2)
                module.momentum = None  # running stats = mean over the calibration passes
            elif isinstance(module, torch.nn.Linear):
                module.weight.normal_(0.0, 0.05)
                module.bias.normal_(0.0, 0.1)
        model.train()
        for _ in range(2):
            model(images)  # running statistics from real images
    return model.eval()


@pytest.mark.parametrize(
    ("name", "build", "options"), CASES, ids=[f"{name}-{options}" for name, _, options in CASES]
)
def test_same_logits_on_real_images(name, build, options, real_images):
    theirs = torchvision_model(build, real_images, **options)
    ours = load_torchvision(mobilenet(name, **options), theirs.state_dict()).eval()
    with torch.no_grad():
        expected, actual = theirs(real_images), ours(real_images)
    assert expected.std(dim=0).mean() > 0.05, "logits must differ between images to be a test"
    assert (actual - expected).abs().max().item() < 1e-4


@pytest.mark.parametrize("reduced_tail", [False, True])
def test_taps_equal_torchvision_ssdlite_split(reduced_tail, real_images):
    """C4 = expansion of the last stage's first block, C5 = end (torchvision ssdlite, V3 §6.3)."""
    build = torchvision.models.mobilenet_v3_large
    theirs = torchvision_model(build, real_images, reduced_tail=reduced_tail)
    ours = load_torchvision(
        mobilenet("v3_large", reduced_tail=reduced_tail), theirs.state_dict()
    ).eval()
    features = theirs.features
    c4_pos = [i for i, block in enumerate(features) if getattr(block, "_is_cn", False)][-1]
    with torch.no_grad():
        c4 = features[c4_pos].block[0](features[:c4_pos](real_images))
        c5 = features(real_images)
        taps = ours.forward_taps(real_images)
    assert (taps["C4"] - c4).abs().max().item() < 1e-4
    assert (taps["C5"] - c5).abs().max().item() < 1e-4


def test_mismatched_width_is_a_clear_error():
    state = torchvision.models.mobilenet_v2(weights=None, width_mult=0.5).state_dict()
    with pytest.raises(ValueError, match="does not fit our features"):
        load_torchvision(mobilenet("v2"), state)


def test_mismatched_architecture_is_a_clear_error():
    state = torchvision.models.mobilenet_v3_small(weights=None).state_dict()
    with pytest.raises(ValueError, match="entries but the model expects"):
        load_torchvision(mobilenet("v3_large"), state)
