"""export_model on plain arguments: a checkpoint's files written, loaded by their runtime and
checked against PyTorch; the output and image choices it is given."""

from __future__ import annotations

from pathlib import Path

import torch

from detect.data.images import read_image
from detect.data.samples import sample_images_dir, sample_paths
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
    checkpoint.run_config = {}  # as a torchvision: detector: no dataset recorded
    said: list[str] = []
    samples = checkpoint_images(checkpoint, None, "val", 8, "x", said.append)
    files = sample_paths()
    assert len(samples) == len(files) == 6  # at most as many as ship
    for image, file in zip(samples, files, strict=True):
        assert image.dtype == torch.uint8 and image.shape[0] == 3
        assert image.shape[1:] == read_image(file).shape[:2]  # real photos, read back
    assert said == [
        f"x records no dataset: using the 6 sample photos shipped with detect "
        f"({sample_images_dir()}); name a folder of your own images with "
        "check.images_dir=… / calibration.images_dir=…"
    ]
    assert len(checkpoint_images(checkpoint, None, "val", 2, "x", said.append)) == 2


def test_the_sample_photos_ship_with_their_licences():
    readme = (sample_images_dir() / "README.md").read_text()
    for file in sample_paths():
        assert f"| {file.name} |" in readme
    assert sum(file.stat().st_size for file in sample_paths()) < 500_000
    assert "detect/data/sample_images" in str(sample_images_dir())


def test_the_default_output_is_the_runs_export_folder(tmp_path):
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert default_output(ckpt, ".onnx") == tmp_path / "run" / "export" / "last.onnx"
    assert default_output(tmp_path / "a.ckpt", ".tflite") == tmp_path / "export" / "a.tflite"
    published = default_output("torchvision:ssdlite320_mobilenet_v3_large", ".onnx")
    assert published == Path("outputs/export/ssdlite320_mobilenet_v3_large.onnx")
