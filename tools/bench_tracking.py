"""Tracking and counting against exact ground truth: python tools/bench_tracking.py --help."""

import hydra
from omegaconf import DictConfig

from detect.benchmarks.tracking import run_bench_tracking
from detect.cli import friendly_errors


@hydra.main(config_path="pkg://detect.conf", config_name="bench_tracking", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_bench_tracking(cfg)


if __name__ == "__main__":
    main()
