"""tools/export.py end to end: the fp32 and int8 files, the on-the-spot check, and the same
model evaluated through tools/eval.py on PyTorch and on ONNX Runtime (backend=onnxruntime)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from support.checkpoints import make_checkpoint
from support.models import well_conditioned
from support.tools import assert_one_line_error, run_tool

from detect.export.runtime import OnnxDetector
from detect.weights.checkpoint import MODEL_PREFIX, load_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, coco_images) -> Path:
    """A shapes checkpoint (v3_small ×0.25, 96 px) with well-conditioned weights."""
    folder = tmp_path_factory.mktemp("export")
    (folder / "run" / "checkpoints").mkdir(parents=True)
    path = make_checkpoint(folder / "run" / "checkpoints" / "last.ckpt", folder / "shapes")
    model = well_conditioned(load_checkpoint(path).model, coco_images)
    raw = torch.load(path, weights_only=True)
    for key, value in model.state_dict().items():
        raw["state_dict"][MODEL_PREFIX + key] = value
    torch.save(raw, path)
    return path


@pytest.mark.slow
def test_export_writes_checked_fp32_and_int8_models(checkpoint, coco_val_dir):
    result = run_tool(
        "export.py",
        f"ckpt={checkpoint}",
        "int8=true",
        f"check.images_dir={coco_val_dir}",
        "check.count=4",
        "calibration.count=8",
    )
    assert result.returncode == 0, result.stderr
    fp32 = checkpoint.parents[1] / "export" / "last.onnx"
    int8 = fp32.with_name("last.int8.onnx")
    assert f"wrote {fp32}" in result.stdout and f"wrote {int8}" in result.stdout
    assert "checked against PyTorch: 4 images" in result.stdout and "equal" in result.stdout
    (told,) = [line for line in result.stdout.splitlines() if "× the time" in line]
    assert "× the time" in told and "AP on its val split (6 images)" in told
    assert int8.stat().st_size < fp32.stat().st_size
    categories = load_checkpoint(checkpoint).categories
    for path, precision in ((fp32, "fp32"), (int8, "int8")):
        metadata = OnnxDetector(path).metadata
        assert metadata.precision == precision and metadata.names == categories.names
        assert metadata.size == 96 and metadata.run_config["data"]["root"]


@pytest.mark.slow
def test_eval_on_onnxruntime_matches_pytorch(checkpoint, tmp_path):
    run_tool("export.py", f"ckpt={checkpoint}", "check.count=0")
    exported = checkpoint.parents[1] / "export" / "last.onnx"
    metrics = {}
    for name, overrides in {
        "pytorch": [f"ckpt={checkpoint}"],
        "onnx file": [f"ckpt={exported}", "backend=onnxruntime", "threads=1"],
        "ckpt on onnxruntime": [f"ckpt={checkpoint}", "backend=onnxruntime"],
    }.items():
        output = tmp_path / name.replace(" ", "_")
        result = run_tool("eval.py", *overrides, f"output_dir={output}")
        assert result.returncode == 0, result.stderr
        metrics[name] = json.loads((output / "metrics.json").read_text())
    for name in ("onnx file", "ckpt on onnxruntime"):
        for key in ("AP", "AP50", "AR100"):
            assert metrics[name][key] == pytest.approx(metrics["pytorch"][key], abs=1e-4), name


@pytest.mark.slow
def test_export_errors_name_the_problem(checkpoint, tmp_path):
    result = run_tool("export.py", f"ckpt={tmp_path / 'missing.ckpt'}")
    assert_one_line_error(result, "checkpoint not found")
    exported = checkpoint.parents[1] / "export" / "last.onnx"
    run_tool("export.py", f"ckpt={checkpoint}", "check.count=0", check=True)
    result = run_tool("eval.py", f"ckpt={exported}", "backend=pytorch")
    assert_one_line_error(result, "run it with backend=onnxruntime")
    result = run_tool("eval.py", f"ckpt={tmp_path / 'nothing.onnx'}", "backend=onnxruntime")
    assert_one_line_error(result, "exported model not found")
