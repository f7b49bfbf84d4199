"""Fixtures for the video-stream tests: the tiny checkpoint's detector and short synthetic clips."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from support.streams import write_clip


@pytest.fixture(autouse=True)
def one_torch_thread():
    """These tests check behaviour, not speed: one intra-op thread keeps the tiny model fast
    when other processes share the 2 cores (two OpenMP threads then wait at every barrier)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_detector(tiny_ckpt: Path):
    """(detector, categories) of ``tiny_ckpt`` on the PyTorch backend."""
    from detect.inference.backends import load_detector

    loaded = load_detector(tiny_ckpt)
    return loaded.detector, loaded.categories


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A 12-frame 64×48 mp4 at 25 fps."""
    return write_clip(tmp_path / "clip.mp4", 12)
