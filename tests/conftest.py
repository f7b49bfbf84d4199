"""Shared fixtures: real COCO images from ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COCO_SUBSET = SHARED_DATA / "coco_subset"
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@pytest.fixture(scope="session")
def coco_val_dir() -> Path:
    path = COCO_SUBSET / "val2017"
    if not path.is_dir():
        pytest.skip(f"real data not found at {path}: check out ../shared beside the project")
    return path


@pytest.fixture(scope="session")
def real_images(coco_val_dir: Path) -> torch.Tensor:
    """Six real COCO val2017 images, resized to 224×224, ImageNet-normalised: (6, 3, 224, 224)."""
    batch = []
    for file in sorted(coco_val_dir.glob("*.jpg"))[:6]:
        image = cv2.cvtColor(cv2.imread(str(file)), cv2.COLOR_BGR2RGB)
        image = cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA)
        batch.append((image.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD)
    return torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).contiguous()


def load_rgb(file: Path) -> torch.Tensor:
    """A real image as a (3, H, W) uint8 tensor."""
    return torch.from_numpy(cv2.cvtColor(cv2.imread(str(file)), cv2.COLOR_BGR2RGB)).permute(2, 0, 1)


@pytest.fixture(scope="session")
def coco_val_samples(coco_val_dir: Path) -> list[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """Four real val images (mixed sizes) with their official non-crowd boxes (xyxy) and labels."""
    from pycocotools.coco import COCO

    coco = COCO(str(COCO_SUBSET / "annotations" / "instances_val2017.json"))
    samples = []
    for image_id in sorted(coco.getImgIds())[:4]:
        info = coco.loadImgs(image_id)[0]
        anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=image_id)) if not a["iscrowd"]]
        boxes = torch.tensor([a["bbox"] for a in anns], dtype=torch.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        labels = torch.tensor([a["category_id"] for a in anns], dtype=torch.int64)
        samples.append(
            (load_rgb(coco_val_dir / info["file_name"]), {"boxes": boxes, "labels": labels})
        )
    return samples


@pytest.fixture(scope="session")
def coco_val_set(coco_val_dir: Path):
    """The real val subset as our COCO-format dataset (no transforms)."""
    from detect.data.coco import CocoDetection

    return CocoDetection(coco_val_dir, COCO_SUBSET / "annotations" / "instances_val2017.json")
