"""The data a run trains and validates on: both splits of one dataset, in one datamodule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detect.data.datamodule import DetectionDataModule, empty_split
from detect.data.registry import build_dataset
from detect.data.transforms import build_transforms
from detect.errors import DatasetError


def train_val_data(
    data: Mapping[str, Any], augment: str, size: int, seed: int = 0, **loader: Any
) -> DetectionDataModule:
    """The train split of ``data`` (a plain data config, see :mod:`detect.data.registry`) with
    the ``augment`` preset ending at the model's ``size``; the val split untouched (the model
    resizes it, and detections come back in original pixels for COCO eval). ``loader``: the
    :class:`DetectionDataModule`'s batch sizes, workers and pinning."""
    train = build_dataset(data, "train", transforms=build_transforms(augment, size))
    val = build_dataset(data, "val")
    for split, dataset in (("train", train), ("val", val)):
        if len(dataset) == 0:  # before the model is built: not a batch size, not an empty run
            raise DatasetError(empty_split(split, dataset))
    if train.categories != val.categories:
        raise DatasetError(
            f"train and val sets have different categories ({train.categories.names} vs "
            f"{val.categories.names}); they must share one annotation category list"
        )
    return DetectionDataModule(train, val, **loader, seed=seed)
