"""LiteRT, the phone format: tools/export.py format=tflite writes a .tflite whose detections
pair with PyTorch's on real images, which eval and predict run (backend=litert), and which a
fresh process runs with ai_edge_litert and numpy alone (neither torch nor onnxruntime)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support.checkpoints import make_trained_like_checkpoint
from support.fresh_process import detect_in_fresh_process
from support.tools import output, run_tool

from detect.export.onnx import match_detections, to_numpy
from detect.models.predictor import Predictor
from detect.weights.checkpoint import load_checkpoint

pytest.importorskip("litert_torch", reason="the litert extra is not installed")
pytestmark = pytest.mark.slow  # one .tflite conversion (about 30 s) serves the module


@pytest.fixture(scope="module")
def exported(tmp_path_factory, coco_images) -> tuple[Path, Path]:
    """A trained-like tiny checkpoint and its .tflite, written by the tool (one conversion)."""
    folder = tmp_path_factory.mktemp("litert")
    (folder / "run" / "checkpoints").mkdir(parents=True)
    path = make_trained_like_checkpoint(
        folder / "run" / "checkpoints" / "last.ckpt", folder / "shapes", coco_images
    )
    result = run_tool("export", f"ckpt={path}", "format=tflite", "check.count=4", timeout=600)
    assert result.returncode == 0, output(result)[-3000:]
    assert "checked against PyTorch: 4 images" in result.stdout and "equal" in result.stdout
    return path, folder / "run" / "export" / "last.tflite"


def test_litert_detections_pair_with_pytorchs_on_real_images(exported, coco_images):
    from detect.export.litert_runtime import LiteRTDetector

    checkpoint_file, tflite = exported
    detector = LiteRTDetector(tflite, threads=1)
    assert detector.metadata.outputs == "raw" and detector.metadata.precision == "fp32"
    reference = Predictor(load_checkpoint(checkpoint_file).model)(coco_images)
    results = detector([image.numpy() for image in coco_images])
    for mine, theirs in zip(results, reference, strict=True):
        assert len(mine["scores"]) == len(theirs["scores"]) > 0
        unmatched, box, score = match_detections(mine, to_numpy(theirs))
        assert unmatched == 0, (unmatched, box, score)


def test_eval_and_predict_run_the_tflite_file(exported, tmp_path, coco_val_dir):
    checkpoint_file, tflite = exported
    metrics = {}
    for name, ckpt in (("pytorch", checkpoint_file), ("litert", tflite)):
        out = tmp_path / name
        run_tool("eval", f"ckpt={ckpt}", f"backend={name}", f"output_dir={out}", check=True)
        metrics[name] = json.loads((out / "metrics.json").read_text())
    assert metrics["litert"]["AP"] == pytest.approx(metrics["pytorch"]["AP"], abs=1e-4)
    image = sorted(coco_val_dir.glob("*.jpg"))[0]
    result = run_tool(
        "predict", f"ckpt={tflite}", f"source={image}", f"output_dir={tmp_path / 'p'}", check=True
    )
    assert f"| {image} | every_frame | 1 | 1 |" in result.stdout


def test_a_fresh_process_runs_it_without_torch_or_onnxruntime(exported, coco_images, tmp_path):
    _, tflite = exported
    runtime = "detect.export.litert_runtime:LiteRTDetector"
    result = detect_in_fresh_process(runtime, tflite, coco_images[0].numpy(), tmp_path)
    assert result["loaded"] == [] and result["scores"]
    assert set(result["names"]) <= {"circle", "square", "triangle"}


def test_the_int8_variant_loads_and_stays_close_to_fp32(exported, coco_images):
    """The quantiser stores int8 weights after the flatbuffer; the metadata step keeps them."""
    from detect.export.litert import export_tflite
    from detect.export.litert_runtime import LiteRTDetector

    checkpoint_file, tflite = exported
    fp32 = LiteRTDetector(tflite, threads=1)
    model = load_checkpoint(checkpoint_file).model
    data = export_tflite(model, fp32.metadata, "int8", converted=tflite.read_bytes())
    quantised = LiteRTDetector(data, threads=1)
    assert quantised.metadata.precision == "int8"
    assert len(data) < tflite.stat().st_size
    batch = coco_images[0].numpy()[None]
    for ours, reference in zip(quantised.run(batch), fp32.run(batch), strict=True):
        assert ours.shape == reference.shape
        assert np.abs(ours - reference).max() < 0.1 * np.abs(reference).max()
