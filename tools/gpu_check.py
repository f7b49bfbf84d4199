"""A CUDA machine checked end to end (training, latency, memory, AMP, SyncBN); a dry run on the
CPU without one: python tools/gpu_check.py --help."""

import hydra
from omegaconf import DictConfig

from detect.benchmarks.gpu_check import run_gpu_check
from detect.cli import friendly_errors


@hydra.main(config_path="../conf", config_name="gpu_check", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_gpu_check(cfg)


if __name__ == "__main__":
    main()
