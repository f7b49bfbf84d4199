"""One loader for every backend: a checkpoint or an exported model → a detector callable.

Backends:

* ``pytorch`` — the checkpoint's SSDLite with every Conv + BN folded (:func:`fuse_conv_bn`),
  optionally ``torch.compile``-d, on ``device``;
* ``onnxruntime`` — the whole pipeline (preprocess, network, decoding, NMS) as one ONNX graph on
  ONNX Runtime's CPU provider: an exported ``.onnx`` file (fp32 or int8) or a checkpoint exported
  in memory on the spot.

Both take (3, H, W) uint8 tensors and give per image ``boxes`` (xyxy, original pixels),
``scores`` and ``labels`` (contiguous 1..K) as tensors: :class:`~detect.models.predictor.Detector`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from detect.data.categories import CategoryMap
from detect.errors import ConfigError, ExportError
from detect.export.fuse import fuse_conv_bn
from detect.export.onnx import export_bytes, metadata_for
from detect.export.runtime import OnnxDetector
from detect.models.predictor import Detector, Predictor
from detect.weights.hub import HubConfig
from detect.weights.sources import open_checkpoint

BACKENDS = ("pytorch", "onnxruntime")


class OnnxPredictor:
    """:class:`OnnxDetector` behind the tensor interface of :class:`Predictor`."""

    def __init__(self, detector: OnnxDetector) -> None:
        self.detector = detector

    def __call__(self, images: Sequence[Tensor]) -> list[dict[str, Tensor]]:
        arrays = [image.cpu().numpy() for image in images]
        return [
            {key: torch.from_numpy(result[key]) for key in ("boxes", "scores", "labels")}
            for result in self.detector(arrays)
        ]


@dataclass
class LoadedDetector:
    """A ready detector, the categories it predicts and what it came from."""

    detector: Detector
    categories: CategoryMap
    run_config: dict[str, Any]
    description: str


def load_detector(
    path: str | Path,
    backend: str = "pytorch",
    device: str = "cpu",
    threads: int | None = None,
    compile: bool = False,
    hub: HubConfig | None = None,
) -> LoadedDetector:
    """``path``: a training checkpoint (``.ckpt``), ``torchvision:<name>`` (a published COCO
    detector, fetched through ``hub``) or an exported model (``.onnx``, which runs on
    ``onnxruntime``). ``threads``: intra-op threads (None: the backend's default)."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if Path(path).suffix == ".onnx":
        path = Path(path)
        if backend != "onnxruntime":
            raise ExportError(f"{path} is an exported model: run it with backend=onnxruntime")
        onnx_detector = OnnxDetector(path, threads)
        meta = onnx_detector.metadata
        return LoadedDetector(
            OnnxPredictor(onnx_detector),
            CategoryMap(meta.coco_ids, meta.names),
            meta.run_config,
            f"{path} (onnxruntime, {meta.precision})",
        )
    checkpoint = open_checkpoint(path, hub)
    source = f"{path} (step {checkpoint.global_step}"
    if backend == "onnxruntime":
        metadata = metadata_for(
            checkpoint.model, checkpoint.categories, checkpoint.model_config, checkpoint.run_config
        )
        detector: Detector = OnnxPredictor(
            OnnxDetector(export_bytes(checkpoint.model, metadata), threads)
        )
        source += ", onnxruntime fp32, exported in memory)"
    else:
        if threads is not None:
            torch.set_num_threads(threads)
        detector = Predictor(fuse_conv_bn(checkpoint.model), device, compile=compile)
        source += f", pytorch{' compiled' if compile else ''}, Conv+BN fused)"
    return LoadedDetector(detector, checkpoint.categories, checkpoint.run_config, source)
