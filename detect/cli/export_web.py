"""``detect export format=web``: the page's folder — the whole graph exported and checked against
PyTorch as ``format=onnx`` writes it, then the page and ONNX Runtime Web's files beside it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig

from detect.cli.export_source import open_for_export
from detect.cli.writable import check_output_folder
from detect.errors import ConfigError
from detect.evaluation.checked_export import checkpoint_images, default_output, export_model
from detect.export.runtime import OnnxDetector
from detect.export.variants import plan_export
from detect.export.web import MODEL, write_web
from detect.export.web_runtime import runtime_files
from detect.inference.export_cache import default_cache_dir

log = logging.getLogger(__name__)


def export_web(cfg: DictConfig, say: Callable[[str], None] = log.info) -> Path:
    """Write the folder (``output``, else ``<run>/export/<checkpoint name>_web``); returns it.
    ONNX Runtime Web's files are found (cache, ``web.package`` or the registry) before anything
    is exported, so an offline first export fails at once."""
    if cfg.postprocess is False or cfg.int8:
        raise ConfigError("format=web runs the whole fp32 graph in the page: drop postprocess/int8")
    folder = Path(cfg.output) if cfg.output else default_output(cfg.ckpt, "_web")
    check_output_folder(folder, "output" if cfg.output else "output (its default)")
    web = cfg.web
    runtime = runtime_files(web.cache_dir or default_cache_dir(), web.package, web.registry)
    checkpoint = open_for_export(cfg)
    images = []
    if cfg.check.count > 0:
        images = checkpoint_images(
            checkpoint, cfg.check.images_dir, "val", cfg.check.count, cfg.ckpt, say
        )
    [onnx] = export_model(
        checkpoint,
        plan_export("onnx", ["fp32"], True),
        folder / MODEL,
        check_images=images,
        opset=cfg.opset,
        threads=cfg.threads,
        say=say,
    )
    write_web(folder, onnx.read_bytes(), OnnxDetector(onnx).metadata, runtime)
    say(
        f"wrote {folder}/ (the page, ONNX Runtime Web from {runtime}); serve it with "
        f"detect serve-web folder={folder}"
    )
    return folder
