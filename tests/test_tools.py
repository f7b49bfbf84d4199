"""The command-line tools, run as a user runs them."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
needs_real_data = pytest.mark.skipif(
    not (ROOT.parent / "shared" / "data" / "coco_subset").is_dir(),
    reason="real data not found at ../shared/data/coco_subset: check out ../shared beside it",
)


def run_tool(script: str, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / script), *overrides],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def test_summary_prints_layers_taps_and_totals():
    result = run_tool("summary.py", "backbone=v2", "backbone.width_mult=0.5", "size=320")
    assert result.returncode == 0, result.stderr
    assert "| block1.depthwise | depthwise | 16 | 16 | 3 | 160 |" in result.stdout
    assert "C4: 288 channels, stride 16, 20×20" in result.stdout
    assert "C5: 1280 channels, stride 32, 10×10" in result.stdout


def test_cost_tool_prints_the_table():
    result = run_tool("cost.py", "backbones=[v3_small]", "widths=[1.0]")
    assert result.returncode == 0, result.stderr
    assert "| v3_small | 1 | 2.543 | 2.543 | 2.5 |" in result.stdout


def test_unknown_backbone_group_option_names_the_choices():
    result = run_tool("summary.py", "backbone=v4")
    assert result.returncode != 0
    assert "Could not find 'backbone/v4'" in result.stderr
    assert "v3_large" in result.stderr


def test_unknown_backbone_key_is_rejected():
    result = run_tool("summary.py", "backbone=v1", "backbone.reduced_tail=true")
    assert result.returncode != 0
    assert "Key 'reduced_tail' is not in struct" in result.stderr


@needs_real_data
def test_check_dataset_reports_and_writes_json(tmp_path):
    result = run_tool("check_dataset.py", "splits=[val]", f"report_dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert (
        "158 images, 1408 boxes kept; 0 images skipped, 0 boxes dropped, 16 crowd" in result.stdout
    )
    report = json.loads((tmp_path / "val.json").read_text())
    assert report["boxes_per_category"]["person"] == 323


def test_check_dataset_names_a_missing_dataset():
    result = run_tool("check_dataset.py", "data=coco", "data.root=/nonexistent/coco")
    assert result.returncode != 0
    assert "image folder not found: /nonexistent/coco/train2017; check data.root" in result.stderr


@needs_real_data
def test_data_throughput_benchmark_prints_both_pipelines():
    result = run_tool("bench_data.py", "workers=0", "epochs=1", "split=val")
    assert result.returncode == 0, result.stderr
    assert "| detect: albumentations ssdlite | 158 |" in result.stdout
    assert "| torchvision v2 reference | 158 |" in result.stdout
