"""One loader for every backend: a checkpoint or an exported model → a detector callable.

Backends:

* ``pytorch`` — the checkpoint's SSDLite with every Conv + BN folded (:func:`fuse_conv_bn`),
  optionally ``torch.compile``-d, on ``device``;
* ``onnxruntime`` — the whole pipeline (preprocess, network, decoding, NMS) as one ONNX graph on
  ONNX Runtime's CPU provider (or the network alone with the numpy decoder): an exported
  ``.onnx`` file (fp32 or int8) or a checkpoint exported in memory, checked against PyTorch and
  kept in the export cache (:mod:`~detect.inference.export_cache`): only its first load exports;
* ``litert`` — a ``.tflite`` export on LiteRT's interpreter (XNNPACK), numpy decoder;
* ``ncnn`` — an NCNN export (``.ncnn.param`` with its ``.bin`` and ``.json`` beside it) on
  NCNN's CPU path, Vulkan off, numpy decoder (the ``ncnn`` extra);
* ``openvino`` — an OpenVINO IR (``.xml`` + ``.bin``) on its CPU plugin, numpy decoder, or a
  checkpoint converted in memory and checked against PyTorch (the ``openvino`` extra; settings
  ``performance_hint`` and ``precision``: :mod:`detect.export.openvino_runtime`);
* ``executorch`` — an ExecuTorch export (``.pte`` + ``.json``) on ExecuTorch's runtime (XNNPACK),
  numpy decoder (the ``executorch`` extra);
* ``mediapipe`` — a MediaPipe export (``format=mediapipe``) run by MediaPipe Tasks'
  ``ObjectDetector`` end to end (:mod:`~detect.inference.mediapipe_runtime`);
* ``auto`` — the fastest that fits, by measurement on this kind of CPU (bench: ONNX Runtime's
  whole graph 0.29× torchvision's time, PyTorch eager 0.85×): ``onnxruntime`` on the CPU for a
  checkpoint (exported and checked against PyTorch on two images, else PyTorch; cached) or an
  ``.onnx``, ``litert`` for a ``.tflite``, ``pytorch`` on a GPU.

All take (3, H, W) uint8 tensors and give per image ``boxes`` (xyxy, original pixels),
``scores`` and ``labels`` (contiguous 1..K) as tensors: :class:`~detect.models.predictor.Detector`.
"""

from __future__ import annotations

import copy
import dataclasses
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
from detect.inference.export_cache import ExportCache, read_weights
from detect.models.predictor import Detector, Predictor
from detect.weights.checkpoint import Checkpoint
from detect.weights.hub import HubConfig
from detect.weights.sources import open_checkpoint

log = logging.getLogger(__name__)

BACKENDS = ("auto", "pytorch", "onnxruntime", "litert", "mediapipe", "openvino")
EXPORTED = {".onnx": "onnxruntime", ".tflite": "litert", ".xml": "openvino"}
BACKENDS += ("ncnn",)  # an NCNN export: .ncnn.param + .bin + .json (detect.export.ncnn)
EXPORTED[".param"] = "ncnn"
BACKENDS += ("executorch",)  # an ExecuTorch export: .pte + .json (detect.export.executorch)
EXPORTED[".pte"] = "executorch"


class ExportedPredictor:
    """An exported model's runtime (ONNX Runtime, LiteRT) behind the tensor interface of
    :class:`Predictor`."""

    def __init__(self, detector: DeployedDetector) -> None:
        self.detector = detector

    def decoding_from(self, score_thresh: float) -> ExportedPredictor:
        """This predictor, its raw heads (when the file holds them) decoded from
        ``score_thresh`` on instead of the file's threshold (eval's 0.001 by default): a
        caller's own cut found sooner, the same detections above it. The runtime is shared, its
        decoder settings are this copy's own (a server's other callers keep theirs)."""
        metadata = self.detector.metadata
        if metadata.outputs != "raw" or metadata.decoder is None:
            return self
        runtime = copy.copy(self.detector)
        decoder = metadata.decoder.with_settings(score_thresh=score_thresh)
        runtime.metadata = dataclasses.replace(metadata, decoder=decoder)
        return ExportedPredictor(runtime)

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


