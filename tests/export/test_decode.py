"""The numpy decoder's NMS is torchvision's greedy NMS, stopped at the limit, window or not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import nms

from detect.export import decode


@pytest.mark.parametrize("first_window", [1, 4])  # windows of 5 and 20 candidates, or one
def test_greedy_nms_keeps_what_torchvision_keeps(first_window, monkeypatch):
    monkeypatch.setattr(decode, "FIRST_WINDOW", first_window)
    generator = np.random.default_rng(0)
    corner = generator.uniform(0, 200, (400, 2))
    boxes = np.concatenate([corner, corner + generator.uniform(5, 80, (400, 2))], 1)
    scores = np.round(generator.uniform(0, 1, 400), 1).astype(np.float32)  # many ties
    order = np.argsort(-scores, kind="stable")
    boxes = boxes[order].astype(np.float32)
    reference = nms(torch.from_numpy(boxes), torch.from_numpy(scores[order]), 0.5).numpy()
    for limit in (5, 50, 1000):
        kept = decode.greedy_nms(boxes, 0.5, limit)
        assert kept.tolist() == reference[:limit].tolist()
