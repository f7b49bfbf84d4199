"""detect bench's library side: our backends alone, each model with its FLOP floor."""

from __future__ import annotations

import math

import pytest

from detect.evaluation.backend_runners import Backends
from detect.evaluation.bench import bench
from detect.evaluation.bench_report import format_report


@pytest.mark.slow
def test_each_model_is_timed_alone_with_its_floor():
    report = bench(
        backbones=["v3_small", "v1"],
        widths=[0.5],
        sizes=[160],
        images_dir=None,
        runs=2,
        warmup=0,
        backends=Backends(("pytorch", "onnxruntime")),
    )
    small, v1 = "ssdlite v3_small ×0.5 160 reduced tail", "ssdlite v1 ×0.5 160"
    assert [row.name for row in report.rows] == [
        f"{name} [{backend}]"
        for name in (small, v1)
        for backend in ("pytorch", "onnxruntime", "onnxruntime, network only")
    ]
    assert all(row.peak_gflops > 0 for row in report.rows)  # the matrix product between runs
    assert report.rows[0].peak_gflops == report.rows[2].peak_gflops != report.rows[3].peak_gflops
    onnx = report.rows[1].latency
    assert math.isnan(onnx.preprocess.median) and onnx.total.median == onnx.network.median
    text = format_report(report)
    floors = [line for line in text.splitlines() if line.startswith("floor: ")]
    assert len(floors) == 2, text
    assert f"fastest of ours, {small} [" in floors[0] and f"fastest of ours, {v1} [" in floors[1]
    assert "network only]: " not in text  # the network alone is no pipeline to hold to the floor
    assert "its network alone" in text and "untrained weights" in text
    assert "torchvision" not in text
    assert list(report.to_dict()) == ["settings", "rows", "notes"]
