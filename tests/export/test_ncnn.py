"""NCNN (Must-show 2): detect export format=ncnn writes .param + .bin + .json through pnnx; the
ncnn package's own runtime loads them and its detections pair with PyTorch's on real images as
the ONNX tests pair them (fp32; fp16 storage told apart); eval, predict and Model run the files
with backend=ncnn, and a fresh process runs them with ncnn and numpy alone."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from support.fresh_process import detect_in_fresh_process
from support.models import PLACEHOLDER_IDS, conditioned_model
from support.tools import output, run_tool

from detect.data.categories import CategoryMap
from detect.errors import ConfigError, ExportError, MissingExtraError
from detect.export.onnx import compare_backends, metadata_for
from detect.export.variants import plan_export

pytest.importorskip("ncnn", reason="the ncnn extra is not installed")
pytest.importorskip("pnnx", reason="the ncnn extra is not installed")

CATEGORIES = CategoryMap(PLACEHOLDER_IDS, tuple(f"class {i}" for i in PLACEHOLDER_IDS))


@pytest.fixture(scope="module")
def exported(trained_like_ckpt: Path) -> tuple[Path, Path]:
    """The trained-like tiny checkpoint's NCNN files, fp32 and fp16, written by the tool."""
    result = run_tool(
        "export",
        f"ckpt={trained_like_ckpt}",
        "format=ncnn",
        "precisions=[fp32,fp16]",
        "check.count=4",
        timeout=600,
    )
    assert result.returncode == 0, output(result)[-3000:]
    assert "checked against PyTorch: 4 images" in result.stdout and ": equal" in result.stdout
    assert "fp16 against PyTorch" in result.stdout
    param = trained_like_ckpt.parent.parent / "export" / "last.ncnn.param"
    return param, param.with_name("last.ncnn.fp16.param")


@pytest.mark.slow
def test_ncnn_detections_pair_with_pytorchs_on_real_images(coco_images):
    """The deployed configuration (V3-Large, 320 px, 91 classes): every one of 300 detections
    per image paired within the ONNX tests' tolerances (0.01 px, 1e-4)."""
    from detect.export.ncnn import export_ncnn
    from detect.export.ncnn_runtime import NcnnDetector

    model = conditioned_model("v3_large", coco_images)
    files = export_ncnn(model, metadata_for(model, CATEGORIES, {}, {}, "raw"))
    report = compare_backends(NcnnDetector(files, threads=2), model, coco_images[:4])
    assert report.equal and report.detections == 4 * 300, report
    assert report.max_box_error <= 1e-2 and report.max_score_error <= 1e-4


@pytest.mark.slow
def test_the_files_written_load_back_fp16_smaller_and_close(exported, coco_images, tmp_path):
    """Read back in this process, and in a fresh one with ncnn and numpy alone."""
    from detect.export.ncnn_runtime import NcnnDetector

    fp32_param, fp16_param = exported
    for param in exported:
        assert param.is_file() and param.with_suffix(".bin").is_file()
        assert param.with_suffix(".json").is_file()
    fp32, fp16 = NcnnDetector(fp32_param, threads=1), NcnnDetector(fp16_param, threads=1)
    assert (fp32.metadata.precision, fp16.metadata.precision) == ("fp32", "fp16")
    assert fp32.metadata.names == ("circle", "square", "triangle")
    fp32_size = fp32_param.with_suffix(".bin").stat().st_size
    assert fp16_param.with_suffix(".bin").stat().st_size < 0.6 * fp32_size
    batch = coco_images[0].numpy()[None]
    for half, full in zip(fp16.run(batch), fp32.run(batch), strict=True):
        assert half.shape == full.shape
        assert np.abs(half - full).max() < 0.05 * np.abs(full).max()
    runtime = "detect.export.ncnn_runtime:NcnnDetector"
    result = detect_in_fresh_process(runtime, fp32_param, coco_images[0].numpy(), tmp_path)
    assert result["loaded"] == [] and result["scores"]
    assert set(result["names"]) <= {"circle", "square", "triangle"}


@pytest.mark.slow
def test_eval_predict_and_model_run_the_ncnn_files(exported, trained_like_ckpt, tmp_path):
    from detect import Model

    param, _ = exported
    model = Model(param, backend="ncnn", threads=1)
    reference = Model(trained_like_ckpt, backend="pytorch")
    assert model.backend == "ncnn" and "ncnn" in repr(model)
    assert model.val(progress=False)["AP"] == pytest.approx(
        reference.val(progress=False)["AP"], abs=1e-4
    )
    image = np.zeros((96, 128, 3), dtype=np.uint8)
    image[20:70, 30:90] = 255
    [ours] = model.predict(image, score_thresh=0.0)
    [theirs] = reference.predict(image, score_thresh=0.0)
    assert len(ours) == len(theirs) > 0
    np.testing.assert_allclose(ours.scores, theirs.scores, atol=1e-4)
    source = tmp_path / "image.png"
    cv2.imwrite(str(source), image)
    result = run_tool(
        "predict",
        f"ckpt={param}",
        "backend=ncnn",
        f"source={source}",
        f"output_dir={tmp_path / 'p'}",
        check=True,
    )
    assert f"| {source} | every_frame | 1 | 1 |" in result.stdout


def test_impossible_ncnn_exports_are_refused_by_name():
    with pytest.raises(ConfigError, match="not 'int8'"):
        plan_export("ncnn", ["fp32", "int8"])
    with pytest.raises(ConfigError, match="postprocess=false"):
        plan_export("ncnn", ["fp32"], postprocess=True)
    plan = plan_export("ncnn", ["fp32", "fp16"])
    assert (plan.suffix, plan.outputs, plan.precisions) == (".ncnn.param", "raw", ("fp32", "fp16"))


def test_a_missing_file_or_extra_is_one_line_naming_it(tmp_path, monkeypatch):
    from detect.export.ncnn import pnnx_executable
    from detect.export.ncnn_runtime import NcnnDetector

    param = tmp_path / "model.ncnn.param"
    param.write_text("7767517\n")
    with pytest.raises(ExportError, match=r"model\.ncnn\.bin not found.*format=ncnn"):
        NcnnDetector(param)
    monkeypatch.setitem(sys.modules, "ncnn", None)
    monkeypatch.setitem(sys.modules, "pnnx", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'detect-ssdlite\[ncnn\]'"):
        NcnnDetector(param)
    with pytest.raises(MissingExtraError, match=r"pip install 'detect-ssdlite\[ncnn\]'"):
        pnnx_executable()
