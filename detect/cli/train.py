"""tools/train.py: a composed training config → data, module, callbacks, loggers and a Trainer."""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from detect.cli.checks import check_train_config
from detect.cli.resolvers import launched_rank
from detect.cli.writable import check_writable
from detect.data.registry import absolute_paths
from detect.errors import ConfigError
from detect.training.checkpoint_io import AtomicCheckpointIO
from detect.training.console import quiet_lightning_tips
from detect.training.data import train_val_data
from detect.training.module import DetectionModule
from detect.training.optim import ScheduleConfig
from detect.training.resume import resume_checkpoint
from detect.training.run import TrainingRun, fit
from detect.training.speed import SpeedConfig
from detect.training.start import for_categories, load_start_weights, plan_start
from detect.weights.hub import HubConfig

log = logging.getLogger(__name__)

# Lightning 2.6's pytree helper trips torch ≥ 2.10's LeafSpec deprecation on every run: noise.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)")


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


ARCHITECTURE_KEYS = ("backbone", "model.size", "model.head", "head")  # and their sub-keys


def note_kept_architecture(cfg: DictConfig, model_config: dict[str, Any]) -> None:
    """With ``init_from`` and ``finetune.architecture=source`` the network is the source's:
    say so when the command line asked for another one (``backbone=v2``, ``model.size=…``),
    which would otherwise be ignored without a word."""
    if not (cfg.init_from and cfg.finetune.architecture == "source"):
        return
    if not HydraConfig.initialized():
        return
    given = {o.split("=", 1)[0].lstrip("+~") for o in HydraConfig.get().overrides.task}
    asked = sorted(
        key for key in given if any(key == k or key.startswith(k + ".") for k in ARCHITECTURE_KEYS)
    )
    if asked:
        backbone = model_config["backbone"]
        log.warning(
            "init_from=%s: the network trained is the source's (%s ×%s, %s px), so %s on the "
            "command line is ignored; set finetune.architecture=config to train the config's "
            "network, starting from the source's weights where they fit",
            cfg.init_from,
            backbone["name"],
            backbone["width_mult"],
            model_config["size"],
            ", ".join(asked),
        )


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


def build(cfg: DictConfig) -> TrainingRun:
    """Check the config, the resume point and the weights to start from (before any data is
    read), then build data, module (with its starting weights), callbacks, loggers, Trainer."""
    quiet_lightning_tips()
    check_train_config(cfg)
    check_not_a_ddp_sweep(cfg)
    check_shared_run_name(cfg)
    hub = HubConfig(**cfg.hub)
    run_dir = Path(cfg.paths.run_dir)
    check_writable(run_dir / "checkpoints", "runs_dir")  # before the first epoch, not after
    start = plan_start(
        OmegaConf.to_container(cfg.model, resolve=True),
        batch_size=cfg.loader.batch_size,
        max_epochs=cfg.trainer.get("max_epochs"),
        resume_from=resume_checkpoint(run_dir, cfg.runs_dir, cfg.resume, cfg.ckpt_path),
        init_from=cfg.init_from,
        architecture=cfg.finetune.architecture,
        hub=hub,
    )
    note_kept_architecture(cfg, start.model_config)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    datamodule = train_val_data(
        OmegaConf.to_container(cfg.data, resolve=True),
        cfg.augment,
        start.model_config["size"],
        seed=cfg.seed,
        **cfg.loader,
    )
    start = for_categories(start, datamodule.train_dataset.categories, cfg.finetune.fold_unmatched)
    module = DetectionModule(
        model_config=start.model_config,
        categories=datamodule.train_dataset.categories,
        optimizer=instantiate(cfg.optimizer),
        schedule=ScheduleConfig(**cfg.schedule),
        on_nonfinite_loss=cfg.on_nonfinite_loss,
        run_config=run_config(cfg),
        backbone_lr_mult=cfg.finetune.backbone_lr_mult,
        speed=SpeedConfig(**cfg.speed),
    )
    load_start_weights(start, module.model, hub)
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=instantiate_each(cfg.callbacks),
        logger=instantiate_each(cfg.logger) or False,
        default_root_dir=run_dir,
        plugins=[AtomicCheckpointIO()],
    )
    return TrainingRun(trainer, module, datamodule, run_dir, start.resume_from)


def train(cfg: DictConfig) -> dict[str, float]:
    """Build the run ``cfg`` describes and fit it; returns the last validation metrics."""
    return fit(build(cfg))


def run_train(cfg: DictConfig) -> float | None:
    """``detect train``: fit; returns the monitored metric so Hydra sweepers can optimise it.
    A run that fails before writing anything leaves no run folder behind (Hydra made it, with
    ``.hydra/`` and the log, before the run started)."""
    try:
        return train(cfg).get(cfg.callbacks.best_checkpoint.monitor)
    except BaseException:
        remove_if_unused(Path(cfg.paths.run_dir))
        raise


RUN_FOLDER_START = {".hydra", "train.log"}  # what Hydra writes before the run starts


def remove_if_unused(run_dir: Path) -> None:
    """Remove ``run_dir`` when it holds only what Hydra wrote at start (rank 0 only: other
    processes share the folder)."""
    if launched_rank() != 0 or not run_dir.is_dir():
        return
    if {entry.name for entry in run_dir.iterdir()} <= RUN_FOLDER_START:
        shutil.rmtree(run_dir, ignore_errors=True)
