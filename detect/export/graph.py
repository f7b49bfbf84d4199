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

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import nms

from detect.models import SSDLite
from detect.models.postprocess import PostprocessConfig
from detect.models.ssdlite import SSDLiteHead


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


class PortableHead(nn.Module):
    """:class:`SSDLiteHead`'s outputs, its folded classes merged into background with slices
    alone. The head's own fold gathers the background and folded outputs (``index_select``),
    takes their log-sum-exp and gathers the kept ones: pnnx has no ``index_select``, and
    OpenVINO's shape inference loses the batch of the exported ``ReduceLogSumExp``, so neither
    converts torchvision's COCO head (ten N/A outputs). Here each anchor's class outputs are
    reordered in the last convolution's weights — background, the folded ones, then the kept
    ones in their order — so the fold is two slices, a max, exp, sum, log and one concat: the
    same arithmetic (log-sum-exp shifted by the max, as ``torch.logsumexp``), the kept logits
    unchanged, in operators every converter has."""

    def __init__(self, head: SSDLiteHead) -> None:
        super().__init__()
        self.outputs, self.grouped = head.outputs, 1 + len(head.folded_classes)
        order = torch.cat((head.background, head.kept)).cpu()
        self.classification = copy.deepcopy(head.classification)
        for block in self.classification:
            last = block[-1]
            anchors = last.out_channels // self.outputs
            rows = (torch.arange(anchors)[:, None] * self.outputs + order).flatten()
            with torch.no_grad():
                last.weight.copy_(last.weight[rows])
                last.bias.copy_(last.bias[rows])
        self.regression = head.regression

    def forward(self, maps: list[Tensor]) -> dict[str, Tensor]:
        classes = [block(x) for block, x in zip(self.classification, maps, strict=True)]
        boxes = [block(x) for block, x in zip(self.regression, maps, strict=True)]
        logits = SSDLiteHead._flatten(classes, self.outputs)
        grouped = logits[..., : self.grouped]
        top = grouped.amax(-1, keepdim=True)
        background = top + torch.log(torch.exp(grouped - top).sum(-1, keepdim=True))
        return {
            "cls_logits": torch.cat((background, logits[..., self.grouped :]), -1),
            "bbox_regression": SSDLiteHead._flatten(boxes, 4),
        }


def portable(model: SSDLite) -> SSDLite:
    """``model`` as every exporter takes it: itself, or, when its head folds classes into
    background (torchvision's COCO head, a fine-tuned model that dropped classes), a copy
    whose head is a :class:`PortableHead` — one graph for every target."""
    head = getattr(model, "head", None)  # a stand-in network (tests, replays) may have none
    if not (isinstance(head, SSDLiteHead) and head.folded_classes):
        return model
    copied = copy.deepcopy(model)
    copied.head = PortableHead(copied.head)
    return copied.eval()


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
        self.model = portable(model.eval())

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


class _GatherND(torch.autograd.Function):
    """ONNX ``GatherND``: ``data``'s entries at the index tuples along ``index``'s last axis,
    image by image with ``batch_dims=1``. One node, where advanced indexing exports as eight
    (flattened indices, offsets, reshapes); eager: indexing."""

    @staticmethod
    def forward(ctx: object, data: Tensor, index: Tensor, batch_dims: int) -> Tensor:  # type: ignore[override]
        if batch_dims == 0:
            return data[index.unbind(-1)]
        return torch.stack([rows[at.unbind(-1)] for rows, at in zip(data, index, strict=True)])

    @staticmethod
    def symbolic(g, data, index, batch_dims):
        return g.op("GatherND", data, index, batch_dims_i=batch_dims)


class _ScatterND(torch.autograd.Function):
    """ONNX ``ScatterND``: ``data`` with ``updates`` written at the (K, r) ``index`` tuples;
    eager: indexed assignment on a copy."""

    @staticmethod
    def forward(ctx: object, data: Tensor, index: Tensor, updates: Tensor) -> Tensor:  # type: ignore[override]
        written = data.clone()
        written[index.unbind(-1)] = updates
        return written

    @staticmethod
    def symbolic(g, data, index, updates):
        return g.op("ScatterND", data, index, updates)


def rows_at(values: Tensor, index: Tensor) -> Tensor:
    """(N, A, ...) values at (N, ...) row indices → (N, ..., ...): each image's own rows."""
    return _GatherND.apply(values, index[..., None], 1)


BUSIEST = 2  # classes capped in the window; an image with a third over the cap takes the full path