def load_exported(
    path: Path, backend: str, threads: int | None, openvino: dict[str, str] | None = None
) -> LoadedDetector:
    """An exported file on the runtime its format needs (``openvino``: its settings)."""
    needed = EXPORTED[path.suffix]
    if backend == "mediapipe" and needed == "litert":  # MediaPipe's ObjectDetector, end to end
        from detect.inference.mediapipe_runtime import MediaPipeDetector

        needed, runtime = backend, MediaPipeDetector(path)
    elif backend not in ("auto", needed):
        raise ExportError(f"{path} is an exported model: run it with backend={needed}")
    elif needed == "litert":
        from detect.export.litert_runtime import LiteRTDetector  # the litert extra

        runtime: DeployedDetector = LiteRTDetector(path, threads)
    elif needed == "openvino":
        from detect.export.openvino_runtime import OpenVINODetector  # the openvino extra

        runtime = OpenVINODetector(path, threads, **(openvino or {}))
    elif needed == "ncnn":
        from detect.export.ncnn_runtime import NcnnDetector  # the ncnn extra

        runtime = NcnnDetector(path, threads)
    elif needed == "executorch":
        from detect.export.executorch_runtime import ExecuTorchDetector  # the executorch extra

        runtime = ExecuTorchDetector(path, threads)
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


def export_checkpoint(checkpoint: Checkpoint) -> bytes:
    """The checkpoint's whole pipeline as a serialized ONNX model, metadata embedded."""
    metadata = metadata_for(
        checkpoint.model, checkpoint.categories, checkpoint.model_config, checkpoint.run_config
    )
    return export_bytes(checkpoint.model, metadata)


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
    cache: bool = True,
    cache_dir: str | Path | None = None,
    openvino: dict[str, str] | None = None,
) -> LoadedDetector:
    """``path``: a training checkpoint (``.ckpt``), ``torchvision:<name>`` (a published COCO
    detector, fetched through ``hub``) or an exported model (``.onnx``, ``.tflite``).
    ``threads``: intra-op threads (None: the backend's default). ``cache``: a checkpoint run on
    ONNX Runtime keeps its checked export in ``cache_dir`` (None: the default folder, see
    :mod:`~detect.inference.export_cache`) and later loads read it from there; False writes
    nothing and exports on every load. ``openvino``: the OpenVINO backend's settings
    (``performance_hint``, ``precision``: see
    :class:`~detect.export.openvino_runtime.OpenVINODetector`)."""
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if Path(path).suffix in EXPORTED:
        return load_exported(Path(path), backend, threads, openvino)
    if backend == "mediapipe":
        raise ConfigError(
            f"{path}: backend=mediapipe runs MediaPipe exports; write one with detect export "
            "format=mediapipe (the conversion takes a minute)"
        )
    if backend == "ncnn":
        raise ConfigError(
            f"{path}: backend=ncnn runs NCNN exports (.ncnn.param); write one with detect export "
            "format=ncnn (pnnx converts in about 20 s)"
        )
    if backend == "executorch":
        raise ConfigError(
            f"{path}: backend=executorch runs ExecuTorch exports (.pte); write one with detect "
            "export format=executorch"
        )
    if backend == "litert":
        raise ConfigError(
            f"{path}: backend=litert runs .tflite files; write one with tools/export.py "
            "format=tflite (the conversion takes a minute)"
        )
    if backend == "openvino":
        return on_openvino(open_checkpoint(path, hub), path, threads, openvino)
    if backend == "onnxruntime" or (backend == "auto" and device == "cpu"):
        exports = ExportCache(cache_dir) if cache else None
        return on_onnxruntime(path, backend == "auto", threads, compile, hub, exports)
    return on_pytorch(open_checkpoint(path, hub), path, device, threads, compile)


