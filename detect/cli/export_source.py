"""The checkpoint an export reads (``detect export`` and its web folder alike), with the export's
own score threshold and detections per image."""

from __future__ import annotations

from dataclasses import replace

from omegaconf import DictConfig

from detect.errors import ConfigError
from detect.weights.checkpoint import Checkpoint
from detect.weights.hub import HubConfig
from detect.weights.sources import open_checkpoint


def open_for_export(cfg: DictConfig) -> Checkpoint:
    """``cfg.ckpt`` opened, its postprocess settings replaced by the export's ``score_thresh``
    and ``max_detections`` where set: the exported graph (or the raw heads' decoder) keeps only
    those detections, and the on-the-spot check compares PyTorch at the same settings."""
    changes: dict[str, float | int] = {}
    if cfg.score_thresh is not None:
        if not 0 <= cfg.score_thresh < 1:
            raise ConfigError(f"score_thresh={cfg.score_thresh}: a score threshold is in [0, 1)")
        changes["score_thresh"] = float(cfg.score_thresh)
    if cfg.max_detections is not None:
        if cfg.max_detections < 1:
            raise ConfigError(f"max_detections={cfg.max_detections}: keep at least 1 (or null)")
        changes["detections_per_image"] = int(cfg.max_detections)
    checkpoint = open_checkpoint(cfg.ckpt, HubConfig(**cfg.hub))
    model = checkpoint.model
    model.postprocess_config = replace(model.postprocess_config, **changes)
    return checkpoint
