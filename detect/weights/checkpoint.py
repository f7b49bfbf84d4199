"""Checkpoints that stand alone: weights (EMA when trained with it), model config, categories.

Reading one needs torch alone (no Lightning): the weights are loaded with ``weights_only=True``
(no pickled code runs), and what the file says about the model, its categories and the run is
checked to be plain data (:mod:`detect.plain`) before anything is built from it.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from detect.data.categories import CategoryMap
from detect.errors import CheckpointError
from detect.models import SSDLite
from detect.models.factory import build_detector
from detect.plain import check_plain, strip_call_keys
from detect.stored import check_stored_model

CHECKPOINT_KEY = "detect"
CHECKPOINT_VERSION = 2  # 2: plain data configs (format + fields, no _target_)
MODEL_PREFIX = "model."  # the detector's parameters inside the LightningModule's state dict


@dataclass
class Checkpoint:
    """A detector ready for inference (eval mode) and what it was trained with."""

    model: SSDLite
    categories: CategoryMap
    model_config: dict[str, Any]
    run_config: dict[str, Any]
    epoch: int
    global_step: int


def checkpoint_meta(
    model_config: Mapping[str, Any],
    categories: CategoryMap,
    run_config: Mapping[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """The ``detect`` entry a checkpoint carries besides its weights (configs as plain data)."""
    return {
        "version": CHECKPOINT_VERSION,
        "model": strip_call_keys(model_config),
        "categories": categories.to_dict(),
        "run_config": strip_call_keys(run_config),
        **extra,
    }


def read_checkpoint(path: str | Path, data: bytes | None = None) -> dict[str, Any]:
    """The raw checkpoint dict, its ``detect`` entry checked; else a :class:`CheckpointError`
    that names the file and says why. ``data``: the file's bytes, when the caller has read
    them already (they are what is loaded, so a file replaced meanwhile cannot mix in)."""
    path = Path(path)
    if data is None and not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    source = path if data is None else io.BytesIO(data)
    try:
        raw = torch.load(source, map_location="cpu", weights_only=True)  # no pickled code runs
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path} is not a detect checkpoint: it is damaged, or it holds objects other than "
            "tensors and plain data (never loaded here, since that could run code)"
        ) from None
    except Exception:  # torch's loaders raise anything on arbitrary bytes (IndexError, …)
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint (truncated or not a torch.save file)"
        ) from None
    if not isinstance(raw, dict) or CHECKPOINT_KEY not in raw or "state_dict" not in raw:
        raise CheckpointError(
            f"{path} is not a detect checkpoint (no '{CHECKPOINT_KEY}' entry); use one written "
            "by tools/train.py (checkpoints/best-*.ckpt or last.ckpt in the run directory)"
        )
    meta = raw[CHECKPOINT_KEY]
    if not isinstance(meta, dict) or meta.get("version") != CHECKPOINT_VERSION:
        version = meta.get("version") if isinstance(meta, dict) else None
        raise CheckpointError(
            f"{path} is a detect checkpoint of format {version}; this version reads format "
            f"{CHECKPOINT_VERSION}"
        )
    check_plain(meta, CHECKPOINT_KEY, CheckpointError, str(path))
    return raw


def categories_of(meta: Mapping[str, Any], source: str) -> CategoryMap:
    """The category map a checkpoint or export records."""
    try:
        return CategoryMap(tuple(meta["ids"]), tuple(meta["names"]))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: its category list is unreadable ({error})") from None


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu", data: bytes | None = None
) -> Checkpoint:
    """Rebuild the detector from the checkpoint alone and load its (EMA) weights (``data``: see
    :func:`read_checkpoint`)."""
    raw = read_checkpoint(path, data)
    meta = raw[CHECKPOINT_KEY]
    categories = categories_of(meta.get("categories", {}), str(path))
    try:  # bounded first: a stored size or width decides how much memory the build takes
        check_stored_model(meta.get("model"), categories.num_classes, str(path))
    except ValueError as error:
        raise CheckpointError(str(error)) from None
    try:
        model = build_detector(meta["model"], categories.num_classes)
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: its model config is unusable: {error}") from None
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
