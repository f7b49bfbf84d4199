"""The small command-line tools, run as a user runs them."""

import json

import pytest
from support.paths import needs_real_data
from support.tools import assert_one_line_error, run_tool


@pytest.mark.slow
def test_summary_prints_layers_taps_and_totals():
    result = run_tool("summary", "backbone=v2", "backbone.width_mult=0.5", "size=320", check=True)
    assert "| block1.depthwise | depthwise | 16 | 16 | 3 | 160 |" in result.stdout
    assert "C4: 288 channels, stride 16, 20×20" in result.stdout
    assert "C5: 1280 channels, stride 32, 10×10" in result.stdout


@pytest.mark.slow
def test_cost_tool_prints_the_table():
    result = run_tool("cost", "backbones=[v3_small]", "widths=[1.0]", check=True)
    assert "| v3_small | 1 | 2.543 | 2.543 | 2.5 |" in result.stdout


@pytest.mark.slow
def test_unknown_backbone_group_option_names_the_choices():
    result = run_tool("summary", "backbone=v4")
    assert result.returncode != 0
    assert "Could not find 'backbone/v4'" in result.stderr
    assert "v3_large" in result.stderr


@pytest.mark.slow
def test_unknown_backbone_key_is_rejected():
    result = run_tool("summary", "backbone=v1", "backbone.reduced_tail=true")
    assert result.returncode != 0
    assert "unknown key 'backbone.reduced_tail'" in result.stderr


@pytest.mark.slow
@needs_real_data
def test_check_dataset_reports_once_and_writes_json(tmp_path):
    result = run_tool("check_dataset", "splits=[val]", f"report_dir={tmp_path}", check=True)
    summary = "158 images, 1408 boxes kept; 0 images skipped, 0 boxes dropped, 16 crowd"
    assert result.stdout.count(summary) == 1
    report = json.loads((tmp_path / "val.json").read_text())
    assert report["boxes_per_category"]["person"] == 323


@pytest.mark.slow
def test_check_dataset_names_a_missing_dataset():
    result = run_tool("check_dataset", "data=coco", "data.root=/nonexistent/coco")
    assert_one_line_error(
        result, "image folder not found: /nonexistent/coco/train2017; check data.root"
    )
