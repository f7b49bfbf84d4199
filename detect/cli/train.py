"""tools/train.py: a composed training config → data, module, callbacks, loggers and a Trainer."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_info
from omegaconf import DictConfig, OmegaConf

from detect.cli.checks import check_train_config
from detect.data.datamodule import DetectionDataModule
from detect.data.registry import absolute_paths, build_dataset
from detect.data.transforms import build_transforms
from detect.errors import ConfigError, DatasetError
from detect.training.checkpoint_io import AtomicCheckpointIO
from detect.training.console import quiet_lightning_tips
from detect.training.module import DetectionModule
from detect.training.optim import ScheduleConfig
from detect.weights.checkpoint import CHECKPOINT_KEY, read_checkpoint

log = logging.getLogger(__name__)

# Lightning 2.6's pytree helper trips torch ≥ 2.10's LeafSpec deprecation on every run: noise.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")

LAST = "last.ckpt"


def resume_checkpoint(cfg: DictConfig) -> str | None:
    """The checkpoint to continue from: ``ckpt_path``, or ``last.ckpt`` when ``resume``."""
    if cfg.ckpt_path:
        return str(cfg.ckpt_path)
    if not cfg.resume:
        return None
    last = Path(cfg.paths.run_dir) / "checkpoints" / LAST
    if not last.is_file():
        runs = sorted(
            Path(cfg.runs_dir).glob(f"*/checkpoints/{LAST}"), key=lambda p: p.stat().st_mtime
        )
        hint = f"; the newest is run_name={runs[-1].parent.parent.name}" if runs else ""
        raise ConfigError(
            f"resume=true but {last} does not exist: pass the run_name of the run to continue "
            f"(its directory under {cfg.runs_dir}/){hint}, or ckpt_path=<file>"
        )
    return str(last)


def check_resume(cfg: DictConfig, ckpt_path: str) -> dict[str, Any]:
    """Read the checkpoint (refused by name if it is not a plain detect checkpoint) and refuse a
    schedule it cannot continue, before any data is read. Returns the raw checkpoint."""
    raw = read_checkpoint(ckpt_path)
    stored = raw[CHECKPOINT_KEY].get("run_config", {})
    for key in ("trainer.max_epochs", "loader.batch_size"):
        then = OmegaConf.select(OmegaConf.create(stored), key)
        now = OmegaConf.select(cfg, key)
        if then is not None and then != now:
            raise ConfigError(
                f"{ckpt_path} was trained with {key}={then}, this config has {now}: resume with "
                "the same trainer.max_epochs and loader.batch_size (or start a new run)"
            )
    return raw


def check_not_a_ddp_sweep(cfg: DictConfig) -> None:
    """Lightning's DDP launcher re-runs the command line, so under ``-m`` every process would
    restart the whole sweep."""
    sweeping = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    if sweeping and cfg.trainer.get("strategy") == "ddp" and cfg.trainer.devices != 1:
        raise ConfigError(
            "a sweep (-m) with trainer=ddp is not supported: run one job per command, or start "
            "the processes with torchrun/srun (see README)"
        )


def datasets(cfg: DictConfig) -> DetectionDataModule:
    """Train set with the augmentation preset ending at the model's size; val set untouched
    (the model resizes it, and detections come back in original pixels for COCO eval)."""
    data = OmegaConf.to_container(cfg.data, resolve=True)
    train = build_dataset(data, "train", transforms=build_transforms(cfg.augment, cfg.model.size))
    val = build_dataset(data, "val")
    if train.categories != val.categories:
        raise DatasetError(
            f"train and val sets have different categories ({train.categories.names} vs "
            f"{val.categories.names}); they must share one annotation category list"
        )
    return DetectionDataModule(train, val, **cfg.loader, seed=cfg.seed)


def instantiate_each(group: DictConfig | None) -> list[Any]:
    """The objects of a callbacks/logger group, in order; entries set to null are left out."""
    return [instantiate(node) for node in (group or {}).values() if node is not None]


def run_config(cfg: DictConfig) -> dict[str, Any]:
    """What checkpoints record of this run: the resolved config with absolute data paths (so
    they evaluate from any directory) and the config-group choices made."""
    config = OmegaConf.to_container(cfg, resolve=True)
    config["data"] = absolute_paths(config["data"])
    if HydraConfig.initialized():
        config["choices"] = dict(HydraConfig.get().runtime.choices)
    return config


@dataclass
class TrainingRun:
    """Everything ``trainer.fit`` needs, built from one config."""

    trainer: L.Trainer
    module: DetectionModule
    datamodule: DetectionDataModule
    run_dir: Path
    ckpt_path: str | None


def build(cfg: DictConfig) -> TrainingRun:
    """Check the config and the resume point (before any data is read), then build data,
    module, callbacks, loggers and Trainer."""
    check_train_config(cfg)
    check_not_a_ddp_sweep(cfg)
    ckpt_path = resume_checkpoint(cfg)
    if ckpt_path:
        raw = check_resume(cfg, ckpt_path)
        rank_zero_info(
            f"resuming from {ckpt_path} (epoch {raw['epoch']}, global step {raw['global_step']})"
        )
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = datasets(cfg)
    module = DetectionModule(
        model_config=OmegaConf.to_container(cfg.model, resolve=True),
        categories=datamodule.train_dataset.categories,
        optimizer=instantiate(cfg.optimizer),
        schedule=ScheduleConfig(**cfg.schedule),
        on_nonfinite_loss=cfg.on_nonfinite_loss,
        run_config=run_config(cfg),
    )
    run_dir = Path(cfg.paths.run_dir)
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=instantiate_each(cfg.callbacks),
        logger=instantiate_each(cfg.logger) or False,
        default_root_dir=run_dir,
        plugins=[AtomicCheckpointIO()],
    )
    return TrainingRun(trainer, module, datamodule, run_dir, ckpt_path)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit; returns the last validation metrics. Everything lands in the run directory."""
    quiet_lightning_tips()
    run = build(cfg)
    rank_zero_info(f"run directory: {run.run_dir.resolve()}")
    run.trainer.fit(
        run.module, datamodule=run.datamodule, ckpt_path=run.ckpt_path, weights_only=True
    )
    metrics = {
        name: float(value)
        for name, value in run.trainer.callback_metrics.items()
        if name.startswith("val/")
    }
    if run.module.last_summary:
        rank_zero_info(f"last validation (COCO, pycocotools):\n{run.module.last_summary}")
    best = run.trainer.checkpoint_callback
    rank_zero_info(
        f"done: {summarise(metrics)}\nbest checkpoint: {best.best_model_path if best else None}"
        f"\nrun directory: {run.run_dir.resolve()}"
    )
    return metrics


def summarise(metrics: dict[str, Any]) -> str:
    names = ("val/AP", "val/AP50", "val/AP75")
    return ", ".join(f"{n.removeprefix('val/')} {metrics[n]:.3f}" for n in names if n in metrics)
