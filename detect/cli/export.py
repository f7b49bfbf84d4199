"""tools/export.py: a checkpoint to ONNX (and int8) or LiteRT (fp32, fp16, int8), checked
against PyTorch on the spot; an int8 model is reported with its speed and AP beside fp32's."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig
from torch import Tensor

from detect.data.images import load_images, to_chw_tensor
from detect.data.registry import build_dataset
from detect.errors import ConfigError, DatasetError, ExportError
from detect.evaluation.evaluate import evaluate
from detect.evaluation.latency import measure_runners, opaque_runner
from detect.export.deployed import DeployedDetector
from detect.export.metadata import ExportMetadata
from detect.export.onnx import compare_backends, export_bytes, metadata_for, write_model
from detect.export.quantize import quantize_int8
from detect.export.runtime import OnnxDetector
from detect.inference.backends import ExportedPredictor
from detect.weights.checkpoint import Checkpoint
from detect.weights.hub import HubConfig
from detect.weights.sources import is_published, open_checkpoint

FORMATS = {"onnx": ".onnx", "tflite": ".tflite"}


def split_images(checkpoint: Checkpoint, split: str, count: int, source: str) -> list[Tensor]:
    """The first ``count`` readable images of the checkpoint's own ``split`` (the data its run
    config records, rebuilt from plain fields)."""
    data = checkpoint.run_config.get("data")
    if not data:
        raise DatasetError(
            f"{source} records no dataset to read images from; name a folder of images "
            "instead (check.images_dir=… / calibration.images_dir=…)"
        )
    dataset = build_dataset(data, split, source=source, stored=True)
    images = []
    for index in range(len(dataset)):
        if len(images) == count:
            break
        sample = dataset[index]
        if sample is not None:
            images.append(to_chw_tensor(sample[0]))
    return images


def images_for(
    checkpoint: Checkpoint, images_dir: str | None, split: str, count: int, source: str
) -> list[Tensor]:
    """``count`` images of ``images_dir``, or of the checkpoint's ``split`` when it is null."""
    if images_dir is None:
        return split_images(checkpoint, split, count, source)
    return load_images(images_dir, count)


def default_output(ckpt: str, suffix: str) -> Path:
    """``<run>/export/<checkpoint name><suffix>`` for a run's checkpoint, else beside it;
    ``outputs/export/<name><suffix>`` for a published one (``torchvision:<name>``)."""
    if is_published(ckpt):
        return Path("outputs") / "export" / f"{ckpt.split(':', 1)[1]}{suffix}"
    path = Path(ckpt)
    folder = path.resolve().parent
    run = folder.parent if folder.name == "checkpoints" else folder
    return run / "export" / f"{path.stem}{suffix}"


def variant_path(path: Path, precision: str) -> Path:
    return path if precision == "fp32" else path.with_name(f"{path.stem}.{precision}{path.suffix}")


def check(detector: DeployedDetector, checkpoint: Checkpoint, images: Sequence[Tensor]) -> str:
    """Compare an fp32 export with PyTorch on ``images``; a mismatch is an error."""
    report = compare_backends(detector, checkpoint.model, images)
    if not report.equal:
        raise ExportError(f"the exported model disagrees with PyTorch: {report}")
    return str(report)


def int8_report(
    fp32: DeployedDetector, int8: DeployedDetector, images: Sequence[Tensor], checkpoint: Checkpoint
) -> str:
    """int8 told honestly: its median time ÷ fp32's on these images (interleaved, this
    machine), and its AP against fp32's on the checkpoint's val split when it records one."""
    runners = {
        name: opaque_runner(ExportedPredictor(detector), images[:1])
        for name, detector in (("fp32", fp32), ("int8", int8))
    }
    latency = measure_runners(runners, warmup=3, runs=20)
    ratio = latency["int8"].total.median / latency["fp32"].total.median
    verdict = "faster" if ratio < 1 else "SLOWER than fp32 here: prefer fp32 on this CPU"
    line = (
        f"int8 {latency['int8'].total.median:.1f} ms vs fp32 {latency['fp32'].total.median:.1f} "
        f"ms per image: {ratio:.2f}× the time ({verdict})"
    )
    data = checkpoint.run_config.get("data")
    if data:
        dataset = build_dataset(data, "val", source="the checkpoint", stored=True)
        aps = {
            name: evaluate(ExportedPredictor(d), dataset, progress=False).compute()[0]["AP"]
            for name, d in (("fp32", fp32), ("int8", int8))
        }
        change = 100 * (aps["int8"] - aps["fp32"])
        line += (
            f"; AP on its val split ({len(dataset)} images) {aps['int8']:.4f} vs fp32 "
            f"{aps['fp32']:.4f} ({change:+.2f} points)"
        )
    return line


