"""The fuzz campaign's model-file share: exported ONNX, NCNN, OpenVINO and LiteRT files with
one hostile edit each are loaded and asked for detections -- a clean one-line error or finite
detections, never a traceback, a hang, a kept NaN or a crash (the rules: fuzz/campaign.py; the
generators: fuzz/strategies_models.py). Slow: the base exports take ~30 s to write."""

from __future__ import annotations

import pytest
from fuzz.campaign import SUITE, check
from fuzz.strategies_models import TARGETS
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS, ids=[target.name for target in TARGETS])
def test_malformed_model_files_get_an_error_line_or_finite_detections(target):
    @settings(SUITE, max_examples=30)
    @given(data=st.data())
    def fuzz(data):
        check(target, data.draw(target.strategy, label=target.name))

    fuzz()
