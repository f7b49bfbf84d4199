"""mAP against latency, with the Pareto front: python tools/pareto.py --help."""

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors
from detect.cli.pareto import run_pareto


@hydra.main(config_path="../conf", config_name="pareto", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_pareto(cfg)


if __name__ == "__main__":
    main()
