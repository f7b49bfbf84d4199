"""detect export score_thresh=… max_detections=…: the exported graph (or the raw heads' decoder,
from the file's metadata) keeps only those detections, checked against PyTorch at the same
settings; a value that cannot work is one line naming it."""

from __future__ import annotations

import pytest
from support.configs import compose_config

from detect.cli.export import export_paths
from detect.errors import ConfigError
from detect.export.openvino_runtime import OpenVINODetector
from detect.export.runtime import OnnxDetector

pytestmark = pytest.mark.slow
THRESHOLD = 0.04  # the trained-like weights score their few boxes 0.03–0.08 (4 above 0.04)
MOST = 3


def export(ckpt, output, *overrides: str):
    config = compose_config("export", [f"ckpt={ckpt}", f"output={output}", *overrides])
    return export_paths(config)


@pytest.mark.parametrize(
    ("fmt", "runtime"), [("onnx", OnnxDetector), ("openvino", OpenVINODetector)]
)
def test_thresholds_travel_into_the_file(
    trained_like_ckpt, coco_val_dir, coco_images, tmp_path, fmt, runtime
):
    images = [image.numpy() for image in coco_images]
    suffix = {"onnx": ".onnx", "openvino": ".xml"}[fmt]
    [default] = export(
        trained_like_ckpt, tmp_path / f"all{suffix}", f"format={fmt}", "check.count=0"
    )
    everything = runtime(default)(images)
    above = [int((found["scores"] >= THRESHOLD).sum()) for found in everything]
    assert max(above) > MOST and sum(len(found["scores"]) for found in everything) > sum(above)
    [path] = export(
        trained_like_ckpt,
        tmp_path / f"few{suffix}",
        f"format={fmt}",
        f"score_thresh={THRESHOLD}",
        f"max_detections={MOST}",
        f"check.images_dir={coco_val_dir}",
        "check.count=3",  # the check runs PyTorch at the same settings: it must still pair
    )
    kept = runtime(path)(images)
    for few, every in zip(kept, everything, strict=True):
        expected = every["scores"][every["scores"] >= THRESHOLD][:MOST]  # sorted best first
        assert len(few["scores"]) == len(expected)
        assert few["scores"] == pytest.approx(expected, abs=1e-5)
    assert sum(len(found["scores"]) for found in kept) > 0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("score_thresh=1.5", "score_thresh=1.5: a score threshold is in [0, 1)"),
        ("max_detections=0", "max_detections=0: keep at least 1 (or null)"),
    ],
)
def test_a_threshold_that_cannot_work_is_named(trained_like_ckpt, tmp_path, override, message):
    with pytest.raises(ConfigError) as error:
        export(trained_like_ckpt, tmp_path / "m.onnx", override)
    assert str(error.value) == message
    assert not (tmp_path / "m.onnx").exists()
