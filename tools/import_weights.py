"""Write published weights as a detect checkpoint: python tools/import_weights.py --help."""

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors
from detect.cli.import_weights import run_import


@hydra.main(config_path="../conf", config_name="import_weights", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_import(cfg)


if __name__ == "__main__":
    main()
