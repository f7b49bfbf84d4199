"""The inference-time PyTorch graph: Conv + BN folded (no BN left, same outputs, the original
untouched), and the optional torch.compile path gives the eager detections."""

from __future__ import annotations

import pytest
import torch
from support.models import conditioned_model
from torch import nn

from detect.export.fuse import fuse_conv_bn
from detect.export.onnx import match_detections, to_numpy
from detect.models import preprocess
from detect.models.predictor import Predictor


def batchnorms(model: nn.Module) -> int:
    return sum(isinstance(module, nn.BatchNorm2d) for module in model.modules())


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["v2", "v3_large", "v3_small"])
def test_fused_model_has_no_batchnorm_and_the_same_outputs(backbone, coco_images):
    model = conditioned_model(backbone, coco_images, size=160)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    fused = fuse_conv_bn(model)
    assert batchnorms(model) > 50 and batchnorms(fused) == 0
    batch = preprocess(coco_images, 160).images
    with torch.inference_mode():
        expected, actual = model(batch), fused(batch)
    for key in ("cls_logits", "bbox_regression"):
        torch.testing.assert_close(actual[key], expected[key], rtol=1e-4, atol=1e-4)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert sum(p.numel() for p in fused.parameters()) < sum(p.numel() for p in model.parameters())


@pytest.mark.slow
def test_compiled_predictor_gives_the_eager_detections(coco_images):
    model = conditioned_model("v3_small", coco_images, size=96)
    eager = Predictor(model)(coco_images[:2])
    compiled = Predictor(model, compile=True)(coco_images[:2])
    for mine, reference in zip(compiled, eager, strict=True):
        assert len(mine["scores"]) == len(reference["scores"]) > 0
        assert match_detections(to_numpy(mine), to_numpy(reference))[0] == 0
