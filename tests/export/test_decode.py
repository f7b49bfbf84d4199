"""The numpy decoder's NMS is torchvision's class-wise greedy NMS, stopped at the limit, window
or not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import batched_nms, nms

from detect.export import decode


@pytest.mark.parametrize("classes", [1, 3])
@pytest.mark.parametrize("first_window", [1, 4])  # windows of 5 and 20 candidates, or one
def test_greedy_nms_keeps_what_torchvision_keeps(first_window, classes, monkeypatch):
    monkeypatch.setattr(decode, "FIRST_WINDOW", first_window)
    generator = np.random.default_rng(0)
    corner = generator.uniform(0, 200, (400, 2))
    boxes = np.concatenate([corner, corner + generator.uniform(5, 80, (400, 2))], 1)
    scores = np.round(generator.uniform(0, 1, 400), 1).astype(np.float32)  # many ties
    order = np.argsort(-scores, kind="stable")
    boxes = boxes[order].astype(np.float32)
    labels = generator.integers(1, classes + 1, 400)
    reference = batched_nms(
        torch.from_numpy(boxes), torch.from_numpy(scores[order]), torch.from_numpy(labels), 0.5
    ).numpy()
    assert classes == 1 or len(reference) > len(nms(torch.from_numpy(boxes), torch.ones(400), 0.5))
    for limit in (5, 50, 1000):
        kept = nms_only(limit).first_keeps(scores[order], labels, boxes)
        assert kept.tolist() == reference[:limit].tolist()
    assert nms_only(10).first_keeps(scores[:0], labels[:0], boxes[:0]).tolist() == []


def nms_only(limit: int) -> decode.Decoder:
    """A decoder whose per-class top-k never cuts: its NMS alone decides."""
    return decode.Decoder(np.zeros((1, 4), np.float32), (10, 10, 5, 5), 320, 0.0, 10**6, 0.5, limit)
