"""The fuzz campaign's dataset share: every generated YOLO label file, data.yaml, VOC XML and
COCO json is read to a clean one-line error or a counted skip — never a traceback, a hang or a
kept NaN (the rules: fuzz/campaign.py; the generators: fuzz/strategies_data.py)."""

from __future__ import annotations

import pytest
from fuzz.campaign import SUITE, check
from fuzz.strategies_data import TARGETS
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize("target", TARGETS, ids=[target.name for target in TARGETS])
@SUITE
@given(data=st.data())
def test_malformed_datasets_get_an_error_line_or_a_counted_skip(target, data):
    check(target, data.draw(target.strategy, label=target.name))
