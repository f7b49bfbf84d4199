"""The fuzz campaign's runtime share: every generated ``detections.jsonl``, MOT ``gt.txt``,
``counts.json`` and checkpoint model config is read to a clean one-line error or a counted
skip — never a traceback, a hang or a kept NaN (the rules: fuzz/campaign.py; the generators:
fuzz/strategies_runtime.py)."""

from __future__ import annotations

import pytest
from fuzz.campaign import SUITE, check
from fuzz.strategies_runtime import TARGETS
from hypothesis import given, settings
from hypothesis import strategies as st

# the checkpoint target builds a detector for each config inside the bounds: fewer cases
CASES = {"checkpoint model config": 40}


@pytest.mark.parametrize("target", TARGETS, ids=[target.name for target in TARGETS])
def test_malformed_runtime_inputs_get_an_error_line_or_a_counted_skip(target):
    @settings(SUITE, max_examples=CASES.get(target.name, 100))
    @given(data=st.data())
    def fuzz(data):
        check(target, data.draw(target.strategy, label=target.name))

    fuzz()
