"""mAP against latency, with the Pareto front: python tools/pareto.py --help."""

import itertools
from pathlib import Path

import hydra
from omegaconf import DictConfig

from detect.errors import friendly_errors
from detect.evaluation.bench import load_images
from detect.evaluation.pareto import find_checkpoints, pareto_report


@hydra.main(config_path="../conf", config_name="pareto", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    _, markdown = pareto_report(
        find_checkpoints(cfg.runs),
        list(itertools.product(cfg.backbones, cfg.widths, cfg.sizes)),
        load_images(cfg.images_dir, cfg.batch_size),
        Path(cfg.output_dir),
        cfg.threads,
        cfg.warmup,
        cfg.timed_runs,
        cfg.title,
    )
    print(markdown)
    print(f"written to {cfg.output_dir}/pareto.md, pareto.csv, pareto.png")


if __name__ == "__main__":
    main()
