"""A raw-heads runtime decodes at its caller's threshold: ``detect predict`` (a stream) decodes
from its own score threshold (or its tracker's floor) instead of the file's 0.001, with the same
detections above it, and a shared runtime keeps its own settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.models import PLACEHOLDER_IDS, well_conditioned

from detect.data.categories import CategoryMap
from detect.export.onnx import export_bytes, metadata_for
from detect.export.runtime import OnnxDetector
from detect.inference.backends import ExportedPredictor
from detect.inference.stream import DetectionStream, StreamConfig
from detect.models import ssdlite


@pytest.fixture(scope="module")
def raw_predictor(coco_images) -> ExportedPredictor:
    model = well_conditioned(ssdlite("v3_small", 0.25, 91, 96), coco_images[:2])
    names = tuple(f"c{i}" for i in PLACEHOLDER_IDS)
    metadata = metadata_for(model, CategoryMap(PLACEHOLDER_IDS, names), {}, {}, "raw")
    return ExportedPredictor(OnnxDetector(export_bytes(model, metadata), threads=1))


def test_decoding_from_a_threshold_keeps_the_detections_above_it(raw_predictor, coco_images):
    file_threshold = raw_predictor.detector.metadata.decoder.score_thresh
    everything = raw_predictor(coco_images[:4])
    cut = min(0.5, float(np.median(torch.cat([d["scores"] for d in everything]).numpy())))
    decoding = raw_predictor.decoding_from(cut)
    assert decoding.detector.metadata.decoder.score_thresh == cut
    assert raw_predictor.detector.metadata.decoder.score_thresh == file_threshold  # its own
    assert decoding.detector.session is raw_predictor.detector.session  # one runtime
    for early, late in zip(decoding(coco_images[:4]), everything, strict=True):
        kept = late["scores"] > cut
        assert len(early["scores"]) == int(kept.sum())
        torch.testing.assert_close(early["scores"], late["scores"][kept])
        torch.testing.assert_close(early["boxes"], late["boxes"][kept])


def test_a_stream_decodes_at_its_own_threshold(raw_predictor):
    stream = DetectionStream(raw_predictor, [], StreamConfig(score_thresh=0.3))
    assert stream.detector.detector.metadata.decoder.score_thresh == 0.3
    assert raw_predictor.detector.metadata.decoder.score_thresh == 0.001
