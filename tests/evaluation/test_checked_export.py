"""export_model on plain arguments: a checkpoint's files written, loaded by their runtime and
checked against PyTorch; the output and image choices it is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from detect.errors import DatasetError
from detect.evaluation.checked_export import checkpoint_images, default_output, export_model
from detect.export.runtime import OnnxDetector
from detect.export.variants import plan_export
from detect.weights.checkpoint import load_checkpoint


def test_export_model_writes_an_onnx_file_onnx_runtime_runs(tiny_ckpt, tmp_path):
    checkpoint = load_checkpoint(tiny_ckpt)
    images = checkpoint_images(checkpoint, None, "val", 2, str(tiny_ckpt))
    lines: list[str] = []
    output = tmp_path / "tiny.onnx"
    written = export_model(
        checkpoint, plan_export("onnx"), output, check_images=images, threads=1, say=lines.append
    )
    assert written == [output]
    metadata = OnnxDetector(output, threads=1).metadata
    assert metadata.names == checkpoint.categories.names and metadata.precision == "fp32"
    assert lines[0].startswith(f"wrote {output} (") and "onnx, fp32, detections" in lines[0]
    assert lines[1].startswith("checked against PyTorch: 2 images") and "equal" in lines[1]


def test_images_come_from_the_checkpoints_split_or_a_folder(tiny_ckpt, coco_val_dir):
    checkpoint = load_checkpoint(tiny_ckpt)
    assert [image.shape[1:] for image in checkpoint_images(checkpoint, None, "train", 3, "x")] == [
        (96, 96)
    ] * 3
    assert len(checkpoint_images(checkpoint, coco_val_dir, "val", 2, "x")) == 2
    checkpoint.run_config = {}
    with pytest.raises(DatasetError, match="x records no dataset to read images from"):
        checkpoint_images(checkpoint, None, "val", 1, "x")


def test_the_default_output_is_the_runs_export_folder(tmp_path):
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert default_output(ckpt, ".onnx") == tmp_path / "run" / "export" / "last.onnx"
    assert default_output(tmp_path / "a.ckpt", ".tflite") == tmp_path / "export" / "a.tflite"
    published = default_output("torchvision:ssdlite320_mobilenet_v3_large", ".onnx")
    assert published == Path("outputs/export/ssdlite320_mobilenet_v3_large.onnx")
