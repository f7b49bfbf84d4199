"""tools/export.py: a checkpoint to ONNX (and int8) or LiteRT (fp32, fp16, int8), checked
against PyTorch on the spot; an int8 model is reported with its speed and AP beside fp32's."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig
from torch import Tensor

from detect.cli.export_source import open_for_export
from detect.cli.writable import check_output_file
from detect.evaluation.checked_export import checkpoint_images, default_output, export_model
from detect.export.variants import plan_export

log = logging.getLogger(__name__)


def run_export(cfg: DictConfig) -> list[Path]:
    """``detect export``: write the export (and its int8/fp16 variants when asked); print what
    was written and checked."""
    return export_paths(cfg, say=print)


def export_paths(cfg: DictConfig, say: Callable[[str], None] = log.info) -> list[Path]:
    """The export ``cfg`` asks for, written and checked (see
    :func:`~detect.evaluation.checked_export.export_model`); ``say`` gets the report's lines.
    Returns the paths written."""
    if cfg.format == "web":  # a folder: the checked whole graph, the page, ONNX Runtime Web
        from detect.cli.export_web import export_web

        return [export_web(cfg, say)]
    plan = plan_export(cfg.format, precisions(cfg), cfg.postprocess)
    output = Path(cfg.output) if cfg.output else default_output(cfg.ckpt, plan.suffix)
    check_output_file(output, "output" if cfg.output else "output (its default)", plan.suffix)
    checkpoint = open_for_export(cfg)
    # every input is read before anything is written
    images: list[Tensor] = []
    calibration: list[Tensor] = []
    if cfg.check.count > 0:
        images = checkpoint_images(
            checkpoint, cfg.check.images_dir, "val", cfg.check.count, cfg.ckpt, say
        )
    if plan.calibrated:
        calibration = checkpoint_images(
            checkpoint, cfg.calibration.images_dir, "train", cfg.calibration.count, cfg.ckpt, say
        )
    return export_model(
        checkpoint,
        plan,
        output,
        check_images=images,
        calibration=calibration,
        calibration_method=cfg.calibration.method,
        opset=cfg.opset,
        threads=cfg.threads,
        say=say,
    )


def precisions(cfg: DictConfig) -> list[str]:
    """tflite, ncnn: the ``precisions`` listed; onnx: fp32, and int8 beside it with ``int8=true``;
    openvino: either way (fp32 first)."""
    if cfg.format in ("tflite", "ncnn"):
        return list(cfg.precisions)
    if cfg.format == "openvino" and "int8" in cfg.precisions:
        return ["fp32", "int8"]
    return ["fp32", *(["int8"] if cfg.int8 else [])]
