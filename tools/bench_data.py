"""Data-loading throughput, ours vs torchvision's transforms: python tools/bench_data.py --help.
A peer benchmark: it runs from a checkout (benchmarks/)."""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors, resolvers  # noqa: F401  (registered before composing)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the checkout's
from benchmarks.loading import run_bench_data


@hydra.main(config_path="../benchmarks/conf", config_name="bench_data", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_bench_data(cfg)


if __name__ == "__main__":
    main()
