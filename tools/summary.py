"""Print one backbone's layer table, feature taps and cost: python tools/summary.py --help."""

import hydra
from omegaconf import DictConfig

from detect.evaluation.cost import format_summary


@hydra.main(config_path="../conf", config_name="summary", version_base="1.3")
def main(cfg: DictConfig) -> None:
    model = hydra.utils.instantiate(cfg.backbone, num_classes=cfg.num_classes)
    print(format_summary(model, cfg.size))


if __name__ == "__main__":
    main()
