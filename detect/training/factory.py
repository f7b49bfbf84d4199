"""Build an SSDLite from a plain model config (the ``model`` node of ``conf/train.yaml``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detect.models import SSDLite, ssdlite
from detect.models.loss import LossConfig
from detect.models.postprocess import PostprocessConfig

BACKBONE_KEYS_NOT_FOR_DETECTOR = ("_target_", "num_classes")


def build_detector(model: Mapping[str, Any], num_classes: int) -> SSDLite:
    """``model`` holds ``size``, ``backbone`` (a backbone group: name, width_mult, BN, options)
    and ``head`` (extra depths, anchors, ``loss`` and ``postprocess`` settings)."""
    backbone = {
        k: v for k, v in model["backbone"].items() if k not in BACKBONE_KEYS_NOT_FOR_DETECTOR
    }
    head = dict(model["head"])
    return ssdlite(
        backbone.pop("name"),
        backbone.pop("width_mult"),
        num_classes=num_classes,
        size=model["size"],
        extra_depths=tuple(head.pop("extra_depths")),
        aspect_ratios=tuple(tuple(r) for r in head.pop("aspect_ratios")),
        loss=LossConfig(**head.pop("loss")),
        postprocess=PostprocessConfig(**head.pop("postprocess")),
        **head,
        **backbone,
    )
