"""Data-loading throughput, ours vs torchvision's transforms: python tools/bench_data.py --help."""

import hydra
from omegaconf import DictConfig

from detect.benchmarks.loading import run_bench_data
from detect.cli import friendly_errors


@hydra.main(config_path="pkg://detect.conf", config_name="bench_data", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_bench_data(cfg)


if __name__ == "__main__":
    main()
