"""Checkpoints for evaluation tests, written the way training writes them (untrained weights)."""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from detect.training.module import DetectionModule

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
SHAPES = {"num_train": 8, "num_val": 6, "image_size": 96, "seed": 0}


def make_checkpoint(
    path: Path, shapes_root: Path, backbone: str = "v3_small", width: float = 0.25
) -> Path:
    """A detect checkpoint of an untrained SSDLite (96 px) whose run config names the tiny
    shapes set at ``shapes_root``."""
    overrides = [
        f"backbone={backbone}",
        f"backbone.width_mult={width}",
        "model.size=96",
        f"data.root={shapes_root}",
        *(f"data.generation.{key}={value}" for key, value in SHAPES.items()),
    ]
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    categories = instantiate(cfg.data.val).categories
    module = DetectionModule(
        OmegaConf.to_container(cfg.model, resolve=True),
        categories,
        optimizer=functools.partial(torch.optim.SGD, lr=0.1),
        run_config=OmegaConf.to_container(cfg, resolve=True),
    )
    checkpoint = {"state_dict": module.state_dict(), "epoch": 0, "global_step": 0}
    module.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    return path
