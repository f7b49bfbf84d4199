"""Print one backbone's layer table, feature taps and cost: python tools/summary.py --help."""

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors
from detect.cli.summary import run_summary


@hydra.main(config_path="../conf", config_name="summary", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_summary(cfg)


if __name__ == "__main__":
    main()