def on_onnxruntime(
    path: str | Path,
    auto: bool,
    threads: int | None,
    compile: bool,
    hub: HubConfig | None,
    exports: ExportCache | None,
) -> LoadedDetector:
    """A checkpoint's whole pipeline on ONNX Runtime: its checked export from ``exports`` when
    there, else exported in memory, checked against PyTorch and kept there. Without ``exports``
    the export is checked for ``auto`` only, as before there was a cache. ``auto``: PyTorch
    when the export disagrees."""
    label = "auto: onnxruntime fp32" if auto else "onnxruntime fp32"
    weights = read_weights(path, hub) if exports else None
    if exports is not None and weights is not None:
        cached = exports.load(weights.key, threads)
        if cached:
            meta = cached.runtime.metadata
            return LoadedDetector(
                ExportedPredictor(cached.runtime),
                CategoryMap(meta.coco_ids, meta.names),
                meta.run_config,
                f"{path} (step {cached.global_step}, {label}, from the export cache: "
                f"{cached.path}, checked when written)",
                "onnxruntime",
            )
    checkpoint = weights.checkpoint(hub) if weights else open_checkpoint(path, hub)
    data = export_checkpoint(checkpoint)
    runtime = OnnxDetector(data, threads)
    source = f"{path} (step {checkpoint.global_step}, {label}, exported in memory"
    if auto or exports is not None:  # onnxruntime asked for, nothing kept: unchecked as before
        if not agrees(runtime, checkpoint):
            log.warning("%s: the ONNX export disagrees with PyTorch", path)
            if auto:
                return on_pytorch(checkpoint, path, "cpu", threads, compile)
            source += ", disagrees with PyTorch, not cached"
        else:
            source += ", checked"
            if exports is not None and weights is not None:
                written = exports.write(weights.key, data, checkpoint.global_step)
                source += f", cached as {written}" if written else ""
    return LoadedDetector(
        ExportedPredictor(runtime),
        checkpoint.categories,
        checkpoint.run_config,
        source + ")",
        "onnxruntime",
    )


def on_openvino(
    checkpoint: Checkpoint, path: str | Path, threads: int | None, openvino: dict[str, str] | None
) -> LoadedDetector:
    """A checkpoint's network converted to OpenVINO in memory (raw heads + the numpy decoder),
    checked against PyTorch on two seeded images: a disagreement is an error, not a fallback."""
    from detect.export.openvino import export_ir  # the openvino extra
    from detect.export.openvino_runtime import OpenVINODetector

    metadata = metadata_for(
        checkpoint.model,
        checkpoint.categories,
        checkpoint.model_config,
        checkpoint.run_config,
        "raw",
    )
    runtime = OpenVINODetector(export_ir(checkpoint.model, metadata), threads, **(openvino or {}))
    if not agrees(runtime, checkpoint):
        raise ExportError(f"{path}: its OpenVINO conversion disagrees with PyTorch")
    settings = ", ".join(f"{key}={value}" for key, value in runtime.settings.items())
    return LoadedDetector(
        ExportedPredictor(runtime),
        checkpoint.categories,
        checkpoint.run_config,
        f"{path} (step {checkpoint.global_step}, openvino fp32 converted in memory, checked; "
        f"{settings})",
        "openvino",
    )


def on_pytorch(
    checkpoint: Checkpoint, path: str | Path, device: str, threads: int | None, compile: bool
) -> LoadedDetector:
    """The checkpoint's SSDLite, every Conv + BN folded, on ``device``."""
    if threads is not None:
        torch.set_num_threads(threads)
    detector = Predictor(fuse_conv_bn(checkpoint.model), device, compile=compile)
    source = f"{path} (step {checkpoint.global_step}, pytorch{' compiled' if compile else ''}, "
    return LoadedDetector(
        detector,
        checkpoint.categories,
        checkpoint.run_config,
        source + "Conv+BN fused)",
        "pytorch",
    )