def run_export(cfg: DictConfig) -> list[Path]:
    """Write the export (and its int8/fp16 variants when asked); print what was checked."""
    if cfg.format not in FORMATS:
        raise ConfigError(f"unknown format {cfg.format!r}; choose one of {', '.join(FORMATS)}")
    tflite = cfg.format == "tflite"
    postprocess = (not tflite) if cfg.postprocess is None else cfg.postprocess
    if tflite and postprocess:
        raise ConfigError(
            "format=tflite holds the network alone (LiteRT's delegates run no NMS): "
            "postprocess=false, the numpy decoder does the rest"
        )
    variants = list(cfg.precisions) if tflite else ["fp32", *(["int8"] if cfg.int8 else [])]
    checkpoint = open_checkpoint(cfg.ckpt, HubConfig(**cfg.hub))
    # every input is read before anything is written
    images = calibration = []
    if cfg.check.count > 0:
        images = images_for(checkpoint, cfg.check.images_dir, "val", cfg.check.count, cfg.ckpt)
    if "int8" in variants and not tflite:
        calibration = images_for(
            checkpoint, cfg.calibration.images_dir, "train", cfg.calibration.count, cfg.ckpt
        )
    metadata = metadata_for(
        checkpoint.model,
        checkpoint.categories,
        checkpoint.model_config,
        checkpoint.run_config,
        "detections" if postprocess else "raw",
    )
    output = Path(cfg.output) if cfg.output else default_output(cfg.ckpt, FORMATS[cfg.format])
    written: list[Path] = []
    loaded: dict[str, DeployedDetector] = {}
    fp32: bytes | None = None  # a LiteRT fp32 file made here: the other variants quantise it
    for precision in variants:
        data, detector = build(checkpoint, metadata, cfg, precision, calibration, fp32)
        if tflite and precision == "fp32":
            fp32 = data
        path = write_model(data, variant_path(output, precision))
        written.append(path)
        loaded[precision] = detector
        size = len(data) / 1e6
        print(f"wrote {path} ({size:.1f} MB, {cfg.format}, {precision}, {metadata.outputs})")
        if images and precision == "fp32":
            print(f"checked against PyTorch: {check(detector, checkpoint, images)}")
        elif images:
            report = compare_backends(detector, checkpoint.model, images)
            print(f"{precision} against PyTorch (not expected to be equal): {report}")
    if "int8" in loaded and images:
        print(int8_report(loaded["fp32"], loaded["int8"], images, checkpoint))
    return written


def build(
    checkpoint: Checkpoint,
    metadata: ExportMetadata,
    cfg: DictConfig,
    precision: str,
    calibration: Sequence[Tensor],
    fp32: bytes | None = None,
) -> tuple[bytes, DeployedDetector]:
    """One variant's bytes, and its runtime loaded from them (a LiteRT variant quantises
    ``fp32``, the fp32 file already written, when given)."""
    if cfg.format == "tflite":
        from detect.export.litert import export_tflite  # the litert extra
        from detect.export.litert_runtime import LiteRTDetector

        data = export_tflite(checkpoint.model, metadata, precision, converted=fp32)
        return data, LiteRTDetector(data, cfg.threads)
    data = export_bytes(checkpoint.model, metadata, cfg.opset)
    if precision == "int8":
        arrays = [image.numpy() for image in calibration]
        data = quantize_int8(data, arrays, cfg.calibration.method)
    return data, OnnxDetector(data, cfg.threads)
