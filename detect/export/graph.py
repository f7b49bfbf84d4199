"""The detector as one traceable graph: uint8 images in, detections (or the raw heads) out.

``RawHeads`` is the network alone behind the same preprocessing: ``cls_logits`` and
``bbox_regression`` come out, for runtimes and delegates that cannot run top-k or NMS (the
numpy :class:`~detect.export.decode.Decoder` finishes the job).

``DeployModel`` wraps an :class:`SSDLite` with the same preprocessing (scale to [-1, 1],
bilinear warp) and postprocessing (softmax, per-class top-k, score threshold, class-wise NMS, best
``detections_per_image``) as :func:`detect.models.predictor.detect`, written so that
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
from detect.models.postprocess import PostprocessConfig


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


def model_input(images: Tensor, size: int) -> Tensor:
    """uint8 (N, 3, H, W) → the model's [-1, 1] (N, 3, size, size), as ``preprocess`` makes it
    but resized first: bilinear interpolation commutes with the affine x / 127.5 − 1 (it is a
    weighted mean), so the result is the same up to float rounding while the arithmetic runs
    on size² pixels instead of the frame's H × W."""
    resized = F.interpolate(images.float(), size=(size, size), mode="bilinear")
    return resized / 127.5 - 1.0


class RawHeads(nn.Module):
    """uint8 images (N, 3, H, W) → ``cls_logits`` (N, A, C) and ``bbox_regression`` (N, A, 4)."""

    def __init__(self, model: SSDLite) -> None:
        super().__init__()
        self.model = model.eval()

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        outputs = self.model(model_input(images, self.model.size))
        return outputs["cls_logits"], outputs["bbox_regression"]


class _TopK(torch.autograd.Function):
    """ONNX ``TopK`` along ``dim`` with ``k`` a tensor (0 allowed: no work), so a graph can skip
    a selection it turns out not to need; eager: ``torch.topk``."""

    @staticmethod
    def forward(ctx: object, values: Tensor, k: Tensor, dim: int) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        return values.topk(int(k), dim=dim)

    @staticmethod
    def symbolic(g, values, k, dim):
        k = g.op("Reshape", k, g.op("Constant", value_t=torch.tensor([1], dtype=torch.int64)))
        return g.op("TopK", values, k, axis_i=dim, largest_i=1, sorted_i=1, outputs=2)


def shifted_nms(
    boxes: Tensor, scores: Tensor, labels: Tensor, size: int, config: PostprocessConfig
) -> Tensor:
    """(K, 3) ONNX NMS selections (image, 0, candidate) over (N, M, 4) boxes with (N, M)
    scores and labels, boxes shifted ``label × (size + 1)`` apart (one class per label)."""
    shifted = boxes + (labels * (size + 1)).to(boxes.dtype)[..., None]
    return _NonMaxSuppression.apply(
        shifted,
        scores[:, None],
        config.detections_per_image,
        config.nms_thresh,
        config.score_thresh,
    )


def gather_rows(values: Tensor, index: Tensor) -> Tensor:
    """(N, A, 4) rows at (N, M) indices → (N, M, 4)."""
    return torch.gather(values, 1, index[..., None].expand(-1, -1, values.shape[-1]))


