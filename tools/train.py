"""Train SSDLite on a MobileNet backbone: python tools/train.py --help."""

import hydra
from omegaconf import DictConfig

from detect.cli import friendly_errors
from detect.cli.train import train


@hydra.main(config_path="../conf", config_name="train", version_base="1.3")
@friendly_errors
def main(cfg: DictConfig) -> float | None:
    """Returns the monitored metric so Hydra sweepers can optimise it."""
    return train(cfg).get(cfg.callbacks.best_checkpoint.monitor)


if __name__ == "__main__":
    main()
