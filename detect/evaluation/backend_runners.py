"""Our backends as timed runners: one SSDLite served each way a user can serve it, ready for
:func:`~detect.evaluation.latency.measure_runners`.

``pytorch`` (eager, Conv+BN folded, as ``load_detector`` serves it), ``pytorch_compiled`` (the
same under ``torch.compile``, compiled before timing), ``onnxruntime`` (the whole pipeline as one
ONNX graph, fp32; its network alone is timed beside it, which gives postprocessing's share),
``onnxruntime_int8`` (the same, statically quantised, calibrated on ``calibration_images`` real
images), ``onnxruntime_raw`` (the network alone + the numpy decoder: what delegates run) and
``litert`` / ``litert_fp16`` / ``litert_int8`` (.tflite raw heads on LiteRT's XNNPACK + the numpy
decoder; the ``litert`` extra), ``mediapipe`` (MediaPipe Tasks' ObjectDetector end to end on
our ``format=mediapipe`` file: its resizing, interpreter and in-graph NMS; the ``mediapipe``
extra).

The deployment matrix adds ``openvino`` / ``openvino_int8`` (an OpenVINO IR of the raw heads on
its CPU plugin, f32, + the numpy decoder; int8 by NNCF, calibrated on real images; the
``openvino`` extra) and ``onnxruntime_web`` (the whole graph in headless Chromium's ONNX Runtime
Web, WASM, timed by the page itself: :mod:`detect.evaluation.browser`; the ``web`` extra).

``executorch``: an ExecuTorch ``.pte`` (raw heads, XNNPACK-delegated) on ExecuTorch's runtime +
the numpy decoder (the ``executorch`` extra). ``ncnn`` / ``ncnn_fp16``: an NCNN export (pnnx) of
the raw heads on NCNN's CPU path, Vulkan off, fp32 or fp16 weight storage, + the numpy decoder
(the ``ncnn`` extra).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from detect.data.categories import CategoryMap
from detect.data.images import load_images
from detect.errors import ConfigError
from detect.evaluation.latency import Runner, StageTimes, detector_runner, opaque_runner
from detect.export.fuse import fuse_conv_bn
from detect.export.metadata import ExportMetadata
from detect.export.onnx import export_bytes, metadata_for
from detect.export.quantize import quantize_int8
from detect.export.runtime import OnnxDetector
from detect.inference.backends import ExportedPredictor
from detect.models import SSDLite

BACKEND_NAMES = (
    "pytorch",
    "pytorch_compiled",
    "onnxruntime",  # the whole pipeline in one graph
    "onnxruntime_int8",
    "onnxruntime_raw",  # the network alone + the numpy decoder (what delegates run)
    "litert",  # .tflite (raw heads) on LiteRT's XNNPACK + the numpy decoder
    "litert_fp16",
    "litert_int8",
    "ncnn",  # NCNN (pnnx) raw heads on its CPU path, Vulkan off, + the numpy decoder
    "ncnn_fp16",  # the same, weights stored as fp16
    "openvino",  # OpenVINO IR (raw heads) on its CPU plugin, f32, + the numpy decoder
    "openvino_int8",  # the same, NNCF post-training int8 calibrated on real images
    "onnxruntime_web",  # the whole graph in headless Chromium (ONNX Runtime Web, WASM)
    "mediapipe",  # MediaPipe's ObjectDetector end to end on our format=mediapipe file
    "executorch",  # ExecuTorch .pte (raw heads, XNNPACK) on its runtime + the numpy decoder
)
ALL = "all"  # backends=all: every name above
SYNTHETIC_SHAPE = (3, 480, 640)  # a typical COCO image, for images_dir=None


def bench_images(images_dir: str | Path | None, count: int, seed: int = 0) -> list[Tensor]:
    """The first ``count`` images of ``images_dir`` (by name) as (3, H, W) uint8 RGB tensors;
    ``None``: ``count`` seeded random 480×640 images."""
    if images_dir is not None:
        return load_images(images_dir, count)
    if count < 1:
        raise ConfigError(f"batch_size must be at least 1, got {count}")
    generator = torch.Generator().manual_seed(seed)
    return [
        torch.randint(0, 256, SYNTHETIC_SHAPE, dtype=torch.uint8, generator=generator)
        for _ in range(count)
    ]


@dataclass
class Backends:
    """Which of our backends to time, and what the int8 one is calibrated on."""

    names: Sequence[str] = ("pytorch",)
    calibration_dir: str | Path | None = None
    calibration_images: int = 32
    spin: bool = True  # ONNX Runtime's workers busy-wait within a run (see session_options)

    def __post_init__(self) -> None:
        if list(self.names) == [ALL]:  # the deployment matrix: every registered backend
            self.names = BACKEND_NAMES
        unknown = [name for name in self.names if name not in BACKEND_NAMES]
        if unknown or not self.names:
            raise ConfigError(
                f"unknown backend(s) {unknown}; choose from {', '.join(BACKEND_NAMES)}"
            )


def backend_runners(
    name: str,
    model: SSDLite,
    images: list[Tensor],
    backends: Backends,
    device: str,
    categories: CategoryMap | None = None,
    sizes: dict[str, int] | None = None,
    model_config: dict[str, Any] | None = None,
) -> dict[str, Runner]:
    """A timed runner per backend; rows are named ``<name> [<backend>]``. ``sizes`` gets each
    exported row's file size in bytes; ``model_config``: the model's stored config, which the
    exports' metadata carries (checked when a runtime reads it)."""
    model_config = model_config or {}
    sizes = {} if sizes is None else sizes
    runners: dict[str, Runner] = {}
    fp32_export: bytes | None = None
    tflite_fp32: bytes | None = None
    threads = torch.get_num_threads()
    for backend in backends.names:
        if backend.startswith("pytorch"):  # as load_detector serves it: Conv+BN folded
            fused = fuse_conv_bn(model)
            network = torch.compile(fused) if backend == "pytorch_compiled" else fused
            runners[f"{name} [{backend}]"] = detector_runner(network, images, device)
            continue
        cuda = device != "cpu"  # ONNX Runtime's CUDA provider (onnxruntime-gpu), fp32 graphs
        if cuda and backend not in ("onnxruntime", "onnxruntime_raw"):
            raise ConfigError(f"backend {backend} runs on the CPU; use device=cpu")
        if backend == "mediapipe":  # image in, detections out: MediaPipe's code alone
            from detect.export.mediapipe import export_mediapipe  # the mediapipe extra
            from detect.inference.mediapipe_runtime import MediaPipeDetector

            data = export_mediapipe(model, _metadata(model, model_config, categories))
            sizes[f"{name} [{backend}]"] = len(data)
            runners[f"{name} [{backend}]"] = opaque_runner(
                ExportedPredictor(MediaPipeDetector(data)), images
            )
            continue
        if backend.startswith("litert"):
            from detect.export.litert import export_tflite  # the litert extra
            from detect.export.litert_runtime import LiteRTDetector

            precision = backend.split("_")[1] if "_" in backend else "fp32"
            raw = _metadata(model, model_config, categories, "raw")
            if tflite_fp32 is None:  # one conversion for every LiteRT variant
                tflite_fp32 = export_tflite(model, raw)
            data = export_tflite(model, raw, precision, converted=tflite_fp32)
            detector = LiteRTDetector(data, threads)
        elif backend.startswith("openvino"):
            from detect.export.openvino import export_ir  # the openvino extra
            from detect.export.openvino_runtime import OpenVINODetector

            precision = "int8" if backend.endswith("_int8") else "fp32"
            calibration = (
                bench_images(backends.calibration_dir, backends.calibration_images)
                if precision == "int8"
                else []
            )
            raw = _metadata(model, model_config, categories, "raw")
            data = export_ir(model, raw, precision, calibration)
            detector = OpenVINODetector(data, threads)
        elif backend == "onnxruntime_web":  # timed in the browser, by the page
            from detect.evaluation.browser import browser_runner  # the web extra

            if fp32_export is None:
                fp32_export = export_bytes(model, _metadata(model, model_config, categories))
            data = fp32_export
            runners[f"{name} [{backend}]"] = browser_runner(data, images, threads)
            sizes[f"{name} [{backend}]"] = len(data)
            continue
        elif backend.startswith("ncnn"):
            from detect.export.ncnn import export_ncnn  # the ncnn extra
            from detect.export.ncnn_runtime import NcnnDetector

            precision = "fp16" if backend.endswith("_fp16") else "fp32"
            data = export_ncnn(model, _metadata(model, model_config, categories, "raw"), precision)
            detector = NcnnDetector(data, threads)
        elif backend == "executorch":
            from detect.export.executorch import export_executorch  # the executorch extra
            from detect.export.executorch_runtime import ExecuTorchDetector

            data = export_executorch(model, _metadata(model, model_config, categories, "raw"))
            detector = ExecuTorchDetector(data, threads)
        elif backend == "onnxruntime_raw":
            data = export_bytes(model, _metadata(model, model_config, categories, "raw"))
            detector = OnnxDetector(data, threads, backends.spin, cuda)
        else:
            if fp32_export is None:
                fp32_export = export_bytes(model, _metadata(model, model_config, categories))
            exported = fp32_export
            if backend == "onnxruntime_int8":
                calibration = bench_images(backends.calibration_dir, backends.calibration_images)
                exported = quantize_int8(exported, [image.numpy() for image in calibration])
            data = exported
            detector = OnnxDetector(exported, threads, backends.spin, cuda)
        runners[f"{name} [{backend}]"] = opaque_runner(ExportedPredictor(detector), images)
        sizes[f"{name} [{backend}]"] = len(data)
        if backend == "onnxruntime":  # the same network without its postprocessing: the share
            raw_graph = export_bytes(model, _metadata(model, model_config, categories, "raw"))
            raw = OnnxDetector(raw_graph, threads, backends.spin, cuda)
            runners[f"{name} [onnxruntime, network only]"] = session_runner(raw, images)
    return runners


def session_runner(detector: OnnxDetector, images: list[Tensor]) -> Runner:
    """One timed ``session.run`` of a network-only graph per image, no decoding (its detections
    are left empty: they are not compared)."""
    arrays = [image.numpy()[None] for image in images]

    def run() -> tuple[StageTimes, list]:
        start = time.perf_counter()
        for array in arrays:
            detector.run(array)
        return (math.nan, time.perf_counter() - start, math.nan), []

    return run


def _metadata(
    model: SSDLite,
    model_config: dict[str, Any],
    categories: CategoryMap | None,
    outputs: str = "detections",
) -> ExportMetadata:
    """The model's stored config and the checkpoint's categories, or placeholders 1..K for an
    untrained configuration."""
    if categories is None:
        ids = tuple(range(1, model.num_classes))
        categories = CategoryMap(ids, tuple(f"class {i}" for i in ids))
    return metadata_for(model, categories, model_config, {}, outputs)
