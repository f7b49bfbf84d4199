"""tools/pareto.py: COCO AP of checkpoints against latency here, with the Pareto front."""

from __future__ import annotations

import itertools
from pathlib import Path

from omegaconf import DictConfig

from detect.data.images import load_images
from detect.evaluation.pareto import ModelPoint, find_checkpoints, pareto_report


def run_pareto(cfg: DictConfig) -> list[ModelPoint]:
    """Measure every checkpoint and configuration; write and print the table and the plot."""
    points, markdown = pareto_report(
        find_checkpoints(cfg.runs),
        list(itertools.product(cfg.backbones, cfg.widths, cfg.sizes)),
        load_images(cfg.images_dir, cfg.batch_size),
        Path(cfg.output_dir),
        cfg.threads,
        cfg.warmup,
        cfg.timed_runs,
        cfg.title,
        list(cfg.backends),
    )
    print(markdown)
    print(f"written to {cfg.output_dir}/pareto.md, pareto.csv, pareto.png")
    return points
