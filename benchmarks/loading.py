"""tools/bench_data.py: data-loading throughput of our albumentations ``ssdlite`` preset against
torchvision's v2 transforms.

The peer is torchvision's ``references/detection`` style: ``torchvision.datasets.CocoDetection``
(PIL decoding) wrapped for transforms v2, then RandomIoUCrop → RandomHorizontalFlip → Resize →
SanitizeBoundingBoxes. Both read the same images through a DataLoader with the same workers
and full batches only; each epoch is a round of timed batch periods (see :class:`Throughput`),
after one warm-up batch (worker start-up). They compute different random augmentations, so no
result is compared, only speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torchvision.transforms.v2 as T
from omegaconf import DictConfig
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import CocoDetection as TorchvisionCoco
from torchvision.datasets import wrap_dataset_for_transforms_v2

from benchmarks.compare import Comparison, Throughput, throughput_table
from detect.data.batching import collate, single_threaded
from detect.data.coco import CocoDetection
from detect.data.transforms import build_transforms

OURS = "detect: albumentations ssdlite"
THEIRS = "torchvision v2 reference"


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
    """Batch periods over ``epochs`` passes (one round each), after one warm-up batch."""
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        collate_fn=collate_fn,
        worker_init_fn=single_threaded,  # the same single-threaded workers for both pipelines
        persistent_workers=workers > 0,
        generator=torch.Generator().manual_seed(0),
        drop_last=True,
    )
    next(iter(loader))
    rounds = []
    for _ in range(epochs):
        periods, last = [], time.perf_counter()
        for _batch in loader:
            now = time.perf_counter()
            periods.append(now - last)
            last = now
        rounds.append(tuple(periods))
    return Throughput(name, batch_size, tuple(rounds))


def compare_loading(
    image_dir: Path, annotation_file: Path, size: int, workers: int, batch_size: int, epochs: int
) -> Comparison[Throughput]:
    """Ours and torchvision's, measured one after the other in the same process."""
    ours = CocoDetection(image_dir, annotation_file, build_transforms("ssdlite", size))
    peer = torchvision_pipeline(image_dir, annotation_file, size)
    mine = measure(OURS, ours, collate, workers, batch_size, epochs)
    return Comparison(measure(THEIRS, peer, _list_collate, workers, batch_size, epochs), [mine])


def run_bench_data(cfg: DictConfig) -> Comparison[Throughput]:
    """tools/bench_data.py: one split of a COCO-format data config, both pipelines, the table."""
    split = cfg.data[cfg.split]
    comparison = compare_loading(
        Path(split.image_dir),
        Path(split.annotation_file),
        cfg.size,
        cfg.workers,
        cfg.batch_size,
        cfg.epochs,
    )
    print(f"{cfg.split} split of {cfg.data.root}, {cfg.workers} workers, resize to {cfg.size}\n")
    print(throughput_table(comparison))
    return comparison
