"""Must-show 1: ONNX Runtime's detections equal PyTorch's on real images, for v2, v3_large and
v3_small (boxes within 1e-2 px, same labels, scores within 1e-4); the graph takes any batch and
image size."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from support.models import PLACEHOLDER_IDS, conditioned_model

from detect.data.categories import CategoryMap
from detect.export.onnx import (
    OPSET,
    compare_backends,
    export_bytes,
    match_detections,
    metadata_for,
)
from detect.export.runtime import OnnxDetector
from detect.models.predictor import Predictor

CATEGORIES = CategoryMap(PLACEHOLDER_IDS, tuple(f"class {i}" for i in PLACEHOLDER_IDS))


def exported(model) -> OnnxDetector:
    return OnnxDetector(export_bytes(model, metadata_for(model, CATEGORIES, {}, {})), threads=2)


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["v2", "v3_large", "v3_small"])
def test_onnxruntime_detections_equal_pytorch_on_real_images(backbone, coco_images):
    model = conditioned_model(backbone, coco_images)
    report = compare_backends(exported(model), model, coco_images)
    assert report.equal, report
    assert report.detections == 300 * len(coco_images)  # full lists: a real comparison
    assert report.max_box_error <= 1e-2 and report.max_score_error <= 1e-4
    scores = Predictor(model)(coco_images[:1])[0]["scores"]
    assert scores[0] > 3 * scores[-1]  # a spread of scores, not the untrained 1/91 plateau


@pytest.mark.slow
def test_graph_has_standard_ops_and_no_batchnorm(coco_images):
    model = conditioned_model("v3_small", coco_images, size=160)
    proto = onnx.load_from_string(export_bytes(model, metadata_for(model, CATEGORIES, {}, {})))
    ops = {node.op_type for node in proto.graph.node}
    assert {"HardSwish", "HardSigmoid", "NonMaxSuppression", "TopK", "Resize"} <= ops
    assert "BatchNormalization" not in ops  # folded into the convolutions
    assert proto.opset_import[0].version == OPSET


@pytest.mark.slow
def test_dynamic_batch_and_sizes_give_the_single_image_answers(coco_images):
    model = conditioned_model("v3_small", coco_images, size=160)
    detector = exported(model)
    singles = [detector([image.numpy()])[0] for image in coco_images[:3]]
    same_size = [coco_images[0].numpy()] * 3
    batched = detector(same_size)  # one run with batch 3
    for result in batched:
        assert match_detections(result, singles[0])[0] == 0
    mixed = detector([image.numpy() for image in coco_images[:3]])  # grouped by size
    for result, single in zip(mixed, singles, strict=True):
        assert match_detections(result, single)[0] == 0
    assert all(set(r) == {"boxes", "scores", "labels", "coco_ids", "names"} for r in mixed)
    grey = detector([coco_images[0][:1].numpy()])[0]  # 1 channel → replicated to RGB
    assert len(grey["scores"]) > 0


@pytest.mark.slow
def test_bad_inputs_are_refused_with_the_reason(coco_images, tmp_path):
    model = conditioned_model("v3_small", coco_images, size=160)
    detector = exported(model)
    with pytest.raises(ValueError, match="uint8 images, got float32"):
        detector([coco_images[0].numpy().astype(np.float32)])
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        detector([coco_images[0].numpy().transpose(1, 2, 0)])
