"""The whole graph's windowed postprocess is exact: an image its window settles and one that
needs the full per-class top-k give PyTorch's detections, exported and eager, alone and mixed
in one batch."""

from __future__ import annotations

import pytest
import torch
from support.models import PLACEHOLDER_IDS, conditioned_model
from torch import nn

from detect.data.categories import CategoryMap
from detect.export import graph
from detect.export.onnx import (
    compare_backends,
    export_bytes,
    match_detections,
    metadata_for,
    to_numpy,
)
from detect.export.runtime import OnnxDetector
from detect.models import preprocess

CATEGORIES = CategoryMap(PLACEHOLDER_IDS, tuple(f"class {i}" for i in PLACEHOLDER_IDS))


@pytest.fixture(scope="module")
def model(coco_images):
    return conditioned_model("v3_large", coco_images)


@pytest.mark.parametrize("window", [graph.DeployModel.WINDOW, 64])  # settled | the full top-k
def test_exported_graph_equals_pytorch_either_way(model, coco_images, window, monkeypatch):
    monkeypatch.setattr(graph.DeployModel, "WINDOW", window)
    detector = OnnxDetector(export_bytes(model, metadata_for(model, CATEGORIES, {}, {})), 2)
    report = compare_backends(detector, model, coco_images)
    assert report.equal and report.detections == 300 * len(coco_images), report


class Replay(nn.Module):
    """Stands in for an SSDLite: returns prescribed raw outputs, one per image of the batch."""

    def __init__(self, model, outputs: list[dict]) -> None:
        super().__init__()
        self.size, self.anchors = model.size, model.anchors
        self.box_coder, self.postprocess_config = model.box_coder, model.postprocess_config
        self.outputs = outputs

    def forward(self, images):
        return {key: torch.cat([o[key] for o in self.outputs]) for key in self.outputs[0]}


def test_a_batch_mixing_both_paths_gives_each_images_detections(model, coco_images, monkeypatch):
    batch = preprocess(coco_images[:1], model.size)
    with torch.no_grad():
        settled = model(batch.images)  # trained-like: 300 keeps inside the window
    # the other image: every anchor says "one box, most likely class 1, then 2, 3 …": the
    # window holds class 1's pairs alone, which NMS reduces to one keep, so the full
    # per-class top-k must run
    box = torch.tensor([[40.0, 50.0, 200.0, 220.0]]).expand_as(model.anchors)
    codes = model.box_coder.encode(box, model.anchors)[None]
    logits = torch.linspace(5.0, -5.0, model.num_classes).expand(1, len(model.anchors), -1)
    crowded = {"cls_logits": logits.clone(), "bbox_regression": codes}
    replay = Replay(model, [settled, crowded])
    images = torch.zeros(2, 3, 320, 320, dtype=torch.uint8)
    calls, nms = [], graph.shifted_nms

    def spy(*args):
        selected = nms(*args)
        calls.append((args[0].shape[1], selected[:, 0].bincount(minlength=2).tolist()))
        return selected

    monkeypatch.setattr(graph, "shifted_nms", spy)
    with torch.no_grad():
        boxes, scores, labels, index = graph.DeployModel(replay)(images)
    (window, fast), (candidates, _) = calls
    assert fast[0] == 300 > fast[1]  # the window settles the first image, not the second
    assert window == graph.DeployModel.WINDOW and candidates == 90 * 300  # so the full path ran
    for image, raw in enumerate((settled, crowded)):
        [reference] = model.postprocess(raw, [(320, 320)])
        mine = index == image
        found = {"boxes": boxes[mine], "scores": scores[mine], "labels": labels[mine]}
        assert len(found["scores"]) == len(reference["scores"]) > 0
        assert match_detections(to_numpy(found), to_numpy(reference))[0] == 0
