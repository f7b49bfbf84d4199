"""Fixtures for export tests: real COCO images, decoded once."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import Tensor

from detect.evaluation.bench import load_images


@pytest.fixture(scope="session")
def real_images(coco_val_dir: Path) -> list[Tensor]:
    """Six real COCO val images of mixed sizes, (3, H, W) uint8."""
    return load_images(coco_val_dir, 6)
