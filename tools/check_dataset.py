"""Scan a dataset and report what it holds: python tools/check_dataset.py --help."""

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors
from detect.cli.check_dataset import run_check_dataset


@hydra.main(config_path="../conf", config_name="check_dataset", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_check_dataset(cfg)


if __name__ == "__main__":
    main()
