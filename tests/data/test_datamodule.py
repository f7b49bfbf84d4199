from types import SimpleNamespace

import pytest
import torch
from lightning.pytorch import seed_everything

from detect.data.batching import collate
from detect.data.coco import CocoDetection
from detect.data.datamodule import DetectionDataModule
from detect.data.transforms import build_transforms


def test_batches_hold_variable_box_counts(coco_val_set):
    module = DetectionDataModule(coco_val_set, coco_val_set, batch_size=4, num_workers=0)
    images, targets = next(iter(module.val_dataloader()))
    assert len(images) == len(targets) == 4
    assert all(image.dtype == torch.uint8 and image.shape[0] == 3 for image in images)
    assert len({len(t["labels"]) for t in targets}) > 1
    assert [t["image_id"] for t in targets] == [r.image_id for r in coco_val_set.records[:4]]


def test_unreadable_samples_are_dropped_from_the_batch(coco_val_set):
    images, targets = collate([coco_val_set[0], None, coco_val_set[1]])
    assert len(images) == len(targets) == 2


def test_global_batch_is_split_over_ranks(coco_val_set):
    module = DetectionDataModule(coco_val_set, coco_val_set, batch_size=8, num_workers=0)
    module.trainer = SimpleNamespace(world_size=2, global_rank=0)
    assert module.train_dataloader().batch_size == 4
    module.trainer = SimpleNamespace(world_size=3, global_rank=0)
    with pytest.raises(ValueError, match="does not divide over 3 processes"):
        module.train_dataloader()


def test_shuffling_is_seeded(coco_val_set):
    def first_ids(seed: int) -> list[int]:
        module = DetectionDataModule(
            coco_val_set, coco_val_set, batch_size=8, num_workers=0, seed=seed
        )
        return [t["image_id"] for t in next(iter(module.train_dataloader()))[1]]

    assert first_ids(1) == first_ids(1)
    assert first_ids(1) != first_ids(2)


@pytest.mark.parametrize("workers", [0, 1])
def test_augmentations_follow_the_seed(coco_val_dir, workers):
    """Albumentations' own generators are seeded too (in each worker, or in this process)."""
    annotations = coco_val_dir.parent / "annotations" / "instances_val2017.json"

    def first_batch(seed: int) -> list[torch.Tensor]:
        augmented = CocoDetection(
            coco_val_dir, annotations, transforms=build_transforms("ssdlite", 96)
        )
        module = DetectionDataModule(
            augmented, augmented, batch_size=8, num_workers=workers, seed=seed
        )
        seed_everything(seed)
        images, targets = next(iter(module.train_dataloader()))
        return images + [t["boxes"] for t in targets]

    first, again, other = first_batch(1), first_batch(1), first_batch(2)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(
        a.shape == b.shape and torch.equal(a, b) for a, b in zip(first, other, strict=False)
    )
