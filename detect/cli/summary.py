"""tools/summary.py and tools/cost.py: a backbone layer by layer; params/MAdds of many."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from detect.errors import ConfigError
from detect.evaluation.cost import cost_table, format_cost_table, format_summary
from detect.models import mobilenet


def run_summary(cfg: DictConfig) -> str:
    """Print the chosen backbone's layers, feature taps and totals (a classifier, as the paper)."""
    backbone = OmegaConf.to_container(cfg.backbone, resolve=True)
    backbone.pop("pretrained", None)  # the layers are the same either way
    try:
        model = mobilenet(**backbone, num_classes=cfg.num_classes)
    except ValueError as error:
        raise ConfigError(f"backbone: {error}") from None
    text = format_summary(model, cfg.size)
    print(text)
    return text


def run_cost(cfg: DictConfig) -> str:
    """Print the params/MAdds table of every backbone × width, beside the papers' figures."""
    try:
        table = format_cost_table(cost_table(list(cfg.backbones), list(cfg.widths), cfg.size))
    except ValueError as error:
        raise ConfigError(str(error)) from None
    print(f"Backbone cost at {cfg.size}×{cfg.size}, 1000 classes (M = millions)\n")
    print(table)
    return table
