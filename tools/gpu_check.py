"""A CUDA machine checked end to end (training and latency beside torchvision's, memory, AMP,
SyncBN); a dry run on the CPU without one: python tools/gpu_check.py --help. It runs from a
checkout (benchmarks/)."""

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors, resolvers  # noqa: F401  (registered before composing)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the checkout's
from benchmarks.gpu_check import run_gpu_check


@hydra.main(config_path="../benchmarks/conf", config_name="gpu_check", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_gpu_check(cfg)


if __name__ == "__main__":
    main()
