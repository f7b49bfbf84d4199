"""tools/bench_data.py: both data pipelines timed on the real subset, side by side."""

import pytest
from support.tools import run_tool

from benchmarks.loading import OURS, THEIRS


@pytest.mark.slow
def test_data_throughput_benchmark_prints_both_pipelines(coco_subset):
    result = run_tool("bench_data", "workers=0", "epochs=1", "split=val", check=True)
    # 158 val images in full batches of 16: 9 timed batches (after an untimed warm-up one)
    assert f"| {OURS} | 144 |" in result.stdout
    assert f"| {THEIRS} | 144 |" in result.stdout
