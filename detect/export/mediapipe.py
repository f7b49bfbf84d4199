"""Export a detector as the ``.tflite`` MediaPipe Tasks' ``ObjectDetector`` runs as it is
(Android, iOS, web, Python): the network behind TFLite's ``TFLite_Detection_PostProcess`` op,
with the TFLite model metadata MediaPipe requires, written by MediaPipe's own metadata writer.

Why the in-graph op, not anchors in the metadata (``create_for_models_without_nms``): for a model
without NMS, MediaPipe's graph (``detection_postprocessing_graph.cc``) keeps one class per anchor
(``TensorsToDetectionsCalculator`` takes each box's best class), decodes without clipping, and
runs its ``NonMaxSuppressionCalculator`` across classes (``multiclass_nms`` unset) at
``min_suppression_threshold`` = ``DetectorOptions.min_suppression_threshold``, which the
ObjectDetector's options never set (proto2 default 0: any overlap suppresses). SSDLite's NMS is
per class at IoU 0.55, an anchor may give several classes: that route cannot reproduce it. The
op's "regular" NMS is per class, with its IoU, score threshold and counts in the op's options —
the route TF OD API's SSD exports take — and MediaPipe takes its four outputs as they are.

The graph here: float NHWC (1, S, S, 3) in [-1, 1] (MediaPipe resizes and normalises, from the
metadata's mean and std 127.5), the network, softmax, boxes decoded, clipped to the image as our
postprocess does, and encoded again against the anchors, so that the op's own decoding (no clamp,
no clip) gives exactly our clipped boxes; each class's scores cut to its ``topk_per_class`` best
(:func:`capped`, our per-class top-k before NMS); the scores' columns are laid out by category id
(column 0 background, column 1 + ``id`` the category, the gaps zero), so the op's class index *is*
the category id and MediaPipe's ``Category.index`` keeps COCO's ids; the label file has
``???`` at the gaps (TF OD API's convention). litert-torch cannot emit the op: it is appended
to the converted flatbuffer with LiteRT's schema bindings (:func:`append_postprocess`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import flatbuffers
import numpy as np
import torch
from ai_edge_litert import schema_py_generated as schema
from flatbuffers import flexbuffers
from torch import Tensor, nn

from detect.errors import ExportError
from detect.export.graph import portable
from detect.export.mediapipe_support import (
    install_version_helper,
    labels_by_id,
    require_mediapipe,
)
from detect.export.metadata import ExportMetadata
from detect.export.tflite import FILE_IDENTIFIER, with_metadata
from detect.models import SSDLite
from detect.models.box_coder import centre_size

OP_NAME = "TFLite_Detection_PostProcess"
NORM = 127.5  # uint8 → [-1, 1]: (x − 127.5) / 127.5, our preprocessing


@dataclass(frozen=True)
class PostprocessOptions:
    """The op's settings, from the model's postprocess config."""

    score_thresh: float
    nms_thresh: float
    detections: int  # detections_per_image: the op's max_detections and detections_per_class
    num_classes: int  # 1 + the largest category id: the op's classes, background excluded

    def flexbuffer(self, weights: Sequence[float]) -> bytes:
        wx, wy, ww, wh = weights
        return bytes(
            flexbuffers.Dumps(
                {
                    "max_detections": self.detections,
                    "max_classes_per_detection": 1,
                    "detections_per_class": self.detections,
                    "use_regular_nms": True,
                    "nms_score_threshold": float(self.score_thresh),
                    "nms_iou_threshold": float(self.nms_thresh),
                    "num_classes": self.num_classes,
                    "y_scale": float(wy),
                    "x_scale": float(wx),
                    "h_scale": float(wh),
                    "w_scale": float(ww),
                }
            )
        )


def capped(scores: Tensor, topk: int) -> Tensor:
    """(N, A, C) scores with each class's below its ``topk`` best anchors set to 0 (under any
    threshold): our postprocess's per-class top-k before NMS, which the op lacks (its regular
    NMS takes every candidate over the threshold, and ``detections_per_class`` caps its keeps,
    not its candidates). Without it, a class with more candidates than ``topk`` kept boxes
    PyTorch never considers. A score tied with the ``topk``-th stays (PyTorch keeps the lower
    anchor of a tie: only an exact float tie at the cut can differ)."""
    if topk >= scores.shape[1]:
        return scores
    # (N, C, 1): each class's topk-th best; LiteRT's own TOPK_V2 (torch.topk converts to a
    # general sort with a comparator subgraph, which the op's graph surgery cannot take)
    floor = torch.ops.tfl.topk_v2(scores.transpose(1, 2), topk)[0][..., -1:]
    return torch.where(scores >= floor.transpose(1, 2), scores, torch.zeros_like(scores))


class EncodedHeads(nn.Module):
    """float (1, S, S, 3) in [-1, 1] → box encodings (1, A, 4) (ty, tx, th, tw) of the clipped
    boxes against the anchors, and scores (1, A, 2 + max id) by category id."""

    def __init__(self, model: SSDLite, coco_ids: Sequence[int]) -> None:
        super().__init__()
        self.model = portable(model.eval())
        self.topk = model.postprocess_config.topk_per_class
        size = float(model.size)
        centre_x, centre_y, width, height = centre_size(model.anchors.float() / size)
        self.register_buffer("anchor_centre", torch.stack((centre_y, centre_x), -1))
        self.register_buffer("anchor_size", torch.stack((height, width), -1))
        wx, wy, ww, wh = model.box_coder.weights
        self.register_buffer("centre_scale", torch.tensor([wy, wx]))
        self.register_buffer("size_scale", torch.tensor([wh, ww]))
        # column 0: background (the op skips it); column 1 + c: the class whose id is c, or the
        # appended zero column for an id no class has, so that the op's class index c is id c
        columns = torch.full((max(coco_ids) + 2,), len(coco_ids) + 1, dtype=torch.long)
        columns[0] = 0
        columns[torch.tensor(coco_ids) + 1] = torch.arange(1, len(coco_ids) + 1)
        self.register_buffer("columns", columns)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        outputs = self.model(images.permute(0, 3, 1, 2))
        probabilities = capped(torch.softmax(outputs["cls_logits"], dim=-1), self.topk)
        padded = torch.cat((probabilities, torch.zeros_like(probabilities[..., :1])), -1)
        scores = padded.index_select(-1, self.columns)
        size = float(self.model.size)
        boxes = self.model.box_coder.decode(outputs["bbox_regression"], self.model.anchors)
        x1, y1, x2, y2 = (boxes.clamp(0, size) / size).unbind(-1)
        centre = torch.stack(((y1 + y2) / 2, (x1 + x2) / 2), -1)
        # a box clipped to nothing keeps side 0 (log: -inf, the op's exp: 0): zero area, which the
        # op's IoU takes as no overlap, as torchvision's NMS does (0/0 suppresses nothing); any
        # positive side gave two such boxes at one place IoU 1, and one of them was dropped
        sides = torch.stack((y2 - y1, x2 - x1), -1)
        encodings = torch.cat(
            (
                (centre - self.anchor_centre) / self.anchor_size * self.centre_scale,
                torch.log(sides / self.anchor_size) * self.size_scale,
            ),
            -1,
        )
        return encodings, scores


def convert(model: SSDLite, coco_ids: Sequence[int]) -> bytes:
    """The fp32 ``.tflite`` of :class:`EncodedHeads` (litert-torch)."""
    import litert_torch  # heavy (jax and more): loaded only when converting
    import litert_torch.backend.experimental.torch_tfl

    example = torch.zeros(1, model.size, model.size, 3)
    try:
        edge = litert_torch.convert(EncodedHeads(model, coco_ids).eval(), (example,))
    except Exception as error:  # the converter raises many types of its own
        raise ExportError(f"litert-torch could not convert the network ({error})") from None
    return bytes(edge.model_content())


def _tensor(name: str, shape: Sequence[int], buffer: int) -> schema.TensorT:
    tensor = schema.TensorT()
    tensor.name, tensor.shape, tensor.type, tensor.buffer = name, list(shape), 0, buffer
    return tensor


def append_postprocess(
    model: bytes, anchors_yxhw: np.ndarray, options: PostprocessOptions, weights: Sequence[float]
) -> bytes:
    """``model`` (outputs: box encodings, scores) with ``TFLite_Detection_PostProcess`` after
    them: its four outputs (boxes, classes, scores, count) become the model's."""
    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    for buffer in tree.buffers or []:  # data stored after the flatbuffer: inline it
        if buffer.offset > 1:
            buffer.data = np.frombuffer(
                model[buffer.offset : buffer.offset + buffer.size], np.uint8
            )
            buffer.offset = buffer.size = 0
    [graph] = tree.subgraphs
    encodings, scores = graph.outputs
    count = len(anchors_yxhw)
    if list(graph.tensors[encodings].shape) != [1, count, 4]:
        raise ExportError(f"unexpected box output shape {graph.tensors[encodings].shape}")
    anchors = schema.BufferT()
    anchors.data = np.frombuffer(anchors_yxhw.astype("<f4").tobytes(), np.uint8)
    tree.buffers.append(anchors)
    graph.tensors.append(_tensor("anchors", (count, 4), len(tree.buffers) - 1))
    anchor_tensor = len(graph.tensors) - 1
    empty = len(tree.buffers)
    tree.buffers.append(schema.BufferT())
    detections = options.detections
    outputs = []
    for name, shape in (
        ("detection_boxes", (1, detections, 4)),
        ("detection_classes", (1, detections)),
        ("detection_scores", (1, detections)),
        ("num_detections", (1,)),
    ):
        graph.tensors.append(_tensor(name, shape, empty))
        outputs.append(len(graph.tensors) - 1)
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode, code.version = OP_NAME, 1
    tree.operatorCodes.append(code)
    op = schema.OperatorT()
    op.opcodeIndex = len(tree.operatorCodes) - 1
    op.inputs, op.outputs = [encodings, scores, anchor_tensor], outputs
    op.customOptions = np.frombuffer(options.flexbuffer(weights), np.uint8)
    op.customOptionsFormat = schema.CustomOptionsFormat.FLEXBUFFERS
    graph.operators.append(op)
    graph.outputs = outputs
    for signature in tree.signatureDefs or []:  # the signature names the new outputs
        signature.outputs = []
        for name, index in zip(("boxes", "classes", "scores", "count"), outputs, strict=True):
            entry = schema.TensorMapT()
            entry.name, entry.tensorIndex = name, index
            signature.outputs.append(entry)
    builder = flatbuffers.Builder(len(model) + anchors.data.size + 4096)
    builder.Finish(tree.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def with_mediapipe_metadata(model: bytes, coco_ids: Sequence[int], names: Sequence[str]) -> bytes:
    """``model`` with the TFLite metadata MediaPipe's ObjectDetector reads, written by MediaPipe's
    own writer: input normalisation (mean, std 127.5: [-1, 1]), the four outputs' properties and
    the label file (by category id) as an associated file."""
    require_mediapipe()
    install_version_helper()  # the writers' missing helper (see mediapipe_support)
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, object_detector

    labels = metadata_writer.Labels().add(labels_by_id(coco_ids, names))
    writer = object_detector.MetadataWriter.create_for_models_with_nms(
        bytearray(model), [NORM], [NORM], labels
    )
    populated, _ = writer.populate()
    return bytes(populated)


def anchors_yxhw(model: SSDLite) -> np.ndarray:
    """The model's anchors as the op reads them: (y centre, x centre, height, width) in [0, 1]."""
    centre_x, centre_y, width, height = centre_size(model.anchors.float() / model.size)
    return torch.stack((centre_y, centre_x, height, width), -1).numpy()


def export_mediapipe(
    model: SSDLite,
    metadata: ExportMetadata,
    converted: bytes | None = None,
) -> bytes:
    """The MediaPipe ``.tflite``'s bytes (fp32): converted (``converted``: :func:`convert`'s
    bytes when at hand), the op appended with ``model``'s postprocess settings, the detect
    metadata and then MediaPipe's (last: its label file is a zip appended to the flatbuffer,
    which repacking would drop). ``detect export score_thresh=…`` sets the op's threshold through
    that config: detections above it are the same, and NMS over fewer candidates is faster."""
    require_mediapipe()  # before the minute of conversion, not after
    config = model.postprocess_config
    options = PostprocessOptions(
        config.score_thresh,
        config.nms_thresh,
        config.detections_per_image,
        max(metadata.coco_ids) + 1,
    )
    data = convert(model, metadata.coco_ids) if converted is None else converted
    data = append_postprocess(data, anchors_yxhw(model), options, model.box_coder.weights)
    data = with_metadata(data, ExportMetadata(**{**metadata.__dict__, "outputs": "detections"}))
    return with_mediapipe_metadata(data, metadata.coco_ids, metadata.names)
