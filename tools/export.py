"""Export a checkpoint to ONNX (and int8), checked on the spot: python tools/export.py --help."""

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors
from detect.cli.export import run_export


@hydra.main(config_path="../conf", config_name="export", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_export(cfg)


if __name__ == "__main__":
    main()
