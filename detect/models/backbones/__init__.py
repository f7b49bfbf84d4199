"""The MobileNet family by name: ``mobilenet("v3_large", width_mult=0.75)``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from detect.models.backbones import mobilenet_v1, mobilenet_v2, mobilenet_v3
from detect.models.backbones.base import FeatureInfo, InitScheme, MobileNet, MobileNetSpec
from detect.models.layers import BatchNormConfig

SPECS: dict[str, Callable[..., MobileNetSpec]] = {
    "v1": mobilenet_v1.spec,
    "v2": mobilenet_v2.spec,
    "v3_large": partial(mobilenet_v3.spec, "large"),
    "v3_small": partial(mobilenet_v3.spec, "small"),
}
BACKBONES = tuple(SPECS)

__all__ = [
    "BACKBONES",
    "FeatureInfo",
    "MobileNet",
    "MobileNetSpec",
    "backbone_options",
    "backbone_spec",
    "mobilenet",
]


def backbone_options(name: str) -> list[str]:
    """The options of a backbone's paper (e.g. ``reduced_tail`` and ``dilated`` for V3)."""
    if name not in SPECS:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return [p for p in inspect.signature(SPECS[name]).parameters if p != "width_mult"]


def backbone_spec(name: str, width_mult: float = 1.0, **options: Any) -> MobileNetSpec:
    """A backbone's resolved layer table; options are its paper's own (e.g. ``reduced_tail``)."""
    valid = backbone_options(name)
    if not width_mult > 0:
        raise ValueError(f"width_mult must be > 0 (e.g. 1.0, 0.75, 0.5, 0.35), got {width_mult}")
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(
            f"backbone {name!r} has no option {', '.join(unknown)}; "
            f"its options are: {', '.join(valid) or 'none'}"
        )
    return SPECS[name](width_mult=width_mult, **options)


def mobilenet(
    name: str,
    width_mult: float = 1.0,
    num_classes: int | None = 1000,
    *,
    bn_eps: float | None = None,
    bn_momentum: float | None = None,
    init: InitScheme = "kaiming",
    **options: Any,
) -> MobileNet:
    """Build ``v1``, ``v2``, ``v3_large`` or ``v3_small`` at width ``width_mult``.

    BN eps/momentum default to each paper's reference setting (SSDLite uses 0.001 / 0.03);
    ``init="normal"`` is N(0, 0.03), for training detectors from scratch.
    """
    spec = backbone_spec(name, width_mult, **options)
    bn = BatchNormConfig(
        eps=spec.bn.eps if bn_eps is None else bn_eps,
        momentum=spec.bn.momentum if bn_momentum is None else bn_momentum,
    )
    return MobileNet(replace(spec, bn=bn), num_classes=num_classes, init=init)
