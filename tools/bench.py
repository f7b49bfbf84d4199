"""Inference latency, params and MAdds of SSDLite configurations or a checkpoint, optionally
beside torchvision's SSDLite on the same weights: python tools/bench.py --help."""

import hydra
from omegaconf import DictConfig

from detect.benchmarks.latency import run_bench
from detect.cli import friendly_errors


@hydra.main(config_path="../conf", config_name="bench", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_bench(cfg)


if __name__ == "__main__":
    main()
