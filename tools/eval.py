"""Evaluate a checkpoint with COCO mAP: python tools/eval.py --help."""

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors
from detect.cli.eval import run_eval


@hydra.main(config_path="../conf", config_name="eval", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> None:
    run_eval(cfg)


if __name__ == "__main__":
    main()
