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
