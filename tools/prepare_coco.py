"""Download and unpack COCO 2017 into data/coco: python tools/prepare_coco.py --help."""

from pathlib import Path

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors
from detect.data.download import prepare_coco


@hydra.main(config_path="../conf", config_name="prepare_coco", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    root = prepare_coco(Path(cfg.root), list(cfg.parts))
    print(f"COCO 2017 ready under {root}; check it with: python tools/check_dataset.py data=coco")


if __name__ == "__main__":
    main()
