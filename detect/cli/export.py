"""tools/export.py: a checkpoint to ONNX (and int8), checked against PyTorch on the spot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig
from torch import Tensor

from detect.data.images import load_images, to_chw_tensor
from detect.data.registry import build_dataset
from detect.errors import ConfigError, DatasetError, ExportError
from detect.export.onnx import compare_backends, export_bytes, metadata_for, write_model
from detect.export.quantize import quantize_int8
from detect.export.runtime import OnnxDetector
from detect.weights.checkpoint import Checkpoint
from detect.weights.hub import HubConfig
from detect.weights.sources import is_published, open_checkpoint

FORMATS = ("onnx",)


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


def default_output(ckpt: str) -> Path:
    """``<run>/export/<checkpoint name>.onnx`` for a run's checkpoint, else beside it;
    ``outputs/export/<name>.onnx`` for a published one (``torchvision:<name>``)."""
    if is_published(ckpt):
        return Path("outputs") / "export" / f"{ckpt.split(':', 1)[1]}.onnx"
    path = Path(ckpt)
    folder = path.resolve().parent
    run = folder.parent if folder.name == "checkpoints" else folder
    return run / "export" / f"{path.stem}.onnx"


def int8_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.int8.onnx")


def check(detector: OnnxDetector, checkpoint: Checkpoint, images: Sequence[Tensor]) -> str:
    """Compare the export with PyTorch on ``images``; a mismatch is an error."""
    report = compare_backends(detector, checkpoint.model, images)
    if not report.equal:
        raise ExportError(f"the exported model disagrees with PyTorch: {report}")
    return str(report)


def run_export(cfg: DictConfig) -> list[Path]:
    """Write the fp32 model (and the int8 one when asked); print what was checked."""
    if cfg.format not in FORMATS:
        raise ConfigError(f"unknown format {cfg.format!r}; choose one of {', '.join(FORMATS)}")
    checkpoint = open_checkpoint(cfg.ckpt, HubConfig(**cfg.hub))
    # every input is read before anything is written
    images = calibration = []
    if cfg.check.count > 0:
        images = images_for(checkpoint, cfg.check.images_dir, "val", cfg.check.count, cfg.ckpt)
    if cfg.int8:
        calibration = images_for(
            checkpoint, cfg.calibration.images_dir, "train", cfg.calibration.count, cfg.ckpt
        )
    metadata = metadata_for(
        checkpoint.model, checkpoint.categories, checkpoint.model_config, checkpoint.run_config
    )
    fp32 = export_bytes(checkpoint.model, metadata, cfg.opset)
    output = Path(cfg.output) if cfg.output else default_output(cfg.ckpt)
    written = [write_model(fp32, output)]
    print(f"wrote {output} ({len(fp32) / 1e6:.1f} MB, opset {cfg.opset}, fp32)")
    if images:
        detector = OnnxDetector(fp32, cfg.threads)
        print(f"checked against PyTorch: {check(detector, checkpoint, images)}")
    if cfg.int8:
        int8 = quantize_int8(fp32, [image.numpy() for image in calibration], cfg.calibration.method)
        written.append(write_model(int8, int8_path(output)))
        print(
            f"wrote {written[-1]} ({len(int8) / 1e6:.1f} MB, int8, calibrated on "
            f"{len(calibration)} images, {cfg.calibration.method}); measure its mAP with "
            f"tools/eval.py ckpt={written[-1]} backend=onnxruntime"
        )
    return written
