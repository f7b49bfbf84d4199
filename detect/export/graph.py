"""The detector as one traceable graph: uint8 images in, detections (or the raw heads) out.

``RawHeads`` is the network alone behind the same preprocessing: ``cls_logits`` and
``bbox_regression`` come out, for runtimes and delegates that cannot run top-k or NMS (the
numpy :class:`~detect.export.decode.Decoder` finishes the job).

``DeployModel`` wraps an :class:`SSDLite` with the same preprocessing (scale to [-1, 1],
bilinear warp) and postprocessing (softmax, per-class top-k, score threshold, class-wise NMS, best
``detections_per_image``) as :func:`detect.models.predictor.detect`, written so that
``torch.onnx.export`` turns it into standard ONNX operators. NMS becomes ONNX
``NonMaxSuppression``, whose ``max_output_boxes_per_class`` stops each class's greedy pass after
``detections_per_image`` keeps: on the window of best candidates, class by class; on the full
per-class top-k (the rare image the window does not settle), over all classes at once with boxes
shifted ``label × (size + 1)`` apart (``torchvision.ops.batched_nms``'s trick).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import clip_boxes_to_image, nms

from detect.models import SSDLite
from detect.models.postprocess import PostprocessConfig


class _NonMaxSuppression(torch.autograd.Function):
    """ONNX ``NonMaxSuppression``: (N, B, 4) boxes, (N, C, B) scores, each class on its own,
    at most ``max_output`` keeps a class; (K, 3) selections (image, class, box) in the op's
    order. Eager: torchvision."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: object, boxes: Tensor, scores: Tensor, max_output: int, iou: float, threshold: float
    ) -> Tensor:
        selected = []
        for image in range(boxes.shape[0]):
            for label in range(scores.shape[1]):
                keep = torch.nonzero(scores[image, label] > threshold).flatten()
                kept = keep[nms(boxes[image, keep], scores[image, label, keep], iou)[:max_output]]
                selected.append(
                    torch.stack(
                        (torch.full_like(kept, image), torch.full_like(kept, label), kept), 1
                    )
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
    return classwise_nms(shifted, scores[:, None], config)


def classwise_nms(boxes: Tensor, scores: Tensor, config: PostprocessConfig) -> Tensor:
    """(K, 3) ONNX NMS selections (image, class, box) over (N, B, 4) boxes shared by the classes
    of (N, C, B) scores, each class on its own and capped at ``detections_per_image`` keeps."""
    return _NonMaxSuppression.apply(
        boxes, scores, config.detections_per_image, config.nms_thresh, config.score_thresh
    )


def take_rows(values: Tensor, index: Tensor) -> Tensor:
    """(N, A, D) rows at (N, M) indices → (N, M, D): one Gather over the flattened rows (no
    index expanded to (N, M, D), as ``torch.gather`` would need)."""
    batch, count, depth = values.shape
    offset = torch.arange(batch, device=index.device)[:, None] * count
    return values.reshape(-1, depth)[(index + offset).reshape(-1)].reshape(batch, -1, depth)


BUSIEST = 2  # classes capped in the window; an image with a third over the cap takes the full path


def cap_busiest(pairs: Tensor, counts: Tensor, cap: int) -> tuple[Tensor, Tensor]:
    """(N, C, W) window scores with the ``BUSIEST`` classes of the highest ``counts`` (N, C)
    of candidates cut to their best ``cap`` (the per-class top-k; ties to the lower position),
    and the next class's count (N,): the window's pairs above its floor are the image's best
    pairs, so a class's best ``cap`` among them are its best ``cap`` of all. A TopK over two
    rows, not over every class's."""
    top_counts, busiest = counts.topk(min(BUSIEST + 1, counts.shape[1]), dim=-1)
    rows = busiest[:, :BUSIEST, None].expand(-1, -1, pairs.shape[-1])  # (N, B, W)
    scores = torch.gather(pairs, 1, rows)
    best = scores.topk(min(cap, pairs.shape[-1]), dim=-1).indices
    capped = torch.zeros_like(scores).scatter(-1, best, torch.gather(scores, -1, best))
    others = (
        top_counts[:, BUSIEST]
        if top_counts.shape[1] > BUSIEST
        else torch.zeros_like(top_counts[:, 0])
    )
    return pairs.scatter(1, rows, capped), others


class DeployModel(nn.Module):
    """uint8 images (N, 3, H, W) → ``boxes`` (K, 4) xyxy in the input's pixels, ``scores`` (K,),
    ``labels`` (K,) contiguous 1..C-1, ``batch_index`` (K,): which image each detection is of.

    Postprocessing first looks at a window: the ``WINDOW`` anchors whose best class scores
    highest. Every pair (anchor, class) outside it scores at most the window's floor (the lowest
    of those best scores), so the window's pairs above the floor are the image's best pairs, found
    with a ReduceMax, a TopK over 3,234 anchors and a gather instead of a TopK over all 291,000
    pairs (0.8 ms in ONNX Runtime). The busiest classes among them are cut to ``topk_per_class``
    (:func:`cap_busiest`), and NonMaxSuppression runs class by class in its own multi-class form
    (no shifted boxes). That is the exact answer for an image whose NMS kept
    ``detections_per_image`` there, or whose floor is under the score threshold (every candidate
    is in the window), unless a third class is over the cap; for any other image the graph runs
    the full per-class top-k and NMS too (its TopK's k is 0 when no image needs it). With 768
    anchors, each of 60 COCO val images kept 300 or more (at least 362) with trained-like weights
    and had at most one class over the cap."""

    WINDOW = 768

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
        limit, cap = config.detections_per_image, config.topk_per_class

        # the window: the anchors with the best best-class scores, in index order (so that
        # tied scores fall as they would among all pairs), and their pairs above the floor
        window = min(self.WINDOW, anchors)
        best, best_anchor = probabilities.amax(-1).topk(window, dim=-1)  # (N, W)
        window_anchor = best_anchor.sort(dim=-1).values
        floor = best[:, -1]
        pairs = take_rows(probabilities, window_anchor)  # (N, W, C-1)
        above = (pairs > floor.clamp(min=config.score_thresh)[:, None, None]).to(pairs.dtype)
        pairs, others = cap_busiest((pairs * above).transpose(1, 2), above.sum(1), cap)
        fast = classwise_nms(take_rows(boxes, window_anchor), pairs, config)  # image by image
        image = fast[:, 0]
        keeps = (image[:, None] == torch.arange(batch, device=images.device)).sum(0)  # (N,)
        exact = ((keeps >= limit) | (floor <= config.score_thresh)) & (others <= cap)
        # each image's best keeps of all classes: its keeps in a row of (N, most keeps), one TopK
        start = keeps.cumsum(0) - keeps
        slot = torch.arange(fast.shape[0], device=images.device) - start[image]
        width = keeps.max()
        ranked = torch.zeros(batch, width, dtype=pairs.dtype, device=images.device)
        ranked = ranked.index_put((image, slot), pairs[image, fast[:, 1], fast[:, 2]])
        fast_scores, rank_slot = _TopK.apply(ranked, torch.clamp(width, max=limit), 1)
        chosen = fast[(rank_slot + start[:, None]).clamp(max=fast.shape[0] - 1)]  # (N, D, 3)
        fast_labels = chosen[..., 1] + 1
        fast_boxes = take_rows(boxes, torch.gather(window_anchor, 1, chosen[..., 2]))

        # the full per-class top-k, for the images the window did not settle (k = 0 if none)
        # (along the anchors: transposing the (N, k, C-1) result, not the (N, A, C-1) input)
        k = torch.where(exact.all(), 0, min(cap, anchors))
        full_scores, full_anchor = _TopK.apply(probabilities, k, 1)
        full_scores, full_anchor = full_scores.transpose(1, 2), full_anchor.transpose(1, 2)
        full_scores = full_scores.reshape(batch, -1)  # (N, (C-1)·k): class-major
        full_labels = (
            torch.arange(1, classes + 1, device=images.device)[:, None]
            .expand(-1, full_anchor.shape[-1])
            .reshape(1, -1)
            .expand(batch, -1)
        )
        full_boxes = take_rows(boxes, full_anchor.reshape(batch, -1))
        full = shifted_nms(full_boxes, full_scores, full_labels, size, config)

        # each image's detections from the path that settled it
        take = torch.nonzero(exact[:, None] & (fast_scores > 0))  # (K, 2): image, rank
        fast_image, rank = take[:, 0], take[:, 1]
        take_full = torch.nonzero(~exact[full[:, 0]]).flatten()
        full_image, candidate = full[take_full, 0], full[take_full, 2]
        height_width = torch._shape_as_tensor(images)[2:].to(boxes.dtype)  # a Shape op
        scale = height_width.flip(0).repeat(2) / size
        return (
            torch.cat((fast_boxes[fast_image, rank], full_boxes[full_image, candidate])) * scale,
            torch.cat((fast_scores[fast_image, rank], full_scores[full_image, candidate])),
            torch.cat((fast_labels[fast_image, rank], full_labels[full_image, candidate])),
            torch.cat((fast_image, full_image)),
        )
