"""Batches for any loader — training, evaluation, benchmarks — without Lightning."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

Sample = tuple[np.ndarray, dict[str, Any]]


def collate(samples: list[Sample | None]) -> tuple[list[Tensor], list[dict[str, Any]]]:
    """Images as (3, H, W) uint8 tensors, targets as tensors; unreadable samples (None) dropped."""
    images, targets = [], []
    for sample in samples:
        if sample is None:
            continue
        image, target = sample
        images.append(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1))
        targets.append(
            {
                "boxes": torch.as_tensor(target["boxes"], dtype=torch.float32).reshape(-1, 4),
                "labels": torch.as_tensor(target["labels"], dtype=torch.int64),
                "image_id": int(target["image_id"]),
            }
        )
    return images, targets


def seed_transforms(dataset: Dataset, seed: int) -> None:
    """Albumentations draws from its own generators, seeded from OS entropy unless told: seed
    them so that a run's augmentations follow its seed."""
    transforms = getattr(dataset, "transforms", None)
    if hasattr(transforms, "set_random_seed"):
        transforms.set_random_seed(seed)


def single_threaded(worker_id: int) -> None:
    """A loader worker's init: its dataset's augmentations seeded from the worker's torch seed,
    and one thread: OpenCV's and torch's thread pools in each worker otherwise fight the main
    process for the cores."""
    info = torch.utils.data.get_worker_info()
    if info is not None:
        seed_transforms(info.dataset, torch.initial_seed() % 2**32)
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
