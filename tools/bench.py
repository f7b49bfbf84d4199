"""Inference latency, params and MAdds of SSDLite configurations or a checkpoint, beside
torchvision's SSDLite on the same weights: python tools/bench.py --help. A peer benchmark: it runs
from a checkout (benchmarks/); `detect bench` times our backends alone."""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors, resolvers  # noqa: F401  (registered before composing)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the checkout's
from benchmarks.latency import run_bench


@hydra.main(config_path="../benchmarks/conf", config_name="bench_torchvision", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_bench(cfg)


if __name__ == "__main__":
    main()
