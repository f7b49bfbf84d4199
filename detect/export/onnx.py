"""Export a detector to ONNX — the whole pipeline in one file — and check it against PyTorch.

Opset 17: h-swish and h-sigmoid map to ONNX's own ``HardSwish`` / ``HardSigmoid`` (opset 14+),
so they export as single ops rather than a fragile Add/Clip/Div pattern; the TorchScript
exporter (``dynamo=False``, which needs no onnxscript) folds every eval-mode BatchNorm into its
convolution, and ONNX Runtime fuses Conv + ReLU/ReLU6 at load time.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import Tensor

from detect.data.categories import CategoryMap
from detect.export.decode import Decoder
from detect.export.graph import DeployModel, RawHeads
from detect.export.layout import keep_blocked_layout
from detect.export.metadata import OUTPUT_KINDS, ExportMetadata
from detect.export.proto import set_metadata
from detect.export.runtime import INPUT_NAME, OUTPUT_NAMES, RAW_OUTPUT_NAMES, OnnxDetector
from detect.io import atomic_write
from detect.models import SSDLite
from detect.models.predictor import Predictor
from detect.plain import strip_call_keys

OPSET = 17
BOX_TOLERANCE = 1e-2  # px in the original image
SCORE_TOLERANCE = 1e-4


def export_bytes(model: SSDLite, metadata: ExportMetadata, opset: int = OPSET) -> bytes:
    """The serialized ONNX model — the whole pipeline, or the network alone when
    ``metadata.outputs`` is "raw": dynamic batch, height and width; metadata embedded."""
    raw = metadata.outputs == "raw"
    graph, names = (RawHeads, RAW_OUTPUT_NAMES) if raw else (DeployModel, OUTPUT_NAMES)
    example = torch.zeros(1, 3, model.size, model.size, dtype=torch.uint8)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript exporter (chosen: the torch.export one needs onnxscript) announces its
        # own deprecation, and the tracer flags the models' Python shape checks
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated", FutureWarning)
        # the graph's advanced indexing: its indices are never negative, as the warning asks
        warnings.filterwarnings("ignore", "Exporting aten::index operator", UserWarning)
        torch.onnx.export(
            graph(model).eval(),
            (example,),
            buffer,
            input_names=[INPUT_NAME],
            output_names=list(names),
            dynamic_axes={
                INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
                **{name: {0: "batch" if raw else "detections"} for name in names},
            },
            opset_version=opset,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    keep_blocked_layout(proto, model.size)
    onnx.checker.check_model(proto)
    set_metadata(proto, metadata)
    return proto.SerializeToString()


def decoder_for(model: SSDLite) -> Decoder:
    """What the numpy decoder needs to finish a network-only graph of ``model``."""
    config = model.postprocess_config
    return Decoder(
        model.anchors.cpu().numpy(),
        tuple(model.box_coder.weights),
        model.size,
        config.score_thresh,
        config.topk_per_class,
        config.nms_thresh,
        config.detections_per_image,
    )


def metadata_for(
    model: SSDLite,
    categories: CategoryMap,
    model_config: dict[str, Any],
    run_config: dict[str, Any],
    outputs: str = "detections",
) -> ExportMetadata:
    """What the file carries besides its graph; the categories must fit the class head.
    ``outputs``: "detections" (the whole pipeline) or "raw" (the heads, for the decoder)."""
    if model.num_classes != categories.num_classes:
        raise ValueError(
            f"the model predicts {model.num_classes} classes (background included) but "
            f"{len(categories.names)} categories were given"
        )
    if outputs not in OUTPUT_KINDS:
        raise ValueError(f"outputs must be one of {', '.join(OUTPUT_KINDS)}, not {outputs!r}")
    return ExportMetadata(
        categories.coco_ids,
        categories.names,
        model.size,
        strip_call_keys(model_config),
        strip_call_keys(run_config),
        "fp32",
        outputs,
        decoder_for(model) if outputs == "raw" else None,
    )


@dataclass
class ParityReport:
    """How far one backend's detections are from another's, image by image."""

    images: int
    detections: int  # distinct detections of both sides: each pair once, each unpaired one once
    unmatched: int  # detections without a partner within tolerance (outside near-ties at the cut)
    max_box_error: float
    max_score_error: float

    @property
    def equal(self) -> bool:
        return self.unmatched == 0

    def __str__(self) -> str:
        verdict = "equal" if self.equal else "NOT EQUAL"
        return (
            f"{self.images} images: {verdict}, {self.unmatched} of {self.detections} detections "
            f"unmatched; max |Δbox| {self.max_box_error:.2g} px, max |Δscore| "
            f"{self.max_score_error:.2g} (tolerance {BOX_TOLERANCE:g} px, {SCORE_TOLERANCE:g})"
        )


@dataclass(frozen=True)
class Pairing:
    """Two lists of detections paired: ``unmatched`` of ``distinct`` (each pair counted once,
    each detection of either side without a partner once), and the pairs' largest gaps."""

    unmatched: int
    distinct: int
    box_error: float
    score_error: float


