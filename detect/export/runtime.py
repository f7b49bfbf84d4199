"""Run an exported detector with ONNX Runtime and numpy only — no torch import, for deployment.

The file holds the whole pipeline (see :mod:`detect.export.graph`): uint8 images in, detections
in the images' own pixels out; its metadata carries the category names and COCO ids.

    detector = OnnxDetector("model.onnx", threads=2)
    [result] = detector([image_chw_uint8])  # result["boxes"], ["scores"], ["labels"], ["names"]
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from detect.errors import ExportError
from detect.plain import check_plain

INPUT_NAME = "images"
OUTPUT_NAMES = ("boxes", "scores", "labels", "batch_index")  # the graph's, in this order
METADATA_KEY = "detect"  # custom metadata: json with categories, model and run config


@dataclass(frozen=True)
class ExportMetadata:
    """What the exported file knows besides its graph."""

    coco_ids: tuple[int, ...]
    names: tuple[str, ...]
    size: int
    model_config: dict[str, Any]
    run_config: dict[str, Any]
    precision: str  # "fp32" or "int8"

    def to_json(self) -> str:
        return json.dumps(
            {
                "categories": {"ids": list(self.coco_ids), "names": list(self.names)},
                "size": self.size,
                "model": self.model_config,
                "run_config": self.run_config,
                "precision": self.precision,
            }
        )

    @classmethod
    def from_json(cls, text: str, source: str = "the model") -> ExportMetadata:
        """Parse and check (plain data only: see :mod:`detect.plain`) a file's metadata."""
        try:
            raw = json.loads(text)
        except ValueError:
            raise ExportError(f"{source}: its detect metadata is not valid json") from None
        check_plain(raw, METADATA_KEY, ExportError, source)
        try:
            categories = raw["categories"]
            return cls(
                tuple(categories["ids"]),
                tuple(categories["names"]),
                int(raw["size"]),
                raw["model"],
                raw.get("run_config", {}),
                raw.get("precision", "fp32"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ExportError(f"{source}: its detect metadata lacks {error}") from None


def session_options(threads: int | None, spin: bool = False) -> ort.SessionOptions:
    """All graph optimisations (Conv + activation fusion, layout transforms), ``threads``
    intra-op threads (None: ONNX Runtime's default, one per core), sequential execution.

    ``spin=False`` lets the worker threads sleep between runs instead of busy-waiting: spinning
    saves a wake-up per run but takes the cores from everything else in the process (decoding
    threads, another model) — measured here, a PyTorch model interleaved with a spinning
    session ran 30× slower."""
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        options.intra_op_num_threads = threads
    return options


def open_session(
    model: str | os.PathLike[str] | bytes, threads: int | None = None, spin: bool = False
) -> ort.InferenceSession:
    """An ONNX Runtime CPU session over a file or serialized model, or an :class:`ExportError`."""
    if not isinstance(model, bytes) and not Path(model).is_file():
        raise ExportError(f"exported model not found: {model}; write one with tools/export.py")
    try:
        source = model if isinstance(model, bytes) else str(model)
        return ort.InferenceSession(
            source, session_options(threads, spin), providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime raises its own untyped exceptions
        name = "the serialized model" if isinstance(model, bytes) else str(model)
        raise ExportError(f"{name} is not a loadable ONNX model ({error})") from None


def as_rgb_chw(image: np.ndarray) -> np.ndarray:
    """(C, H, W) uint8 with 1 (grey), 3 (RGB) or 4 (RGBA) channels → (3, H, W) uint8."""
    if image.ndim != 3 or image.shape[0] not in (1, 3, 4):
        raise ValueError(
            f"expected an image array (C, H, W) with C = 1, 3 or 4, got {image.shape} "
            "(for an HWC array use image.transpose(2, 0, 1))"
        )
    if image.dtype != np.uint8:
        raise ValueError(f"the exported model takes uint8 images, got {image.dtype}")
    if image.shape[0] == 1:
        return np.repeat(image, 3, axis=0)
    return image[:3]


class OnnxDetector:
    """Detections for a list of images; images of equal size share one ``run`` (one batch)."""

    def __init__(
        self,
        model: str | os.PathLike[str] | bytes,
        threads: int | None = None,
        spin: bool = False,
    ) -> None:
        self.session = open_session(model, threads, spin)
        meta = self.session.get_modelmeta().custom_metadata_map
        source = "the model" if isinstance(model, bytes) else str(model)
        if METADATA_KEY not in meta:
            raise ExportError(f"{source} has no detect metadata; export it with tools/export.py")
        self.metadata = ExportMetadata.from_json(meta[METADATA_KEY], source)

    def __call__(self, images: Sequence[np.ndarray]) -> list[dict[str, np.ndarray]]:
        """Per image ``boxes`` (D, 4) xyxy pixels, ``scores``, ``labels`` (1..K), ``coco_ids``,
        ``names``; best score first."""
        arrays = [as_rgb_chw(np.asarray(image)) for image in images]
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, array in enumerate(arrays):
            groups.setdefault(array.shape, []).append(index)
        results: list[dict[str, np.ndarray]] = [{} for _ in arrays]
        for indices in groups.values():
            batch = np.ascontiguousarray(np.stack([arrays[i] for i in indices]))
            boxes, scores, labels, batch_index = self.session.run(
                list(OUTPUT_NAMES), {INPUT_NAME: batch}
            )
            for position, index in enumerate(indices):
                mine = batch_index == position
                results[index] = self._named(boxes[mine], scores[mine], labels[mine])
        return results

    def _named(
        self, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray
    ) -> dict[str, np.ndarray]:
        coco_ids = np.asarray(self.metadata.coco_ids)[labels - 1]
        names = np.asarray(self.metadata.names, dtype=object)[labels - 1]
        return {
            "boxes": boxes,
            "scores": scores,
            "labels": labels,
            "coco_ids": coco_ids,
            "names": names,
        }
