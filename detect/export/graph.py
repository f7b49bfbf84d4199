"""The whole detector as one traceable graph: uint8 images in, detections out.

``DeployModel`` wraps an :class:`SSDLite` with the same preprocessing (scale to [-1, 1], bilinear
warp) and postprocessing (softmax, per-class top-k, score threshold, class-wise NMS, best
``detections_per_image``) as :func:`detect.inference.predictor.detect`, written so that
``torch.onnx.export`` turns it into standard ONNX operators. NMS becomes ONNX
``NonMaxSuppression`` over all classes at once: boxes are shifted by ``label × (size + 1)`` so
boxes of different classes never overlap (``torchvision.ops.batched_nms``'s trick) and the op's
``max_output_boxes_per_class`` stops the greedy pass after ``detections_per_image`` keeps — the
same detections as NMS over every candidate followed by a cut, for a fraction of the work.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import batched_nms, clip_boxes_to_image

from detect.models import SSDLite


class _NonMaxSuppression(torch.autograd.Function):
    """ONNX ``NonMaxSuppression`` (one class: callers shift boxes per class); eager: torchvision."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: object, boxes: Tensor, scores: Tensor, max_output: int, iou: float, threshold: float
    ) -> Tensor:
        selected = []
        for image in range(boxes.shape[0]):
            keep = torch.nonzero(scores[image, 0] > threshold).flatten()
            kept = batched_nms(
                boxes[image, keep], scores[image, 0, keep], torch.zeros_like(keep), iou
            )[:max_output]
            index = keep[kept]
            selected.append(
                torch.stack((torch.full_like(index, image), torch.zeros_like(index), index), 1)
            )
        return torch.cat(selected)

    @staticmethod
    def symbolic(g, boxes, scores, max_output, iou, threshold):
        return g.op(
            "NonMaxSuppression",
            boxes,
            scores,
            g.op("Constant", value_t=torch.tensor([max_output], dtype=torch.int64)),
            g.op("Constant", value_t=torch.tensor([iou], dtype=torch.float32)),
            g.op("Constant", value_t=torch.tensor([threshold], dtype=torch.float32)),
        )


class DeployModel(nn.Module):
    """uint8 images (N, 3, H, W) → ``boxes`` (K, 4) xyxy in the input's pixels, ``scores`` (K,),
    ``labels`` (K,) contiguous 1..C-1, ``batch_index`` (K,): which image each detection is of."""

    def __init__(self, model: SSDLite) -> None:
        super().__init__()
        self.model = model.eval()
        self.config = model.postprocess_config

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        size, config = self.model.size, self.config
        normalised = (images.float() / 255.0 - 0.5) / 0.5
        resized = F.interpolate(normalised, size=(size, size), mode="bilinear")
        outputs = self.model(resized)
        logits, codes = outputs["cls_logits"], outputs["bbox_regression"]
        scores = torch.softmax(logits, dim=-1)[..., 1:].transpose(1, 2)  # (N, C-1, A)
        boxes = self.model.box_coder.decode(codes, self.model.anchors)
        boxes = clip_boxes_to_image(boxes, (size, size))  # (N, A, 4)
        k = min(config.topk_per_class, scores.shape[-1])
        top_scores, top_anchor = scores.topk(k, dim=-1)  # (N, C-1, k)
        batch = images.shape[0]
        top_scores = top_scores.reshape(batch, -1)
        candidates = torch.gather(
            boxes, 1, top_anchor.reshape(batch, -1, 1).expand(-1, -1, 4)
        )  # (N, (C-1)·k, 4)
        labels = torch.arange(1, logits.shape[-1], device=images.device).repeat_interleave(k)
        shifted = candidates + (labels * (size + 1)).to(candidates.dtype)[None, :, None]
        selected = _NonMaxSuppression.apply(
            shifted,
            top_scores[:, None],
            config.detections_per_image,
            config.nms_thresh,
            config.score_thresh,
        )
        image_index, candidate = selected[:, 0], selected[:, 2]
        flat = image_index * candidates.shape[1] + candidate  # row in the (N·M)-long lists
        height_width = torch._shape_as_tensor(images)[2:].to(candidates.dtype)  # a Shape op
        scale = height_width.flip(0).repeat(2) / size
        return (
            candidates.reshape(-1, 4).index_select(0, flat) * scale,
            top_scores.reshape(-1).index_select(0, flat),
            labels.index_select(0, candidate),
            image_index,
        )
