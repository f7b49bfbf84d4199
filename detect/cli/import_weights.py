"""tools/import_weights.py: a published detector written out as an ordinary detect checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig

from detect.io import atomic_write
from detect.weights.checkpoint import MODEL_PREFIX, checkpoint_meta, load_checkpoint
from detect.weights.hub import HubConfig
from detect.weights.sources import open_checkpoint


def run_import(cfg: DictConfig) -> Path:
    """Fetch ``cfg.weights`` (e.g. ``torchvision:ssdlite320_mobilenet_v3_large``), write it as
    a checkpoint that every tool reads like a trained one, and read it back to check."""
    source = open_checkpoint(cfg.weights, HubConfig(**cfg.hub))
    name = str(cfg.weights).split(":", 1)[-1]
    output = Path(cfg.output or Path("checkpoints") / f"{name}.ckpt")
    checkpoint = {
        "state_dict": {MODEL_PREFIX + k: v for k, v in source.model.state_dict().items()},
        "epoch": 0,
        "global_step": 0,
        "detect": checkpoint_meta(source.model_config, source.categories, source.run_config),
    }
    atomic_write(output, lambda file: torch.save(checkpoint, file))
    again = load_checkpoint(output)
    published = source.run_config.get("source", {}).get("published", {})
    print(
        f"wrote {output}: {again.model.size}-px {again.model_config['backbone']['name']} "
        f"SSDLite, {len(again.categories.names)} categories "
        f"({', '.join(again.categories.names[:4])}, …); published: {published or 'n/a'}"
    )
    return output
