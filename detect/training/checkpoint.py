"""Checkpoints that stand alone: weights (EMA when trained with it), model config, categories."""

from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from detect.data.coco import CategoryMap
from detect.models import SSDLite
from detect.training.factory import build_detector

CHECKPOINT_KEY = "detect"
CHECKPOINT_VERSION = 1
MODEL_PREFIX = "model."  # the detector's parameters inside the LightningModule's state dict


class CheckpointError(ValueError):
    """A file that is not a usable detect checkpoint; the message names it and says why."""


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write to a hidden file beside the target, flush it to disk, then ``os.replace``: a run
    killed mid-save leaves the previous checkpoint intact. (Lightning's fsspec transaction
    stages the file in the system temp folder and moves it, which is a plain, interruptible
    copy when that folder is on another filesystem.)"""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None
    ) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.partial")
        with open(staging, "wb") as file:
            torch.save(checkpoint, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(staging, path)


@dataclass
class Checkpoint:
    """A detector ready for inference (eval mode) and what it was trained with."""

    model: SSDLite
    categories: CategoryMap
    model_config: dict[str, Any]
    run_config: dict[str, Any]
    epoch: int
    global_step: int


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The raw checkpoint dict, or a :class:`CheckpointError` that names the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)  # no code runs on load
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError) as error:
        raise CheckpointError(f"{path} is not a PyTorch checkpoint ({error})") from None
    if not isinstance(raw, dict) or CHECKPOINT_KEY not in raw or "state_dict" not in raw:
        raise CheckpointError(
            f"{path} is not a detect checkpoint (no '{CHECKPOINT_KEY}' entry); use one written "
            "by tools/train.py (checkpoints/best-*.ckpt or last.ckpt in the run directory)"
        )
    return raw


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild the detector from the checkpoint alone and load its (EMA) weights."""
    raw = read_checkpoint(path)
    meta = raw[CHECKPOINT_KEY]
    if meta.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path} is a detect checkpoint of format {meta.get('version')}; this version reads "
            f"format {CHECKPOINT_VERSION}"
        )
    categories = CategoryMap(tuple(meta["categories"]["ids"]), tuple(meta["categories"]["names"]))
    model = build_detector(meta["model"], categories.num_classes)
    weights = {
        key.removeprefix(MODEL_PREFIX): value
        for key, value in raw["state_dict"].items()
        if key.startswith(MODEL_PREFIX)
    }
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        raise CheckpointError(
            f"{path}: weights do not fit the model its config describes: {error}"
        ) from None
    return Checkpoint(
        model.to(map_location).eval(),
        categories,
        meta["model"],
        meta.get("run_config", {}),
        int(raw.get("epoch", 0)),
        int(raw.get("global_step", 0)),
    )
