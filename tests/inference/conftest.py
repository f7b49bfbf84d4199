"""Fixtures for the video-stream tests: real clips from ../shared/data/videos, a tiny untrained
checkpoint (96 px, 3 shape classes), short synthetic clips and images."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "evaluation"))  # eval_helpers.make_checkpoint

from eval_helpers import make_checkpoint  # noqa: E402
from stream_helpers import write_clip  # noqa: E402

VIDEOS = TESTS.parents[1] / "shared" / "data" / "videos"
SHORT_CLIP = "vtest_480x360_h264.mp4"  # 795 frames, 480×360, 10 fps: the shortest clip here


@pytest.fixture(autouse=True)
def one_torch_thread():
    """These tests check behaviour, not speed: one intra-op thread keeps the tiny model fast
    when other processes share the 2 cores (two OpenMP threads then wait at every barrier)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def videos_dir() -> Path:
    if not (VIDEOS / SHORT_CLIP).is_file():
        pytest.skip(f"real clips not found at {VIDEOS}: check out ../shared beside the project")
    return VIDEOS


@pytest.fixture(scope="session")
def short_clip(videos_dir: Path) -> Path:
    return videos_dir / SHORT_CLIP


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained 96-px SSDLite (V3-Small ×0.25) checkpoint over 3 shape categories."""
    folder = tmp_path_factory.mktemp("ckpt")
    return make_checkpoint(folder / "tiny.ckpt", folder / "shapes")


@pytest.fixture(scope="session")
def tiny_detector(tiny_ckpt: Path):
    """(Predictor, CategoryMap) of ``tiny_ckpt``."""
    from detect.inference.run import load_detector

    return load_detector(tiny_ckpt)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """A 12-frame 64×48 mp4 at 25 fps."""
    return write_clip(tmp_path / "clip.mp4", 12)