def cap_busiest(pairs: Tensor, counts: Tensor, cap: int) -> tuple[Tensor, Tensor]:
    """(N, C, W) window scores with the ``BUSIEST`` classes of the highest ``counts`` (N, C)
    of candidates cut to their best ``cap`` (the per-class top-k; ties to the lower position),
    and the next class's count (N,): the window's pairs above its floor are the image's best
    pairs, so a class's best ``cap`` among them are its best ``cap`` of all. A TopK over two
    rows, not over every class's."""
    top_counts, busiest = counts.topk(min(BUSIEST + 1, counts.shape[1]), dim=-1)
    window = pairs.shape[-1]
    rows = busiest[:, :BUSIEST, None] + busiest.new_zeros(window)  # (N, B, W)
    best, position = torch.gather(pairs, 1, rows).topk(min(cap, window), dim=-1)
    capped = torch.zeros_like(rows, dtype=pairs.dtype).scatter(-1, position, best)
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
        self.model = portable(model.eval())
        self.config = model.postprocess_config
        self.anchor_count = int(model.anchors.shape[0])

    def boxes_at(self, codes: Tensor, anchor: Tensor) -> Tensor:
        """(N, ...) anchors' boxes, decoded from (N, A, 4) ``codes``: only those the paths use
        (4 × fewer than all), clipped to the square input (one clamp: clip_boxes_to_image's)."""
        boxes = self.model.box_coder.decode(rows_at(codes, anchor), self.model.anchors[anchor])
        return boxes.clamp(0, self.model.size)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        size, config = self.model.size, self.config
        limit, cap = config.detections_per_image, config.topk_per_class
        anchors = self.anchor_count
        outputs = self.model(model_input(images, size))
        logits, codes = outputs["cls_logits"], outputs["bbox_regression"]
        probabilities = torch.softmax(logits, dim=-1)[..., 1:]  # (N, A, C)

        # the window: the anchors with the best best-class scores, in index order (so that
        # tied scores fall as they would among all pairs), and their pairs above the floor
        window = min(self.WINDOW, anchors)
        best, best_anchor = probabilities.amax(-1).topk(window, dim=-1, sorted=False)  # (N, W)
        window_anchor = best_anchor.topk(window, dim=-1, largest=False).values
        floor = best.amin(-1)
        pairs = rows_at(probabilities, window_anchor).transpose(1, 2)  # (N, C, W)
        above = (pairs > floor.clamp(min=config.score_thresh)[:, None, None]).to(pairs.dtype)
        pairs, others = cap_busiest(pairs * above, above.sum(-1), cap)
        window_boxes = self.boxes_at(codes, window_anchor)
        fast = classwise_nms(window_boxes, pairs, config)  # (K, 3): image, class, position
        # each image's best keeps of all classes: each keep's score in its image's row of
        # (N, K + limit) at its place in NMS's output (class-major, each class best first), zero
        # elsewhere, and one TopK (ties: lower class, then NMS's order, as in PyTorch)
        count = fast.shape[0]
        slot = torch.arange(count, device=images.device)
        ranked = pairs.new_zeros(images.shape[0], count + limit)
        ranked = _ScatterND.apply(
            ranked, torch.stack((fast[:, 0], slot), 1), _GatherND.apply(pairs, fast, 0)
        )
        fast_scores, rank_slot = ranked.topk(limit, dim=-1)  # (N, D)
        padded = torch.cat((fast[:, 1:], fast.new_zeros(limit, 2)))  # slots past K: zero scores
        chosen = padded[rank_slot]  # (N, D, 2): class, position
        fast_boxes = rows_at(window_boxes, chosen[..., 1])  # (N, D, 4)
        fast_labels = chosen[..., 0] + 1
        # an image is settled by its window if NMS kept ``limit`` there (scores are positive),
        # or if every candidate was in it, unless a third class was over the cap
        exact = ((fast_scores[:, -1] > 0) | (floor <= config.score_thresh)) & (others <= cap)

        # the full per-class top-k, for the images the window did not settle (k = 0 if none),
        # along the anchors: transposing the (N, k, C) result, not the (N, A, C) input
        k = torch.where(exact.all(), 0, min(cap, anchors))
        full_scores, full_anchor = _TopK.apply(probabilities, k, 1)
        full_scores = torch.where(exact[:, None], 0.0, full_scores.transpose(1, 2).flatten(1))
        full_anchor = full_anchor.transpose(1, 2).flatten(1)  # (N, C·k): class-major
        candidate = torch.arange(full_anchor.shape[1], device=images.device)
        full_labels = torch.div(candidate, k.clamp(min=1), rounding_mode="trunc") + 1
        full_boxes = self.boxes_at(codes, full_anchor)
        full = shifted_nms(full_boxes, full_scores, full_labels, size, config)[:, [0, 2]]

        # each image's detections from the path that settled it (the other's scores are zero)
        fast_take = torch.nonzero(torch.where(exact[:, None], fast_scores, 0.0) > 0)
        scale = torch._shape_as_tensor(images)[[3, 2, 3, 2]].to(codes.dtype) / size  # a Shape op
        return (
            torch.cat(
                (_GatherND.apply(fast_boxes, fast_take, 0), _GatherND.apply(full_boxes, full, 0))
            )
            * scale,
            torch.cat(
                (_GatherND.apply(fast_scores, fast_take, 0), _GatherND.apply(full_scores, full, 0))
            ),
            torch.cat((_GatherND.apply(fast_labels, fast_take, 0), full_labels[full[:, 1]])),
            torch.cat((fast_take[:, 0], full[:, 0])),
        )
