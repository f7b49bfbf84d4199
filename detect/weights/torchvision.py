"""torchvision's published weights as detect models: the COCO SSDLite detector
(``torchvision:ssdlite320_mobilenet_v3_large``) and the ImageNet backbones.

Both come through torchvision's own weight enums (URL, published figures, category names) and
:mod:`detect.weights.hub` (hash-checked download, torch.hub's cache), and load into our modules
with :func:`~detect.models.convert.load_torchvision`, whose outputs equal torchvision's.
torchvision's COCO head predicts 91 outputs indexed by COCO category id, ten of which ("N/A")
are ids COCO never used; those fold into background (``head.folded_classes``), so the detector
reports the 80 real categories with their COCO ids and names, every probability unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torchvision.models import (
    MobileNet_V2_Weights,
    MobileNet_V3_Large_Weights,
    MobileNet_V3_Small_Weights,
)
from torchvision.models._api import WeightsEnum
from torchvision.models.detection import SSDLite320_MobileNet_V3_Large_Weights

from detect.data.categories import CategoryMap
from detect.errors import CheckpointError, ConfigError
from detect.models import SSDLite, load_torchvision, mobilenet
from detect.models.backbones import MobileNet
from detect.models.factory import build_detector
from detect.weights.checkpoint import Checkpoint
from detect.weights.hub import (
    HubConfig,
    file_name,
    is_published_file,
    load_state,
    load_weights,
    weights_file,
)

PREFIX = "torchvision:"
UNUSED = "N/A"  # torchvision's name for the COCO ids no category has


@dataclass(frozen=True)
class PublishedDetector:
    weights: WeightsEnum
    model_config: dict[str, Any]  # the model node of a detect config that is this network


SSDLITE_HEAD = {  # torchvision's ssdlite320_mobilenet_v3_large head and postprocess
    "extra_depths": [512, 256, 256, 128],
    "aspect_ratios": [[2, 3]] * 6,
    "min_ratio": 0.2,
    "max_ratio": 0.95,
    "bn_eps": 0.001,
    "bn_momentum": 0.03,
    "init": "normal",
    "loss": {"iou_thresh": 0.5, "neg_to_pos": 3.0, "min_negatives": 3},
    "postprocess": {
        "score_thresh": 0.001,
        "topk_per_class": 300,
        "nms_thresh": 0.55,
        "detections_per_image": 300,
    },
}
DETECTORS = {
    "ssdlite320_mobilenet_v3_large": PublishedDetector(
        SSDLite320_MobileNet_V3_Large_Weights.COCO_V1,
        {
            "size": 320,
            "backbone": {
                "name": "v3_large",
                "width_mult": 1.0,
                "reduced_tail": True,
                "dilated": False,
            },
            "head": SSDLITE_HEAD,
        },
    )
}
# IMAGENET1K_V1 by default: the weights torchvision's own detectors start from
BACKBONE_WEIGHTS: dict[str, type[WeightsEnum]] = {
    "v2": MobileNet_V2_Weights,
    "v3_large": MobileNet_V3_Large_Weights,
    "v3_small": MobileNet_V3_Small_Weights,
}


def coco_categories(names: Sequence[str]) -> tuple[CategoryMap, list[int]]:
    """torchvision's category list (index = COCO id, 0 = background) → the categories that
    exist, and the output indices of those that do not (to fold into background)."""
    ids = [index for index, name in enumerate(names) if index > 0 and name != UNUSED]
    unused = [index for index, name in enumerate(names) if index > 0 and name == UNUSED]
    return CategoryMap(tuple(ids), tuple(names[index] for index in ids)), unused


def published_detector(name: str) -> PublishedDetector:
    """What torchvision publishes as ``name``, or a :class:`CheckpointError` naming the choices."""
    if name not in DETECTORS:
        raise CheckpointError(
            f"unknown torchvision detector {name!r}; choose {PREFIX}"
            + f", {PREFIX}".join(DETECTORS)
        )
    return DETECTORS[name]


def published_file(name: str, hub: HubConfig | None = None) -> Path:
    """The file holding published detector ``name``'s weights (downloaded on first use)."""
    return weights_file(published_detector(name).weights.url, hub)


