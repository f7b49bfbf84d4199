"""LightningDataModule: train/val loaders over any detection datasets, batch split over ranks."""

from __future__ import annotations

import lightning as L
import torch
from lightning.fabric.utilities.seed import pl_worker_init_function
from torch.utils.data import DataLoader, Dataset

from detect.data.batching import collate, seed_transforms, single_threaded
from detect.data.coco import empty_split
from detect.errors import ConfigError, DatasetError


def init_worker(worker_id: int) -> None:
    """A training loader's worker: seeded by Lightning's scheme (per worker and rank), then
    :func:`~detect.data.batching.single_threaded`."""
    pl_worker_init_function(worker_id)
    single_threaded(worker_id)


class DetectionDataModule(L.LightningDataModule):
    """``batch_size`` is global: each of the trainer's ranks loads ``batch_size / world_size``."""

    def __init__(
        self,
        train: Dataset,
        val: Dataset,
        batch_size: int = 32,
        val_batch_size: int | None = None,
        num_workers: int = 2,
        pin_memory: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.train_dataset, self.val_dataset = train, val
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.seed = seed

    def per_device(self, global_batch: int) -> int:
        world_size = self.trainer.world_size if self.trainer is not None else 1
        if global_batch % world_size:
            raise ConfigError(
                f"global batch size {global_batch} does not divide over {world_size} processes; "
                f"choose a multiple of {world_size}"
            )
        return global_batch // world_size

    def _loader(self, dataset: Dataset, batch_size: int, shuffle: bool) -> DataLoader:
        per_device = self.per_device(batch_size)
        if len(dataset) == 0:  # type: ignore[arg-type]
            raise DatasetError(empty_split("train" if shuffle else "val", dataset))
        if shuffle and len(dataset) < per_device:  # drop_last would leave no batch at all
            raise ConfigError(
                f"the training set has {len(dataset)} images, fewer than one batch "
                f"({per_device} per process): lower the batch size (loader.batch_size)"
            )
        return DataLoader(
            dataset,
            batch_size=per_device,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            collate_fn=collate,
            worker_init_fn=init_worker,
            generator=torch.Generator().manual_seed(self.seed),
            persistent_workers=self.num_workers > 0,
            drop_last=shuffle,
        )

    def train_dataloader(self) -> DataLoader:
        if self.num_workers == 0:  # augmentations run in this process: one stream per rank
            rank = self.trainer.global_rank if self.trainer is not None else 0
            seed_transforms(self.train_dataset, self.seed + rank)
        return self._loader(self.train_dataset, self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_dataset, self.val_batch_size, shuffle=False)
