"""Inference-time PyTorch graph: every Conv2d → BatchNorm2d pair folded into one convolution.

In eval mode BN is an affine map per channel, so ``conv(x) * γ/σ + (β - μγ/σ)`` is a convolution
with rescaled weights and a bias (``torch.nn.utils.fusion.fuse_conv_bn_eval``); the BN becomes
``nn.Identity``. The ONNX exporter does the same fold on its own; ONNX Runtime then fuses the
activation into the convolution too.
"""

from __future__ import annotations

import copy
import itertools

from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from detect.models import SSDLite


def fuse_conv_bn(model: SSDLite) -> SSDLite:
    """A fused copy of ``model`` in eval mode (the original is untouched)."""
    fused = copy.deepcopy(model).eval()
    for module in fused.modules():
        children = list(module.named_children())
        for (conv_name, conv), (bn_name, bn) in itertools.pairwise(children):
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(module, bn_name, nn.Identity())
    return fused
