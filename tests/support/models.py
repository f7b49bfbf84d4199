"""Models for export tests: trained-like numerics without training."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from detect.models import SSDLite, preprocess, ssdlite

BACKBONES = {"v2": {}, "v3_large": {"reduced_tail": True}, "v3_small": {}}
PLACEHOLDER_IDS = tuple(range(1, 91))


def he_init_fresh_bn(model: nn.Module, generator: torch.Generator) -> None:
    """He-initialised convolutions, random BN affines and BN statistics reset to a cumulative
    average (the next pass measures them): the start of every well-conditioned test model."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            fan_in = module.weight[0].numel()
            module.weight.copy_(
                torch.randn(module.weight.shape, generator=generator) * math.sqrt(2 / fan_in)
            )
            if module.bias is not None:
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
        elif isinstance(module, nn.BatchNorm2d):
            module.weight.copy_(0.5 + torch.rand(module.weight.shape, generator=generator))
            module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
            module.reset_running_stats()
            module.momentum = None  # cumulative average: the statistics of the next pass


def well_conditioned(model: SSDLite, images: list[Tensor], seed: int = 0) -> SSDLite:
    """Random weights with a trained network's numerics, in eval mode.

    The N(0, 0.03) init gives constant logits (every score 1/91: parity would be trivially
    exact), and He init with arbitrary BN statistics blows activations up layer after layer (a
    float32 difference then grows past any tolerance). Here: He-initialised convolutions, BN
    statistics measured on real ``images`` with the variance padded by 1 (every BN then shrinks
    or keeps the scale, as trained ones do), and a class layer scaled up with a background bias so
    that most anchors are confidently background and a few objects stand out.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        he_init_fresh_bn(model, generator)
        model.train()
        model(preprocess(images, model.size).images)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_var.add_(1.0)
        for classifier in model.head.classification:
            last = classifier[-1] if isinstance(classifier, nn.Sequential) else classifier
            last.weight.mul_(4.0)
            last.bias.view(-1, model.num_classes)[:, 0] += 8.0  # background logit per anchor
    return model.eval()


def conditioned_model(
    backbone: str, images: list[Tensor], size: int = 320, num_classes: int = 91
) -> SSDLite:
    """An SSDLite (91 classes: torchvision's COCO head) with :func:`well_conditioned` weights."""
    model = ssdlite(backbone, 1.0, num_classes, size, **BACKBONES[backbone])
    return well_conditioned(model, images)


def with_real_bn_statistics(model: nn.Module, run: Callable[[], object]) -> nn.Module:
    """``model`` (seeded, untrained) with BN running statistics measured over one pass of
    ``run`` on real images (a cumulative average), in eval mode: its outputs vary with the
    image as a trained network's do, instead of being near-constant."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None
    model.train()
    with torch.no_grad():
        run()
    return model.eval()


def torchvision_detector_state(images: list[Tensor], seed: int = 0) -> dict[str, Tensor]:
    """A torchvision-format ``ssdlite320_mobilenet_v3_large`` state dict (``weights=None``,
    seeded) with BN statistics from ``images`` (uint8 (3, H, W))."""
    from benchmarks.twins import torchvision_ssdlite

    tv = torchvision_ssdlite(seed)

    def run() -> None:
        batch, _ = tv.transform([image.float() / 255 for image in images])
        tv.head(list(tv.backbone(batch.tensors).values()))

    return with_real_bn_statistics(tv, run).state_dict()
