"""tools/gpu_check.py's dry run: every part that a CPU can run, small, and one line naming
what it skipped for want of CUDA."""

from __future__ import annotations

import json

import pytest
from support.tools import run_tool

from benchmarks.gpu_check import CUDA_ONLY


@pytest.mark.slow
def test_the_dry_run_runs_every_part_on_the_cpu_and_says_what_it_skipped(tmp_path):
    output = tmp_path / "gpu_check.json"
    result = run_tool("gpu_check", "dry=true", f"output={output}", check=True)
    assert result.stdout.count(f"skipped: {CUDA_ONLY}") == 1
    report = json.loads(output.read_text())
    assert report["cuda"] is False
    parts = {part["name"]: part for part in report["parts"]}
    assert list(parts) == [
        "training",
        "latency batch 1",
        "latency batch 2",
        "fast_dev_run",
        "SyncBN",
    ]
    assert all(part["peak_gpu_mib"] is None for part in parts.values())
    training = parts["training"]["text"]
    assert "ours ÷ torchvision:" in training and "differ" not in training  # same first loss
    assert "| data |" in training and "| forward |" in training  # the phases of our step
    for batch in (1, 2):
        latency = parts[f"latency batch {batch}"]["text"]
        assert "[pytorch]" in latency and "[onnxruntime]" in latency
        assert "not run here: pytorch_compiled" in latency
    assert "precision 32-true" in parts["fast_dev_run"]["text"]
    assert "BatchNorm layers convert to SyncBatchNorm" in parts["SyncBN"]["text"]
