"""Training throughput, our Lightning loop vs a bare loop over torchvision's SSDLite:
python tools/bench_train.py --help."""

import hydra
from omegaconf import DictConfig

from detect.benchmarks.training import run_bench_train
from detect.cli import friendly_errors


@hydra.main(config_path="pkg://detect.conf", config_name="bench_train", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_bench_train(cfg)


if __name__ == "__main__":
    main()
