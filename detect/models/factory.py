"""Build an SSDLite from a plain model config (the ``model`` node of ``conf/train.yaml``, and
the copy every checkpoint stores)."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from typing import Any

from detect.models.detector import SSDLite, ssdlite
from detect.models.loss import LossConfig
from detect.models.postprocess import PostprocessConfig

MODEL_FIELDS = ("size", "backbone", "head")
WEIGHTS_FIELDS = ("pretrained",)  # where a backbone's weights come from: not architecture
SETTINGS = {"loss": LossConfig, "postprocess": PostprocessConfig}
HEAD_FIELDS = tuple(
    name
    for name, parameter in inspect.signature(ssdlite).parameters.items()
    if parameter.kind is parameter.KEYWORD_ONLY
)


def _unknown(given: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    extra = sorted(set(given) - set(known))
    if extra:
        raise ValueError(
            f"{', '.join(f'{where}.{key}' for key in extra)}: not a setting; {where} takes "
            f"{', '.join(known)}"
        )


def _settings(name: str, values: Mapping[str, Any]) -> Any:
    config = SETTINGS[name]
    _unknown(values, tuple(f.name for f in dataclasses.fields(config)), f"model.head.{name}")
    return config(**values)


def build_detector(model: Mapping[str, Any], num_classes: int) -> SSDLite:
    """``model`` holds ``size``, ``backbone`` (``name``, ``width_mult`` and the backbone's own
    options) and ``head`` (extra depths, anchors, BN, init, ``loss`` and ``postprocess``
    settings). Anything else is a ``ValueError`` naming the field."""
    _unknown(model, MODEL_FIELDS, "model")
    backbone, head = dict(model["backbone"]), dict(model["head"])
    _unknown(head, HEAD_FIELDS, "model.head")
    for name in SETTINGS:
        if name in head:
            head[name] = _settings(name, head[name])
    for key in ("extra_depths", "aspect_ratios"):
        if key in head:
            head[key] = tuple(tuple(v) if isinstance(v, list) else v for v in head[key])
    name, width = backbone.pop("name"), backbone.pop("width_mult")
    for key in WEIGHTS_FIELDS:
        backbone.pop(key, None)
    return ssdlite(name, width, num_classes=num_classes, size=model["size"], **head, **backbone)
