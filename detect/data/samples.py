"""The sample photos shipped with the package (``detect/data/sample_images``: six public-domain
or CC0 photos, licences in its README.md): what an export is checked on when its model records
no dataset, as a ``torchvision:`` detector does."""

from __future__ import annotations

from pathlib import Path

from detect.data.images import image_files

SAMPLE_IMAGES = Path(__file__).resolve().parent / "sample_images"


def sample_images_dir() -> Path:
    """The folder holding the sample photos."""
    return SAMPLE_IMAGES


def sample_paths() -> list[Path]:
    """The sample photos' paths, by name."""
    return image_files(SAMPLE_IMAGES)
