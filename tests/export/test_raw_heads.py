"""A network-only export (postprocess=false): the numpy decoder finishes what the whole graph
does — the same detections on real images — with onnxruntime and numpy alone."""

from __future__ import annotations

import pytest
from support.models import PLACEHOLDER_IDS, conditioned_model

from detect.data.categories import CategoryMap
from detect.export.onnx import export_bytes, match_detections, metadata_for
from detect.export.runtime import RAW_OUTPUT_NAMES, OnnxDetector

CATEGORIES = CategoryMap(PLACEHOLDER_IDS, tuple(f"class {i}" for i in PLACEHOLDER_IDS))


@pytest.fixture(scope="module")
def exports(coco_images):
    model = conditioned_model("v3_large", coco_images)
    whole = OnnxDetector(export_bytes(model, metadata_for(model, CATEGORIES, {}, {})))
    raw = metadata_for(model, CATEGORIES, {}, {}, "raw")
    return whole, OnnxDetector(export_bytes(model, raw))


@pytest.mark.slow
def test_the_numpy_decoder_gives_the_whole_graphs_detections(exports, coco_images):
    whole, raw = exports
    assert [o.name for o in raw.session.get_outputs()] == list(RAW_OUTPUT_NAMES)
    assert raw.metadata.outputs == "raw" and raw.metadata.decoder.anchors.shape == (3234, 4)
    arrays = [image.numpy() for image in coco_images]
    for mine, reference in zip(raw(arrays), whole(arrays), strict=True):
        assert len(mine["scores"]) == len(reference["scores"]) == 300
        unmatched, box, score = match_detections(mine, reference)
        assert unmatched == 0 and box < 1e-3 and score < 1e-5, (unmatched, box, score)
        assert list(mine["names"]) == [CATEGORIES.names[label - 1] for label in mine["labels"]]


def test_a_batch_of_mixed_sizes_decodes_per_image(exports, coco_images):
    _, raw = exports
    arrays = [image.numpy() for image in coco_images[:3]]
    together = raw(arrays)
    for array, found in zip(arrays, together, strict=True):
        alone = raw([array])[0]
        assert match_detections(found, alone)[0] == 0
