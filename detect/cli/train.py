"""tools/train.py: a composed training config → data, module, callbacks, loggers and a Trainer."""

from __future__ import annotations

import logging
import os
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
from detect.training.speed import SpeedConfig
from detect.weights.checkpoint import CHECKPOINT_KEY, read_checkpoint
from detect.weights.hub import HubConfig
from detect.weights.sources import open_checkpoint
from detect.weights.torchvision import load_backbone
from detect.weights.transfer import plan_head, transfer_config, transfer_weights

log = logging.getLogger(__name__)

# Lightning 2.6's pytree helper trips torch ≥ 2.10's LeafSpec deprecation on every run: noise.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")

LAST = "last.ckpt"


def launched_rank() -> int:
    """This process's global rank when torchrun (``RANK``) or srun (``SLURM_PROCID``) started
    it; 0 for a process started on its own (Lightning's launcher names its children itself)."""
    return int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", 0)))


def process_job_name(name: str) -> str:
    """Hydra's job name (and log file ``<name>.log``): rank > 0 logs beside rank 0 as
    ``<name>_ddp_process_<rank>.log``, as under Lightning's own launcher."""
    rank = launched_rank()
    return name if rank == 0 else f"{name}_ddp_process_{rank}"


def process_output_subdir(subdir: str) -> str | None:
    """Where Hydra saves the composed config: rank 0's ``.hydra/`` only (null: not saved)."""
    return subdir if launched_rank() == 0 else None


# conf/train.yaml's hydra node: one run directory shared by every process torchrun/srun starts
OmegaConf.register_new_resolver("process_job_name", process_job_name, replace=True)
OmegaConf.register_new_resolver("process_output_subdir", process_output_subdir, replace=True)


def resume_checkpoint(cfg: DictConfig) -> str | None:
    """The checkpoint to continue from: ``ckpt_path``; else with ``resume=true`` the run's
    ``last.ckpt`` (refused by name when it is missing); with ``resume=auto`` that file when it
    exists and a fresh start when not (what an elastic restart needs: the same command starts
    the run and continues it)."""
    if cfg.ckpt_path:
        return str(cfg.ckpt_path)
    if not (isinstance(cfg.resume, bool) or cfg.resume == "auto"):
        raise ConfigError(
            f"resume={cfg.resume}: choose true (continue run_name), false (a fresh run) or "
            "auto (continue run_name if it has a last.ckpt, else start it)"
        )
    last = Path(cfg.paths.run_dir) / "checkpoints" / LAST
    if cfg.resume is False or (cfg.resume == "auto" and not last.is_file()):
        return None
    if not last.is_file():
        runs = sorted(
            Path(cfg.runs_dir).glob(f"*/checkpoints/{LAST}"), key=lambda p: p.stat().st_mtime
        )
        hint = f"; the newest is run_name={runs[-1].parent.parent.name}" if runs else ""
        raise ConfigError(
            f"resume=true but {last} does not exist: pass the run_name of the run to continue "
            f"(its directory under {cfg.runs_dir}/){hint}, resume=auto to start it when it has "
            "none, or ckpt_path=<file>"
        )
    return str(last)


