"""The whole graph's windowed postprocess is exact: an image its window settles and one that
needs the full per-class top-k give PyTorch's detections, exported and eager, alone and mixed
in one batch."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnxruntime
import pytest
import torch
from support.models import PLACEHOLDER_IDS, conditioned_model
from torch import nn

from detect.data.categories import CategoryMap
from detect.export import graph
from detect.export.onnx import (
    OPSET,
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


@pytest.mark.slow
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


class Paths:
    """Spies on the graph's two NMS calls: each image's keeps in the window, the full path's
    candidate count (0: it had nothing to do), and the window's class counts, busiest first."""

    def __init__(self, monkeypatch) -> None:
        self.window_keeps: list[int] = []
        self.full_candidates = -1
        self.busiest: list[list[float]] = []
        window_nms, full_nms, cap = graph.classwise_nms, graph.shifted_nms, graph.cap_busiest

        def window(boxes, scores, config):  # the first call; the full path's NMS calls it too
            selected = window_nms(boxes, scores, config)
            if not self.window_keeps:
                self.window_keeps = selected[:, 0].bincount(minlength=boxes.shape[0]).tolist()
            return selected

        def full(boxes, *args):
            self.full_candidates = boxes.shape[1]
            return full_nms(boxes, *args)

        def capped(pairs, counts, limit):
            self.busiest = counts.topk(3, dim=-1).values.tolist()
            return cap(pairs, counts, limit)

        monkeypatch.setattr(graph, "classwise_nms", window)
        monkeypatch.setattr(graph, "shifted_nms", full)
        monkeypatch.setattr(graph, "cap_busiest", capped)


def detections_of(model, raws: list[dict]) -> list[dict]:
    """The graph's detections (eager) for prescribed raw outputs, image by image."""
    with torch.no_grad():
        boxes, scores, labels, index = graph.DeployModel(Replay(model, raws))(
            torch.zeros(len(raws), 3, model.size, model.size, dtype=torch.uint8)
        )
    return [
        {"boxes": boxes[index == i], "scores": scores[index == i], "labels": labels[index == i]}
        for i in range(len(raws))
    ]


def exported_detections_of(model, raws: list[dict]) -> list[dict]:
    """The same through ONNX Runtime: the graph exported with the raw outputs built in."""
    images = torch.zeros(len(raws), 3, model.size, model.size, dtype=torch.uint8)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's own deprecation notices
        torch.onnx.export(
            graph.DeployModel(Replay(model, raws)),
            (images,),
            buffer,
            opset_version=OPSET,
            dynamo=False,
        )
    session = onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    feed = {put.name: images.numpy() for put in session.get_inputs()}  # none: all folded in
    boxes, scores, labels, index = session.run(None, feed)
    return [
        {"boxes": boxes[index == i], "scores": scores[index == i], "labels": labels[index == i]}
        for i in range(len(raws))
    ]


def assert_equals_pytorch(model, raws: list[dict], found: list[dict]) -> None:
    for raw, mine in zip(raws, found, strict=True):
        [reference] = model.postprocess(raw, [(model.size, model.size)])
        assert len(mine["scores"]) == len(reference["scores"]) > 0
        assert match_detections(to_numpy(mine), to_numpy(reference))[0] == 0


def test_a_batch_mixing_both_paths_gives_each_images_detections(model, coco_images, monkeypatch):
    batch = preprocess(coco_images[:1], model.size)
    with torch.no_grad():
        settled = model(batch.images)  # trained-like: 300 keeps inside the window
    # the other image: every anchor says "one box, most likely class 1, then 2, 3 …": all
    # anchors tie, so no pair is above the window's floor and the full per-class top-k must run
    box = torch.tensor([[40.0, 50.0, 200.0, 220.0]]).expand_as(model.anchors)
    codes = model.box_coder.encode(box, model.anchors)[None]
    logits = torch.linspace(5.0, -5.0, model.num_classes).expand(1, len(model.anchors), -1)
    crowded = {"cls_logits": logits.clone(), "bbox_regression": codes}
    paths = Paths(monkeypatch)
    found = detections_of(model, [settled, crowded])
    assert paths.window_keeps[0] >= 300 > paths.window_keeps[1]  # the window settles image 0
    assert paths.full_candidates == 90 * 300  # so the full path ran, for image 1
    assert_equals_pytorch(model, [settled, crowded], found)


def synthetic_outputs(model, boosts: dict[int, float], seed: int) -> dict:
    """Raw outputs whose class logits are noise plus, for the ``boosts`` classes, the boost
    and a per-anchor level (so the anchors with the best best-class score also rank those
    classes high); random box codes (few overlaps)."""
    generator = torch.Generator().manual_seed(seed)
    anchors = len(model.anchors)
    logits = torch.randn(1, anchors, model.num_classes, generator=generator) * 0.3
    level = torch.rand(1, anchors, generator=generator) * 3.0
    for label, boost in boosts.items():
        logits[..., label] += boost + level + torch.randn(1, anchors, generator=generator) * 0.05
    codes = torch.randn(1, anchors, 4, generator=generator) * 0.5
    return {"cls_logits": logits, "bbox_regression": codes}


def test_a_class_over_the_cap_is_cut_inside_the_window(model, monkeypatch):
    # class 1 leads on every anchor, ten more classes follow closely: class 1 has far more
    # than 300 candidates in the window, the window still settles the image
    raw = synthetic_outputs(model, {1: 4.0, **{label: 3.5 for label in range(2, 12)}}, seed=1)
    paths = Paths(monkeypatch)
    found = detections_of(model, [raw])
    assert paths.busiest[0][0] > 300 >= paths.busiest[0][1]
    assert paths.window_keeps[0] >= 300 and paths.full_candidates == 0
    assert_equals_pytorch(model, [raw], found)


def test_a_third_class_over_the_cap_takes_the_full_path(model, monkeypatch):
    raw = synthetic_outputs(model, {1: 0.0, 2: 0.0, 3: 0.0}, seed=2)
    paths = Paths(monkeypatch)
    found = detections_of(model, [raw])
    assert min(paths.busiest[0]) > 300  # three classes over the cap: only two are cut
    assert paths.full_candidates == 90 * 300
    assert_equals_pytorch(model, [raw], found)


def test_tied_classes_rank_as_pytorch_ranks_them(model):
    # class 2 is a copy of class 1: every keep of class 1 has a twin of class 2, same score and
    # box; PyTorch ranks class 1's first (a stable sort of the class-major candidates), and so
    # must ONNX Runtime's TopK and NMS (the lower index first among equal scores)
    raw = synthetic_outputs(model, {1: 2.0, 2: 0.0, 3: 1.5}, seed=3)
    raw["cls_logits"][..., 2] = raw["cls_logits"][..., 1]
    [reference] = model.postprocess(raw, [(model.size, model.size)])
    [mine] = exported_detections_of(model, [raw])
    assert len(reference["labels"]) == 300 and (reference["labels"] == 2).sum() >= 100
    np.testing.assert_array_equal(mine["labels"], reference["labels"].numpy())
    np.testing.assert_allclose(mine["scores"], reference["scores"].numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(mine["boxes"], reference["boxes"].numpy(), rtol=0, atol=1e-4)
