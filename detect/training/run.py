"""Wire a composed training config into data, module, callbacks, loggers and a Trainer."""

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
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_info
from omegaconf import DictConfig, OmegaConf

from detect.data.coco import DatasetError
from detect.data.datamodule import DetectionDataModule
from detect.data.transforms import build_transforms
from detect.training.callbacks import LastCheckpoint, ValidateLastEpoch
from detect.training.checkpoint import AtomicCheckpointIO, read_checkpoint
from detect.training.ema import EMA
from detect.training.module import DetectionModule
from detect.training.optim import ScheduleConfig

log = logging.getLogger(__name__)

# Lightning 2.6's pytree helper trips torch ≥ 2.10's LeafSpec deprecation on every run: noise.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")

LAST = "last.ckpt"


def run_directory(cfg: DictConfig) -> Path:
    """The Hydra output directory of this run (shared by all ranks: Lightning passes it on to
    the processes it launches); ``runs_dir/run_name`` when composed without ``@hydra.main``."""
    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return Path(cfg.runs_dir) / cfg.run_name


def resume_checkpoint(cfg: DictConfig, checkpoint_dir: Path) -> str | None:
    """The checkpoint to continue from: ``ckpt_path``, or ``last.ckpt`` when ``resume``."""
    if cfg.ckpt_path:
        return str(cfg.ckpt_path)
    if not cfg.resume:
        return None
    last = checkpoint_dir / LAST
    if not last.is_file():
        runs = sorted(
            Path(cfg.runs_dir).glob(f"*/checkpoints/{LAST}"), key=lambda p: p.stat().st_mtime
        )
        hint = f"; the newest is run_name={runs[-1].parent.parent.name}" if runs else ""
        raise FileNotFoundError(
            f"resume=true but {last} does not exist: pass the run_name of the run to continue "
            f"(its directory under {cfg.runs_dir}/){hint}, or ckpt_path=<file>"
        )
    return str(last)


def check_not_a_ddp_sweep(cfg: DictConfig) -> None:
    """Lightning's DDP launcher re-runs the command line, so under ``-m`` every process would
    restart the whole sweep."""
    sweeping = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    if sweeping and cfg.trainer.get("strategy") == "ddp" and cfg.trainer.devices != 1:
        raise ValueError(
            "a sweep (-m) with trainer=ddp is not supported: run one job per command, or start "
            "the processes with torchrun/srun (see README)"
        )


def datasets(cfg: DictConfig) -> DetectionDataModule:
    """Train set with the augmentation preset ending at the model's size; val set untouched
    (the model resizes it, and detections come back in original pixels for COCO eval)."""
    train = instantiate(cfg.data.train, transforms=build_transforms(cfg.augment, cfg.model.size))
    val = instantiate(cfg.data.val)
    if train.categories != val.categories:
        raise DatasetError(
            f"train and val sets have different categories ({train.categories.names} vs "
            f"{val.categories.names}); they must share one annotation category list"
        )
    return DetectionDataModule(train, val, **cfg.loader, seed=cfg.seed)


def callbacks(cfg: DictConfig, checkpoint_dir: Path) -> list[Callback]:
    """Best-by-mAP checkpoint, an always-fresh last.ckpt, a final validation, LR monitor, and
    EMA when enabled (after LastCheckpoint: see there)."""
    best = ModelCheckpoint(
        dirpath=checkpoint_dir,
        filename="best-epoch{epoch:03d}",
        monitor=cfg.checkpoint.monitor,
        mode="max",
        save_top_k=1,
        auto_insert_metric_name=False,
    )
    chosen: list[Callback] = [
        best,
        LastCheckpoint(checkpoint_dir / LAST, cfg.checkpoint.every_n_train_steps),
        ValidateLastEpoch(),
        LearningRateMonitor(logging_interval="step"),
    ]
    if cfg.ema.enabled:
        chosen.append(EMA(cfg.ema.decay, cfg.ema.warmup_updates))
    return chosen


@dataclass
class TrainingRun:
    """Everything ``trainer.fit`` needs, built from one config."""

    trainer: L.Trainer
    module: DetectionModule
    datamodule: DetectionDataModule
    run_dir: Path
    ckpt_path: str | None


def build(cfg: DictConfig) -> TrainingRun:
    """Data, module, callbacks, loggers and Trainer for ``cfg``; checks the resume point."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    L.seed_everything(cfg.seed, workers=True)
    check_not_a_ddp_sweep(cfg)
    cfg.data.root = str(Path(cfg.data.root).absolute())  # checkpoints work from any directory
    run_dir = run_directory(cfg)
    checkpoint_dir = run_dir / "checkpoints"
    ckpt_path = resume_checkpoint(cfg, checkpoint_dir)
    datamodule = datasets(cfg)
    module = DetectionModule(
        model_config=OmegaConf.to_container(cfg.model, resolve=True),
        categories=datamodule.train_dataset.categories,
        optimizer=instantiate(cfg.optimizer),
        schedule=ScheduleConfig(**cfg.schedule),
        on_nonfinite_loss=cfg.on_nonfinite_loss,
        run_config=OmegaConf.to_container(cfg, resolve=True),
    )
    loggers = [
        CSVLogger(run_dir, name="logs"),
        TensorBoardLogger(run_dir, name="tensorboard", default_hp_metric=False),
    ]
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=callbacks(cfg, checkpoint_dir),
        logger=loggers,
        default_root_dir=run_dir,
        plugins=[AtomicCheckpointIO()],
    )
    return TrainingRun(trainer, module, datamodule, run_dir, ckpt_path)


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit; returns the last validation metrics. Everything lands in the run directory."""
    run = build(cfg)
    rank_zero_info(f"run directory: {run.run_dir.resolve()}")
    if run.ckpt_path:
        raw = read_checkpoint(run.ckpt_path)
        rank_zero_info(
            f"resuming from {run.ckpt_path} (epoch {raw['epoch']}, "
            f"global step {raw['global_step']})"
        )
    run.trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=run.ckpt_path)
    metrics = {
        name: float(value)
        for name, value in run.trainer.callback_metrics.items()
        if name.startswith("val/")
    }
    best = run.trainer.checkpoint_callback
    rank_zero_info(
        f"done: {summarise(metrics)}\nbest checkpoint: {best.best_model_path if best else None}"
        f"\nrun directory: {run.run_dir.resolve()}"
    )
    return metrics


def summarise(metrics: dict[str, Any]) -> str:
    names = ("val/AP", "val/AP50", "val/AP75")
    return ", ".join(f"{n.removeprefix('val/')} {metrics[n]:.3f}" for n in names if n in metrics)