def check_resume(cfg: DictConfig, ckpt_path: str) -> dict[str, Any]:
    """Read the checkpoint (refused by name if it is not a plain detect checkpoint) and refuse a
    schedule it cannot continue, before any data is read: another batch size (an epoch would
    change its steps), or fewer epochs than it has already run. More epochs extend the run
    (the schedule is re-planned from the current step). Returns the raw checkpoint."""
    raw = read_checkpoint(ckpt_path)
    meta = raw[CHECKPOINT_KEY]
    stored = meta.get("run_config", {})
    then_batch = stored.get("loader", {}).get("batch_size")
    if then_batch is not None and then_batch != cfg.loader.batch_size:
        raise ConfigError(
            f"{ckpt_path} was trained with loader.batch_size={then_batch}, this config has "
            f"{cfg.loader.batch_size}: resume with the same batch size (or start a new run)"
        )
    then_epochs = stored.get("trainer", {}).get("max_epochs")
    steps, total = int(raw.get("global_step", 0)), meta.get("total_steps")
    now_epochs = cfg.trainer.get("max_epochs")
    if then_epochs and total and now_epochs and now_epochs > 0:
        planned = total * now_epochs // then_epochs
        if planned < steps:
            raise ConfigError(
                f"{ckpt_path} is at step {steps} (epoch {raw.get('epoch', 0)}); "
                f"trainer.max_epochs={now_epochs} plans only {planned} steps: resume with at "
                f"least {-(-steps * then_epochs // total)} epochs (or start a new run)"
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


def check_shared_run_name(cfg: DictConfig) -> None:
    """Under torchrun or srun every process composes its own config: the default run_name (a
    timestamp) could differ by a second between them, giving each its own run directory."""
    launched = "TORCHELASTIC_RUN_ID" in os.environ or int(os.environ.get("SLURM_NTASKS", 1)) > 1
    if not (launched and HydraConfig.initialized()):
        return
    given = {o.split("=", 1)[0].lstrip("+~") for o in HydraConfig.get().overrides.task}
    if "run_name" not in given:
        raise ConfigError(
            "started by torchrun/srun without run_name=…: every process (on every node) must "
            "name the same run, e.g. run_name=my_run (SLURM: run_name=$SLURM_JOB_ID)"
        )


def datasets(cfg: DictConfig, size: int) -> DetectionDataModule:
    """Train set with the augmentation preset ending at the model's ``size``; val set untouched
    (the model resizes it, and detections come back in original pixels for COCO eval)."""
    data = OmegaConf.to_container(cfg.data, resolve=True)
    train = build_dataset(data, "train", transforms=build_transforms(cfg.augment, size))
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
    """Check the config, the resume point and the weights to start from (before any data is
    read), then build data, module (with its starting weights), callbacks, loggers, Trainer."""
    quiet_lightning_tips()
    check_train_config(cfg)
    check_not_a_ddp_sweep(cfg)
    check_shared_run_name(cfg)
    hub = HubConfig(**cfg.hub)
    ckpt_path = resume_checkpoint(cfg)
    model_config = OmegaConf.to_container(cfg.model, resolve=True)
    source = None
    if ckpt_path:
        raw = check_resume(cfg, ckpt_path)
        model_config = raw[CHECKPOINT_KEY]["model"]  # exactly the network being continued
        rank_zero_info(
            f"resuming from {ckpt_path} (epoch {raw['epoch']}, global step {raw['global_step']})"
        )
    elif cfg.init_from:
        source = open_checkpoint(cfg.init_from, hub)
        if cfg.finetune.architecture == "source":
            model_config = source.model_config
        elif cfg.finetune.architecture != "config":
            raise ConfigError(
                f"finetune.architecture={cfg.finetune.architecture}: choose source or config"
            )
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = datasets(cfg, model_config["size"])
    categories = datamodule.train_dataset.categories
    plan = None
    if source is not None:
        plan = plan_head(source, categories, cfg.finetune.fold_unmatched)
        model_config = transfer_config(model_config, plan)
    module = DetectionModule(
        model_config=model_config,
        categories=categories,
        optimizer=instantiate(cfg.optimizer),
        schedule=ScheduleConfig(**cfg.schedule),
        on_nonfinite_loss=cfg.on_nonfinite_loss,
        run_config=run_config(cfg),
        backbone_lr_mult=cfg.finetune.backbone_lr_mult,
        speed=SpeedConfig(**cfg.speed),
    )
    if source is not None:
        rank_zero_info(transfer_weights(source, module.model, plan, cfg.init_from).summary())
    elif not ckpt_path and model_config["backbone"].get("pretrained"):
        backbone = model_config["backbone"]
        load_backbone(module.model, backbone["name"], backbone["pretrained"], hub)
        rank_zero_info(f"backbone: {backbone['name']} ImageNet weights ({backbone['pretrained']})")
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


def run_train(cfg: DictConfig) -> float | None:
    """``detect train``: fit; returns the monitored metric so Hydra sweepers can optimise it."""
    return train(cfg).get(cfg.callbacks.best_checkpoint.monitor)
