"""Print the params/MAdds table of backbones × widths: python tools/cost.py --help."""

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors
from detect.cli.summary import run_cost


@hydra.main(config_path="../conf", config_name="cost", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_cost(cfg)


if __name__ == "__main__":
    main()
