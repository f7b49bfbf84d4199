"""tools/eval.py analysis=true: the report beside the metrics (here of a checkpoint exported to
ONNX Runtime in memory: the report reads only the detections, whichever backend made them);
bad report settings stop before anything runs."""

from __future__ import annotations

import json

import pytest
from support.tools import assert_one_line_error, run_tool


@pytest.mark.slow
def test_analysis_writes_the_report_beside_the_metrics(tiny_ckpt, tmp_path):
    out = tmp_path / "eval"
    result = run_tool(
        "eval",
        f"ckpt={tiny_ckpt}",
        "backend=onnxruntime",
        "analysis=true",
        "report.worst_images=2",
        f"output_dir={out}",
        check=True,
        timeout=180,
    )
    assert f"report: {out / 'report' / 'report.html'}" in result.stdout
    page = (out / "report" / "report.html").read_text()
    for part in ("Where the AP is lost", "Per class", "Confusion matrix", "Worst images"):
        assert part in page
    assert "circle" in page  # the checkpoint's own categories
    metrics = json.loads((out / "metrics.json").read_text())
    with open(out / "report" / "errors.csv") as file:
        header, overall = file.readline(), file.readline()
    assert header.startswith("category,AP@0.5,dAP cls") and overall.startswith("all,")
    assert float(overall.split(",")[1]) == pytest.approx(metrics["AP50"], abs=1e-4)


@pytest.mark.slow
def test_bad_report_settings_stop_before_the_model_runs(tiny_ckpt, tmp_path):
    result = run_tool(
        "eval",
        f"ckpt={tiny_ckpt}",
        "analysis=true",
        "report.background_iou=0.7",
        f"output_dir={tmp_path}",
        timeout=60,
    )
    assert_one_line_error(result, "report.background_iou (0.7) must be below")
    assert not (tmp_path / "metrics.json").exists()
