"""A built training run, and fitting it: the Trainer, the module and its data, together."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightning as L
from lightning.pytorch.utilities import rank_zero_info

from detect.data.datamodule import DetectionDataModule
from detect.training.module import DetectionModule

SUMMARY_METRICS = ("val/AP", "val/AP50", "val/AP75")


@dataclass
class TrainingRun:
    """Everything ``trainer.fit`` needs."""

    trainer: L.Trainer
    module: DetectionModule
    datamodule: DetectionDataModule
    run_dir: Path
    ckpt_path: str | None  # the checkpoint continued, if any


def fit(run: TrainingRun) -> dict[str, float]:
    """Fit (continuing ``run.ckpt_path`` when set); returns the last validation metrics
    (``val/…``). Everything lands in the run directory."""
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


def summarise(metrics: dict[str, float]) -> str:
    """``AP 0.123, AP50 …`` of the metrics present."""
    return ", ".join(
        f"{n.removeprefix('val/')} {metrics[n]:.3f}" for n in SUMMARY_METRICS if n in metrics
    )