def pair_detections(ours: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> Pairing:
    """Pair each reference detection with one of ``ours`` of the same label whose box and score
    are within tolerance. Order may differ where scores tie within float error, and the set may
    differ only at the cut (both lists full, scores within tolerance of the last one kept)."""
    free = np.ones(len(ours["scores"]), dtype=bool)
    unmatched, box_error, score_error = 0, 0.0, 0.0
    for box, score, label in zip(
        reference["boxes"], reference["scores"], reference["labels"], strict=True
    ):
        box_gap = np.abs(ours["boxes"] - box).max(axis=1, initial=0.0)
        score_gap = np.abs(ours["scores"] - score)
        fits = free & (ours["labels"] == label)
        fits &= (box_gap <= BOX_TOLERANCE) & (score_gap <= SCORE_TOLERANCE)
        if fits.any():
            best = int(np.flatnonzero(fits)[np.argmin(score_gap[fits])])
            free[best] = False
            box_error = max(box_error, float(box_gap[best]))
            score_error = max(score_error, float(score_gap[best]))
        elif not _at_the_cut(score, reference["scores"], ours["scores"]):
            unmatched += 1
    for score in ours["scores"][free]:
        unmatched += not _at_the_cut(score, ours["scores"], reference["scores"])
    distinct = len(reference["scores"]) + int(free.sum())
    return Pairing(unmatched, distinct, box_error, score_error)


def match_detections(
    ours: dict[str, np.ndarray], reference: dict[str, np.ndarray]
) -> tuple[int, float, float]:
    """:func:`pair_detections` as (unmatched, max box error, max score error)."""
    pairing = pair_detections(ours, reference)
    return pairing.unmatched, pairing.box_error, pairing.score_error


def _at_the_cut(score: float, own: np.ndarray, other: np.ndarray) -> bool:
    """A detection near the lowest kept score of a full list may fall either side of the cut."""
    return len(own) == len(other) and len(own) > 0 and score <= own[-1] + SCORE_TOLERANCE


def to_numpy(detections: dict[str, Tensor]) -> dict[str, np.ndarray]:
    return {key: detections[key].cpu().numpy() for key in ("boxes", "scores", "labels")}


def compare_backends(
    onnx_detector: OnnxDetector, model: SSDLite, images: Sequence[Tensor]
) -> ParityReport:
    """ONNX Runtime's detections against PyTorch's on the same images (one image per run)."""
    predictor = Predictor(model)
    report = ParityReport(len(images), 0, 0, 0.0, 0.0)
    for image in images:
        reference = to_numpy(predictor([image])[0])
        pairing = pair_detections(onnx_detector([image.numpy()])[0], reference)
        report.detections += pairing.distinct
        report.unmatched += pairing.unmatched
        report.max_box_error = max(report.max_box_error, pairing.box_error)
        report.max_score_error = max(report.max_score_error, pairing.score_error)
    return report


def write_model(data: bytes, path: str | Path) -> Path:
    """Write a serialized model atomically (see :func:`detect.io.atomic_write`)."""
    return atomic_write(path, data)
