"""SSDLite = backbone taps + extra layers + separable head + default boxes + box coder.

``forward`` returns raw outputs only; ``loss`` and ``postprocess`` are separate calls, so the
network exports and traces with static shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import Tensor, nn

from detect.models.anchors import DefaultBoxes
from detect.models.backbones import mobilenet
from detect.models.backbones.base import InitScheme
from detect.models.box_coder import BoxCoder
from detect.models.layers import BatchNormConfig
from detect.models.loss import LossConfig, ssd_loss
from detect.models.postprocess import PostprocessConfig, postprocess
from detect.models.ssdlite import EXTRA_DEPTHS, SSDLiteFeatures, SSDLiteHead

SSDLITE_BN = BatchNormConfig(eps=0.001, momentum=0.03)  # torchvision's SSDLite


class SSDLite(nn.Module):
    def __init__(
        self,
        features: SSDLiteFeatures,
        num_classes: int,
        size: int,
        default_boxes: DefaultBoxes,
        bn: BatchNormConfig = SSDLITE_BN,
        box_coder: BoxCoder | None = None,
        loss_config: LossConfig = LossConfig(),  # noqa: B008 - frozen dataclass
        postprocess_config: PostprocessConfig = PostprocessConfig(),  # noqa: B008
        folded_classes: Sequence[int] = (),
    ) -> None:
        super().__init__()
        self.features = features
        self.head = SSDLiteHead(
            features.channels,
            default_boxes.num_anchors_per_location(),
            num_classes,
            bn,
            folded_classes,
        )
        self.size = size
        self.num_classes = num_classes
        self.box_coder = box_coder or BoxCoder()
        self.loss_config = loss_config
        self.postprocess_config = postprocess_config
        anchors = default_boxes(features.grid_sizes(size), (size, size))
        self.register_buffer("anchors", anchors, persistent=False)

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        """``cls_logits`` (N, A, classes) and ``bbox_regression`` (N, A, 4) for (N, 3, S, S)."""
        if images.dim() != 4 or tuple(images.shape[1:]) != (3, self.size, self.size):
            raise ValueError(
                f"expected preprocessed images of shape (N, 3, {self.size}, {self.size}), got "
                f"{tuple(images.shape)}; use detect.models.transform.preprocess"
            )
        return self.head(self.features(images))

    def loss(
        self, outputs: dict[str, Tensor], targets: list[dict[str, Tensor]]
    ) -> dict[str, Tensor]:
        """Classification + box loss; targets' boxes in model-input pixels (see ``preprocess``)."""
        return ssd_loss(
            outputs["cls_logits"],
            outputs["bbox_regression"],
            self.anchors,
            targets,
            self.box_coder,
            self.loss_config,
        )

    def postprocess(
        self, outputs: dict[str, Tensor], original_sizes: Sequence[tuple[int, int]]
    ) -> list[dict[str, Tensor]]:
        """Detections per image, boxes in each image's original pixels."""
        return postprocess(
            outputs["cls_logits"],
            outputs["bbox_regression"],
            self.anchors,
            (self.size, self.size),
            original_sizes,
            self.box_coder,
            self.postprocess_config,
        )


def ssdlite(
    backbone: str = "v3_large",
    width_mult: float = 1.0,
    num_classes: int = 91,
    size: int = 320,
    *,
    extra_depths: Sequence[int] = EXTRA_DEPTHS,
    aspect_ratios: Sequence[Sequence[float]] = ((2, 3),) * 6,
    min_ratio: float = 0.2,
    max_ratio: float = 0.95,
    bn_eps: float = SSDLITE_BN.eps,
    bn_momentum: float = SSDLITE_BN.momentum,
    init: InitScheme = "normal",
    loss: LossConfig = LossConfig(),  # noqa: B008 - frozen dataclass
    postprocess: PostprocessConfig = PostprocessConfig(),  # noqa: B008
    folded_classes: Sequence[int] = (),
    **backbone_options: Any,
) -> SSDLite:
    """SSDLite on any MobileNet at any width and square input size (torchvision's defaults).

    ``backbone_options`` are the backbone's own (``reduced_tail``, ``dilated`` for V3);
    ``folded_classes``: class outputs counted as background (see :class:`SSDLiteHead`).
    ``ssdlite("v3_large", reduced_tail=True)`` is torchvision's ``ssdlite320_mobilenet_v3_large``.
    """
    bn = BatchNormConfig(bn_eps, bn_momentum)
    net = mobilenet(
        backbone,
        width_mult,
        num_classes=None,
        bn_eps=bn_eps,
        bn_momentum=bn_momentum,
        init=init,
        **backbone_options,
    )
    if size < net.spec.total_stride:
        raise ValueError(
            f"size {size} is smaller than {backbone}'s total stride {net.spec.total_stride}"
        )
    features = SSDLiteFeatures(net, bn, extra_depths, width_mult)
    if len(aspect_ratios) != len(features.channels):
        raise ValueError(
            f"aspect_ratios has {len(aspect_ratios)} entries but the model has "
            f"{len(features.channels)} feature maps (2 backbone taps + {len(extra_depths)} extras)"
        )
    return SSDLite(
        features,
        num_classes,
        size,
        DefaultBoxes(aspect_ratios, min_ratio, max_ratio),
        bn,
        loss_config=loss,
        postprocess_config=postprocess,
        folded_classes=folded_classes,
    )
