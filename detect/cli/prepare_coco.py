"""detect prepare-coco: download and unpack COCO 2017."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from detect.data.download import prepare_coco


def run_prepare_coco(cfg: DictConfig) -> Path:
    root = prepare_coco(Path(cfg.root), list(cfg.parts))
    print(f"COCO 2017 ready under {root}; check it with: detect check-data data=coco")
    return root
