"""One loader for every backend: a checkpoint or an exported model → a detector callable.

Backends:

* ``pytorch`` — the checkpoint's SSDLite with every Conv + BN folded (:func:`fuse_conv_bn`),
  optionally ``torch.compile``-d, on ``device``;
* ``onnxruntime`` — the whole pipeline (preprocess, network, decoding, NMS) as one ONNX graph on
  ONNX Runtime's CPU provider (or the network alone with the numpy decoder): an exported
  ``.onnx`` file (fp32 or int8) or a checkpoint exported in memory on the spot;
* ``litert`` — a ``.tflite`` export on LiteRT's interpreter (XNNPACK), numpy decoder;
* ``auto`` — the fastest that fits, by measurement on this kind of CPU (bench: ONNX Runtime's
  whole graph 0.29× torchvision's time, PyTorch eager 0.85×): ``onnxruntime`` on the CPU for a
  checkpoint (exported in memory and checked against PyTorch on two images, else PyTorch) or an
  ``.onnx``, ``litert`` for a ``.tflite``, ``pytorch`` on a GPU.

All take (3, H, W) uint8 tensors and give per image ``boxes`` (xyxy, original pixels),
``scores`` and ``labels`` (contiguous 1..K) as tensors: :class:`~detect.models.predictor.Detector`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from detect.data.categories import CategoryMap
from detect.errors import ConfigError, ExportError
from detect.export.deployed import DeployedDetector
from detect.export.fuse import fuse_conv_bn
from detect.export.onnx import compare_backends, export_bytes, metadata_for
from detect.export.runtime import OnnxDetector
from detect.models.predictor import Detector, Predictor
from detect.weights.checkpoint import Checkpoint
from detect.weights.hub import HubConfig
from detect.weights.sources import open_checkpoint

log = logging.getLogger(__name__)

BACKENDS = ("auto", "pytorch", "onnxruntime", "litert")
EXPORTED = {".onnx": "onnxruntime", ".tflite": "litert"}


class ExportedPredictor:
    """An exported model's runtime (ONNX Runtime, LiteRT) behind the tensor interface of
    :class:`Predictor`."""

    def __init__(self, detector: DeployedDetector) -> None:
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
    backend: str


def load_exported(path: Path, backend: str, threads: int | None) -> LoadedDetector:
    """An exported file on the runtime its format needs."""
    needed = EXPORTED[path.suffix]
    if backend not in ("auto", needed):
        raise ExportError(f"{path} is an exported model: run it with backend={needed}")
    if needed == "litert":
        from detect.export.litert_runtime import LiteRTDetector  # the litert extra

        runtime: DeployedDetector = LiteRTDetector(path, threads)
    else:
        runtime = OnnxDetector(path, threads)
    meta = runtime.metadata
    return LoadedDetector(
        ExportedPredictor(runtime),
        CategoryMap(meta.coco_ids, meta.names),
        meta.run_config,
        f"{path} ({needed}, {meta.precision}, {meta.outputs})",
        needed,
    )


def exported_in_memory(checkpoint: Checkpoint, threads: int | None) -> OnnxDetector:
    metadata = metadata_for(
        checkpoint.model, checkpoint.categories, checkpoint.model_config, checkpoint.run_config
    )
    return OnnxDetector(export_bytes(checkpoint.model, metadata), threads)


def agrees(runtime: OnnxDetector, checkpoint: Checkpoint) -> bool:
    """The in-memory export gives PyTorch's detections on two seeded images."""
    generator = torch.Generator().manual_seed(0)
    images = [
        torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=generator)
        for h, w in ((240, 320), (300, 200))
    ]
    return compare_backends(runtime, checkpoint.model, images).equal


def load_detector(
    path: str | Path,
    backend: str = "auto",
    device: str = "cpu",
    threads: int | None = None,
    compile: bool = False,
    hub: HubConfig | None = None,
) -> LoadedDetector:
    """``path``: a training checkpoint (``.ckpt``), ``torchvision:<name>`` (a published COCO
    detector, fetched through ``hub``) or an exported model (``.onnx``, ``.tflite``).
    ``threads``: intra-op threads (None: the backend's default)."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if Path(path).suffix in EXPORTED:
        return load_exported(Path(path), backend, threads)
    checkpoint = open_checkpoint(path, hub)
    source = f"{path} (step {checkpoint.global_step}"
    if backend == "litert":
        raise ConfigError(
            f"{path}: backend=litert runs .tflite files; write one with tools/export.py "
            "format=tflite (the conversion takes a minute)"
        )
    if backend == "auto":
        backend = "pytorch"
        if device == "cpu":
            runtime = exported_in_memory(checkpoint, threads)
            if agrees(runtime, checkpoint):
                detector: Detector = ExportedPredictor(runtime)
                source += ", auto: onnxruntime fp32, exported in memory, checked)"
                return LoadedDetector(
                    detector, checkpoint.categories, checkpoint.run_config, source, "onnxruntime"
                )
            log.warning("%s: the ONNX export disagrees with PyTorch; running PyTorch", path)
    if backend == "onnxruntime":
        detector = ExportedPredictor(exported_in_memory(checkpoint, threads))
        source += ", onnxruntime fp32, exported in memory)"
    else:
        if threads is not None:
            torch.set_num_threads(threads)
        detector = Predictor(fuse_conv_bn(checkpoint.model), device, compile=compile)
        source += f", pytorch{' compiled' if compile else ''}, Conv+BN fused)"
    return LoadedDetector(detector, checkpoint.categories, checkpoint.run_config, source, backend)
