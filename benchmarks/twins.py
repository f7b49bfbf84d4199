"""torchvision's SSDLite as the peer: built seeded, holding our weights, timed stage by stage."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.detection import (
    SSDLite320_MobileNet_V3_Large_Weights,
    ssdlite320_mobilenet_v3_large,
)
from torchvision.models.detection.transform import GeneralizedRCNNTransform

from detect.evaluation.bench import NUM_CLASSES
from detect.evaluation.latency import Detections, Runner, StageTimes, on_device, sync
from detect.models import SSDLite
from detect.models.convert import remap_in_order

TORCHVISION = "torchvision ssdlite320_mobilenet_v3_large"
TORCHVISION_SIZE = 320
# torchvision's published cost of ssdlite320_mobilenet_v3_large (its "GFLOPS" are MAdds)
TORCHVISION_MADDS = SSDLite320_MobileNet_V3_Large_Weights.COCO_V1.meta["_ops"] * 1e9


def torchvision_ssdlite(
    seed: int = 0, num_classes: int = NUM_CLASSES, size: int = TORCHVISION_SIZE
) -> nn.Module:
    """torchvision's SSDLite (V3-Large, reduced tail) with seeded initial weights, nothing
    pretrained, warping its input to ``size``² (the builder fixes 320; its anchors follow the
    feature maps at run time)."""
    torch.manual_seed(seed)
    model = ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=num_classes
    )
    if size != TORCHVISION_SIZE:
        transform = model.transform
        model.transform = GeneralizedRCNNTransform(
            size,
            size,
            transform.image_mean,
            transform.image_std,
            size_divisible=1,
            fixed_size=(size, size),
        )
    return model


class TorchvisionNetwork(nn.Module):
    """torchvision SSD's network alone (backbone + head), for counting its cost."""

    def __init__(self, tv: nn.Module) -> None:
        super().__init__()
        self.backbone, self.head = tv.backbone, tv.head

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        return self.head(list(self.backbone(images).values()))


def torchvision_twin(model: SSDLite, seed: int = 0) -> tuple[nn.Module | None, str]:
    """torchvision's SSDLite320 holding ``model``'s weights and postprocess settings, in eval
    mode, or None and why not (another size or architecture)."""
    if model.size != TORCHVISION_SIZE:
        return None, f"input {model.size}, torchvision's SSDLite is fixed at {TORCHVISION_SIZE}"
    tv = torchvision_ssdlite(seed, model.head.outputs).eval()  # folded outputs included
    try:
        tv.load_state_dict(remap_in_order(model.state_dict(), tv.state_dict()))
    except ValueError as error:
        return None, f"its architecture is not torchvision's SSDLite320 ({error})"
    config = model.postprocess_config
    tv.score_thresh, tv.nms_thresh = config.score_thresh, config.nms_thresh
    tv.topk_candidates, tv.detections_per_img = config.topk_per_class, config.detections_per_image
    return tv, ""


def in_torchvision_labels(model: SSDLite, detections: Detections) -> Detections:
    """Our detections with torchvision's labels: its class output index (for a head with
    folded classes, e.g. the COCO detector's, our label l is output ``kept[l - 1]``)."""
    if not model.head.folded_classes:
        return detections
    outputs = torch.cat((torch.zeros(1, dtype=torch.int64), model.head.kept.cpu()))
    return [{**found, "labels": outputs[found["labels"].cpu()]} for found in detections]


def torchvision_stages(tv_model: nn.Module, images: Sequence[Tensor]) -> Detections:
    """torchvision's SSD eval ``forward`` on float [0, 1] images, written out stage by stage
    (ssd.py ``SSD.forward``, eval branch); gives exactly ``tv_model(images)``'s detections."""
    images = list(images)
    return _torchvision_pass(tv_model, images, images[0].device, convert=False)[1]


def _torchvision_pass(
    tv: Any, images: list[Tensor], dev: torch.device, convert: bool
) -> tuple[StageTimes, Detections]:
    """Its eval forward cut where ours is: the uint8 → float conversion (which torchvision
    leaves to the caller, so it is timed here, as ours is inside ``preprocess``) and
    ``transform`` → ``backbone`` + ``head`` → ``anchor_generator`` + ``postprocess_detections``
    + ``transform.postprocess`` (torchvision makes its anchors on every call, ours once at
    build time, so that cost is theirs)."""
    with torch.inference_mode():
        sync(dev)
        start = time.perf_counter()
        if convert:
            images = [image.float() / 255.0 for image in images]
        original_sizes = [(int(image.shape[-2]), int(image.shape[-1])) for image in images]
        image_list, _ = tv.transform(images, None)
        sync(dev)
        preprocessed = time.perf_counter()
        features = tv.backbone(image_list.tensors)
        if isinstance(features, Tensor):
            features = OrderedDict([("0", features)])
        features = list(features.values())
        head_outputs = tv.head(features)
        sync(dev)
        networked = time.perf_counter()
        anchors = tv.anchor_generator(image_list, features)
        detections = tv.postprocess_detections(head_outputs, anchors, image_list.image_sizes)
        detections = tv.transform.postprocess(detections, image_list.image_sizes, original_sizes)
        sync(dev)
        end = time.perf_counter()
    return (preprocessed - start, networked - preprocessed, end - networked), detections


def torchvision_runner(
    tv_model: nn.Module, images: Sequence[Tensor], device: str = "cpu"
) -> Runner:
    """One timed pass of torchvision's SSD over uint8 ``images`` (see :func:`_torchvision_pass`)."""
    dev = torch.device(device)
    tv_model.to(dev).eval()
    batch_images = on_device(images, dev)
    return lambda: _torchvision_pass(tv_model, batch_images, dev, convert=True)
