"""Print the params/MAdds table of backbones × widths: python tools/cost.py --help."""

import hydra
from omegaconf import DictConfig

from detect.evaluation.cost import cost_table, format_cost_table


@hydra.main(config_path="../conf", config_name="cost", version_base="1.3")
def main(cfg: DictConfig) -> None:
    print(f"Backbone cost at {cfg.size}×{cfg.size}, 1000 classes (M = millions)\n")
    print(format_cost_table(cost_table(list(cfg.backbones), list(cfg.widths), cfg.size)))


if __name__ == "__main__":
    main()
