"""Checkpoints written the way training writes them (untrained weights), for tests that need
one without training."""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from omegaconf import OmegaConf

from detect.cli.train import run_config
from detect.data.registry import build_dataset
from detect.training.module import DetectionModule
from support.configs import compose_config

SHAPES = {"num_train": 8, "num_val": 6, "image_size": 96, "seed": 0}


def make_checkpoint(
    path: Path, shapes_root: Path, backbone: str = "v3_small", width: float = 0.25
) -> Path:
    """A detect checkpoint of an untrained SSDLite (96 px) whose run config names the tiny
    shapes set at ``shapes_root`` (generated here)."""
    overrides = [
        f"backbone={backbone}",
        f"backbone.width_mult={width}",
        "model.size=96",
        f"data.root={shapes_root}",
        *(f"data.generation.{key}={value}" for key, value in SHAPES.items()),
    ]
    cfg = compose_config("train", overrides)
    categories = build_dataset(OmegaConf.to_container(cfg.data, resolve=True), "val").categories
    module = DetectionModule(
        OmegaConf.to_container(cfg.model, resolve=True),
        categories,
        optimizer=functools.partial(torch.optim.SGD, lr=0.1),
        run_config=run_config(cfg),
    )
    checkpoint = {"state_dict": module.state_dict(), "epoch": 0, "global_step": 0}
    module.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return path


def make_trained_like_checkpoint(
    path: Path, shapes_root: Path, images: list, backbone: str = "v3_small", width: float = 0.25
) -> Path:
    """:func:`make_checkpoint` with trained-like weights (:func:`support.models.
    well_conditioned` on real ``images``): a few confident detections per image, as a trained
    model gives, so that exports and backends have something to agree on."""
    from detect.weights.checkpoint import MODEL_PREFIX, load_checkpoint
    from support.models import well_conditioned

    make_checkpoint(path, shapes_root, backbone, width)
    model = well_conditioned(load_checkpoint(path).model, images)
    raw = torch.load(path, weights_only=True)
    raw["state_dict"] = {MODEL_PREFIX + k: v for k, v in model.state_dict().items()}
    torch.save(raw, path)
    return path
