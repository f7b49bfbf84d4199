"""benchmarks/decoder.py on a small model: the decoder's detections checked against the whole
graph's on real images before anything is timed, every figure measured."""

from __future__ import annotations

import math

import pytest
from support.models import well_conditioned

from benchmarks.decoder import measure
from detect.models import ssdlite


@pytest.mark.slow
def test_the_decoder_bench_checks_then_times(coco_images):
    model = well_conditioned(ssdlite("v3_small", 0.25, 91, 96), coco_images[:2])
    times = measure(model, coco_images[:2], runs=1, threads=1)
    assert times.images == 2 and times.unmatched == 0
    assert times.detections_eval > 0 and times.detections_predict <= times.detections_eval
    figures = (times.predict, times.eval, times.graph, times.network)
    assert all(value > 0 and math.isfinite(value) for value in figures)
    assert any("identical" in line for line in times.lines())