class DeployModel(nn.Module):
    """uint8 images (N, 3, H, W) → ``boxes`` (K, 4) xyxy in the input's pixels, ``scores`` (K,),
    ``labels`` (K,) contiguous 1..C-1, ``batch_index`` (K,): which image each detection is of.

    Postprocessing first looks at the ``WINDOW`` best (class, anchor) pairs of all classes (one
    TopK over the flattened scores, far cheaper than a TopK per class), applies the per-class
    cap among them (a pair's rank in its class counts the same-class pairs above it, all of
    which are in the window), and runs NMS. That is the exact answer for an image whose NMS
    reached ``detections_per_image`` keeps inside the window, or whose window holds every pair
    above the score threshold; for any other image the graph runs the full per-class top-k and
    NMS too (its TopK's k is 0 when no image needs it). ONNX Runtime's TopK costs grow with k
    (0.8 ms at 1,024 against 1.3 at 2,048 over 291,000 trained-like scores, one image), and
    1,024 pairs gave 300 keeps on every one of 60 COCO val images with trained-like weights."""

    WINDOW = 1024

    def __init__(self, model: SSDLite) -> None:
        super().__init__()
        self.model = model.eval()
        self.config = model.postprocess_config

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        size, config = self.model.size, self.config
        outputs = self.model(model_input(images, size))
        logits, codes = outputs["cls_logits"], outputs["bbox_regression"]
        classes = logits.shape[-1] - 1
        probabilities = torch.softmax(logits, dim=-1)[..., 1:]  # (N, A, C-1)
        boxes = clip_boxes_to_image(
            self.model.box_coder.decode(codes, self.model.anchors), (size, size)
        )
        batch, anchors = images.shape[0], probabilities.shape[1]

        # the window: the best pairs of all classes, each class capped at topk_per_class
        pairs = probabilities.reshape(batch, -1)
        window = min(self.WINDOW, pairs.shape[1])
        fast_scores, pair = pairs.topk(window, dim=-1)  # (N, W), best first
        fast_labels = pair % classes + 1
        one_hot = fast_labels[..., None] == torch.arange(1, classes + 1, device=images.device)
        rank = torch.gather(one_hot.to(torch.int32).cumsum(1), 2, (fast_labels - 1)[..., None])
        rank = rank[..., 0] - 1
        capped = torch.where(
            rank < config.topk_per_class, fast_scores, torch.zeros_like(fast_scores)
        )
        fast_boxes = gather_rows(boxes, pair // classes)
        fast = shifted_nms(fast_boxes, capped, fast_labels, size, config)
        keeps = (fast[:, :1] == torch.arange(batch, device=images.device)).sum(0)  # per image
        exact = (keeps >= config.detections_per_image) | (fast_scores[:, -1] <= config.score_thresh)

        # the full per-class top-k, for the images the window did not settle (k = 0 if none)
        # (along the anchors: transposing the (N, k, C-1) result, not the (N, A, C-1) input)
        k = torch.where(exact.all(), 0, min(config.topk_per_class, anchors))
        full_scores, full_anchor = _TopK.apply(probabilities, k, 1)
        full_scores, full_anchor = full_scores.transpose(1, 2), full_anchor.transpose(1, 2)
        full_scores = full_scores.reshape(batch, -1)  # (N, (C-1)·k): class-major
        full_labels = (
            torch.arange(1, classes + 1, device=images.device)[:, None]
            .expand(-1, full_anchor.shape[-1])
            .reshape(1, -1)
            .expand(batch, -1)
        )
        full_boxes = gather_rows(boxes, full_anchor.reshape(batch, -1))
        full = shifted_nms(full_boxes, full_scores, full_labels, size, config)

        # each image's detections from the path that settled it
        take_fast = torch.nonzero(exact[fast[:, 0]]).flatten()
        take_full = torch.nonzero(~exact[full[:, 0]]).flatten()
        image_index = torch.cat((fast[take_fast, 0], full[take_full, 0]))
        flat_fast = fast[take_fast, 0] * window + fast[take_fast, 2]
        flat_full = full[take_full, 0] * full_scores.shape[1] + full[take_full, 2]
        height_width = torch._shape_as_tensor(images)[2:].to(boxes.dtype)  # a Shape op
        scale = height_width.flip(0).repeat(2) / size
        return (
            torch.cat(
                (
                    fast_boxes.reshape(-1, 4).index_select(0, flat_fast),
                    full_boxes.reshape(-1, 4).index_select(0, flat_full),
                )
            )
            * scale,
            torch.cat(
                (
                    fast_scores.reshape(-1).index_select(0, flat_fast),
                    full_scores.reshape(-1).index_select(0, flat_full),
                )
            ),
            torch.cat(
                (
                    fast_labels.reshape(-1).index_select(0, flat_fast),
                    full_labels.reshape(-1).index_select(0, flat_full),
                )
            ),
            image_index,
        )