def torchvision_detector(name: str, hub: HubConfig | None = None) -> Checkpoint:
    """A published torchvision detector as a :class:`Checkpoint`: built from its config,
    its weights downloaded (or ``hub.weights_path``) and loaded, its COCO categories named;
    the run config records where it came from and its published COCO figure."""
    published = published_detector(name)
    weights = published.weights
    categories, unused = coco_categories(weights.meta["categories"])
    model_config = {
        **published.model_config,
        "head": {**published.model_config["head"], "folded_classes": unused},
    }
    model = build_detector(model_config, categories.num_classes)
    path = weights_file(weights.url, hub)
    state = load_state(path)
    source = f"{PREFIX}{name}"
    try:
        load_torchvision(model, state)
    except ValueError as error:
        raise CheckpointError(mismatch_message(source, name, state, hub, error)) from None
    run_config = {
        "source": {
            "weights": source,
            "url": (hub.url if hub and hub.url else weights.url),
            "enum": str(weights),
            "recipe": weights.meta.get("recipe"),
            # COCO-val2017 box_map 21.3: only for the published bytes themselves
            "published": weights.meta.get("_metrics", {})
            if is_published_file(path, weights.url)
            else {},
        }
    }
    return Checkpoint(model.eval(), categories, model_config, run_config, 0, 0)


def mismatch_message(
    source: str, name: str, state: dict, hub: HubConfig | None, error: Exception
) -> str:
    """Why published weights do not fit, said as a command-line user can act on it: which
    file, what it seems to hold (a classifier's weights have no detection head), which file
    to give instead."""
    given = hub.weights_path if hub and hub.weights_path else None
    expected = file_name(published_detector(name).weights.url)
    if given is None:
        return f"{source}: the weights do not fit {name} ({error})"
    classifier = any(k.startswith("classifier.") for k in state) and not any(
        k.startswith("head.") for k in state
    )
    holds = (
        "an image classifier's weights (no detection head), which start training (detect "
        "train backbone.pretrained=imagenet hub.weights_path=…) but cannot run a detector"
        if classifier
        else f"weights of another model ({error})"
    )
    return (
        f"hub.weights_path={given}: the file holds {holds}; {source} needs {expected} "
        "(torchvision's published file), or drop hub.weights_path to download it"
    )


def backbone_weights(name: str, pretrained: str) -> WeightsEnum:
    """The ImageNet weights ``pretrained`` (``imagenet`` = ``IMAGENET1K_V1``, or an enum
    member's name such as ``IMAGENET1K_V2``) of backbone ``name``."""
    if name not in BACKBONE_WEIGHTS:
        raise ConfigError(
            f"backbone.pretrained={pretrained}: torchvision publishes no ImageNet weights for "
            f"{name}; train it from scratch (backbone.pretrained=null) or choose "
            + ", ".join(BACKBONE_WEIGHTS)
        )
    enum = BACKBONE_WEIGHTS[name]
    member = "IMAGENET1K_V1" if pretrained == "imagenet" else pretrained
    if member not in enum.__members__:
        raise ConfigError(
            f"backbone.pretrained={pretrained}: {name} has "
            + ", ".join(["imagenet", *enum.__members__])
        )
    return enum[member]


def imagenet_state(name: str, pretrained: str, hub: HubConfig | None = None) -> dict:
    """torchvision's ImageNet state dict for ``name``."""
    return load_weights(backbone_weights(name, pretrained).url, hub)


def load_backbone(
    model: SSDLite | MobileNet,
    name: str,
    pretrained: str,
    hub: HubConfig | None = None,
) -> dict:
    """Load ImageNet weights into a detector's backbone (or a classifier); BN settings are
    the model's own (SSDLite's 0.001 / 0.03 stay). Returns the state dict loaded."""
    state = imagenet_state(name, pretrained, hub)
    target = model.features.backbone if isinstance(model, SSDLite) else model
    if target.classifier is None:
        state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    try:
        load_torchvision(target, state)
    except ValueError as error:
        raise ConfigError(
            f"backbone.pretrained={pretrained}: {error} (ImageNet weights are for width 1.0 and "
            "the full last stage: backbone.width_mult=1.0 backbone.reduced_tail=false, as "
            "torchvision's own detectors use them)"
        ) from None
    return state


def pretrained_mobilenet(name: str, pretrained: str, hub: HubConfig | None = None) -> MobileNet:
    """The ImageNet classifier itself (1000 classes), e.g. to check it against torchvision's."""
    model = mobilenet(name, 1.0, num_classes=1000)
    load_backbone(model, name, pretrained, hub)
    return model.eval()
