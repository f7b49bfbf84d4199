"""Fixtures for training tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from training_helpers import TINY_SHAPES

from detect.data.shapes import generate_shapes


@pytest.fixture(scope="session")
def tiny_shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """24 train and 9 val images of 96 px (an odd val count: DDP pads it with a repeat)."""
    return generate_shapes(tmp_path_factory.mktemp("shapes"), **TINY_SHAPES)
