"""Tiny training configs (a small shapes set, a small model): a run takes seconds."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

PROJECT = Path(__file__).resolve().parents[2]
CONF_DIR = PROJECT / "conf"
TRAIN_TOOL = PROJECT / "tools" / "train.py"
EVAL_TOOL = PROJECT / "tools" / "eval.py"
TINY_SHAPES = {"num_train": 24, "num_val": 9, "image_size": 96, "seed": 0}


def tiny_overrides(shapes: Path, runs: Path) -> list[str]:
    """Overrides that make the default recipe a seconds-long CPU run on ``tiny_shapes``."""
    generation = [f"data.generation.{key}={value}" for key, value in TINY_SHAPES.items()]
    return [
        f"data.root={shapes}",
        *generation,
        f"runs_dir={runs}",
        "model.size=96",
        "backbone.width_mult=0.25",
        "loader.batch_size=8",
        "loader.val_batch_size=4",
        "loader.num_workers=0",
        "trainer.max_epochs=2",
        "trainer.check_val_every_n_epoch=1",
        "trainer.log_every_n_steps=1",
        "trainer.enable_progress_bar=false",
        "schedule.warmup_epochs=0.5",
        "optimizer.lr=0.01",
    ]


def compose_train(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=overrides)
