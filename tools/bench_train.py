"""Training throughput, our Lightning loop vs a bare loop over torchvision's SSDLite:
python tools/bench_train.py --help. A peer benchmark: it runs from a checkout (benchmarks/)."""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors, resolvers  # noqa: F401  (registered before composing)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the checkout's
from benchmarks.training import run_bench_train


@hydra.main(config_path="../benchmarks/conf", config_name="bench_train", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_bench_train(cfg)


if __name__ == "__main__":
    main()
