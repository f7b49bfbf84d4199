"""An export asked for on plain arguments: refused by name before anything is read, or written
with its variants beside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from detect.errors import ConfigError
from detect.export.variants import ExportPlan, plan_export, variant_path


def test_the_plan_fills_in_postprocess_per_format():
    assert plan_export("onnx") == ExportPlan("onnx", ("fp32",), postprocess=True)
    plan = plan_export("tflite", ["fp32", "fp16"])
    assert plan == ExportPlan("tflite", ("fp32", "fp16"), postprocess=False)
    assert (plan.outputs, plan.suffix, plan.calibrated) == ("raw", ".tflite", False)
    assert plan_export("onnx", ["fp32", "int8"], postprocess=False).calibrated


def test_an_export_that_cannot_be_written_is_refused_by_name():
    with pytest.raises(ConfigError, match="unknown format 'tf'; choose one of onnx, tflite"):
        plan_export("tf")
    with pytest.raises(ConfigError, match="format=tflite holds the network alone"):
        plan_export("tflite", postprocess=True)
    with pytest.raises(ConfigError, match="precision 'fp16' for format=onnx: choose fp32 or int8"):
        plan_export("onnx", ["fp32", "fp16"])


def test_variants_sit_beside_the_fp32_file():
    path = Path("run/export/last.onnx")
    assert variant_path(path, "fp32") == path
    assert variant_path(path, "int8") == Path("run/export/last.int8.onnx")


def test_a_refused_export_leaves_no_file_under_the_name_asked_for(coco_images, tmp_path):
    """An fp32 export is checked before it is written: here its runtime is a genuinely
    different network (another seed), so the check refuses it and the path stays free."""
    from support.models import PLACEHOLDER_IDS, well_conditioned

    from detect.data.categories import CategoryMap
    from detect.errors import ExportError
    from detect.export import variants
    from detect.export.onnx import export_bytes, metadata_for
    from detect.export.runtime import OnnxDetector
    from detect.models import ssdlite

    images = coco_images[:2]
    model = well_conditioned(ssdlite("v3_small", 0.25, 91, 96), images, seed=0)
    other = well_conditioned(ssdlite("v3_small", 0.25, 91, 96), images, seed=1)
    names = tuple(f"c{i}" for i in PLACEHOLDER_IDS)
    metadata = metadata_for(model, CategoryMap(PLACEHOLDER_IDS, names), {}, {})
    data = export_bytes(other, metadata)
    output = tmp_path / "model.onnx"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(variants, "export_variant", lambda *a, **k: (data, OnnxDetector(data)))
        with pytest.raises(ExportError, match="disagrees with PyTorch"):
            variants.write_variants(
                model, metadata, variants.plan_export("onnx"), output, check_images=images
            )
    assert list(tmp_path.iterdir()) == []
    written = variants.write_variants(
        model, metadata, variants.plan_export("onnx"), output, check_images=images
    )
    assert [variant.path for variant in written] == [output] and output.is_file()
