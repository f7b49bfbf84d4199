"""Detect objects on images, videos, webcams and network streams: python tools/predict.py --help.

(Not tools/detect.py: Python puts a script's folder first on sys.path, so a tools/detect.py
would shadow the ``detect`` package for every tool in this folder.)
"""

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors
from detect.cli.predict import run_detect


@hydra.main(config_path="../conf", config_name="predict", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_detect(cfg)


if __name__ == "__main__":
    main()
