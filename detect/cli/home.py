"""``~`` in a path setting, expanded by us: the shell leaves ``key=~/x`` alone (and Hydra's
grammar wants it quoted, ``'key="~/x"'``), so ``hub.weights_path="~/Downloads/x.pth"`` reaches
the command as typed."""

from __future__ import annotations

import os

from omegaconf import DictConfig, ListConfig, OmegaConf


def expand_home(cfg: DictConfig | ListConfig) -> None:
    """Every string value of ``cfg`` that starts with ``~``, home-expanded in place (values set
    by interpolation are left to their source; a ``~`` elsewhere in a string stays)."""
    keys = range(len(cfg)) if isinstance(cfg, ListConfig) else list(cfg.keys())
    for key in keys:
        if OmegaConf.is_interpolation(cfg, key) or OmegaConf.is_missing(cfg, key):
            continue
        value = cfg[key]
        if isinstance(value, DictConfig | ListConfig):
            expand_home(value)
        elif isinstance(value, str) and value.startswith("~"):
            cfg[key] = os.path.expanduser(value)
