"""Data-loading throughput: our albumentations ``ssdlite`` preset vs torchvision's v2 transforms.

The peer is torchvision's ``references/detection`` style: ``torchvision.datasets.CocoDetection``
(PIL decoding) wrapped for transforms v2, then RandomIoUCrop → RandomHorizontalFlip → Resize →
SanitizeBoundingBoxes. Both read the same images through a DataLoader with the same workers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torchvision.transforms.v2 as T
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import CocoDetection as TorchvisionCoco
from torchvision.datasets import wrap_dataset_for_transforms_v2

from detect.data.coco import CocoDetection
from detect.data.datamodule import collate, init_worker
from detect.data.transforms import build_transforms


@dataclass(frozen=True)
class Throughput:
    pipeline: str
    images: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds


def torchvision_pipeline(image_dir: Path, annotation_file: Path, size: int) -> Dataset:
    """torchvision's detection-reference training transforms for SSDLite, plus the resize."""
    transforms = T.Compose(
        [
            T.ToImage(),
            T.RandomIoUCrop(),
            T.RandomHorizontalFlip(),
            T.Resize((size, size)),
            T.SanitizeBoundingBoxes(),
        ]
    )
    dataset = TorchvisionCoco(str(image_dir), str(annotation_file), transforms=transforms)
    return wrap_dataset_for_transforms_v2(dataset, target_keys=("boxes", "labels", "image_id"))


def _list_collate(samples: list[Any]) -> list[Any]:
    return samples


def measure(
    name: str,
    dataset: Dataset,
    collate_fn: Callable[[list[Any]], Any],
    workers: int,
    batch_size: int,
    epochs: int,
) -> Throughput:
    """Images per second over ``epochs`` passes, after one warm-up batch (worker start-up)."""
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        collate_fn=collate_fn,
        worker_init_fn=init_worker,  # the same single-threaded workers for both pipelines
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),
    )
    next(iter(loader))
    images, start = 0, time.perf_counter()
    for _ in range(epochs):
        for batch in loader:
            images += len(batch[0]) if isinstance(batch, tuple) else len(batch)
    return Throughput(name, images, time.perf_counter() - start)


def compare(
    image_dir: Path, annotation_file: Path, size: int, workers: int, batch_size: int, epochs: int
) -> list[Throughput]:
    """Ours and torchvision's, measured one after the other in the same process."""
    ours = CocoDetection(image_dir, annotation_file, build_transforms("ssdlite", size))
    peer = torchvision_pipeline(image_dir, annotation_file, size)
    return [
        measure("detect: albumentations ssdlite", ours, collate, workers, batch_size, epochs),
        measure("torchvision v2 reference", peer, _list_collate, workers, batch_size, epochs),
    ]


def format_throughput(results: list[Throughput]) -> str:
    ours = results[0].images_per_second
    lines = ["| pipeline | images | seconds | images/s | ours ÷ this |", "|---|---|---|---|---|"]
    for result in results:
        lines.append(
            f"| {result.pipeline} | {result.images} | {result.seconds:.2f} | "
            f"{result.images_per_second:.1f} | {ours / result.images_per_second:.2f}× |"
        )
    return "\n".join(lines)
