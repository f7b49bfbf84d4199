"""The server's fixtures: the trained-like checkpoint loaded once on ONNX Runtime (the default
CPU backend) as a :class:`detect.Model`, whose detector the test servers serve."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")

# the trained-like weights score real images at most about 0.07: thresholds scaled to them
SCORE = 0.02
TRACKER = {
    "high_thresh": 0.04,
    "low_thresh": 0.01,
    "new_track_thresh": 0.05,
    "match_iou": 0.01,
    "tentative_match_iou": 0.01,
}


@pytest.fixture(scope="session")
def model(trained_like_ckpt: Path):
    """The checkpoint's checked ONNX export on ONNX Runtime, as ``detect serve`` loads it."""
    from detect import Model

    return Model(trained_like_ckpt, backend="onnxruntime", cache=False)
