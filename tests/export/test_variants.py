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


def test_parity_counts_each_detection_once_in_one_denominator():
    import numpy as np

    from detect.export.onnx import ParityReport, pair_detections

    def found(rows):
        return {
            "boxes": np.array([r[0] for r in rows], dtype=np.float32).reshape(-1, 4),
            "scores": np.array([r[1] for r in rows], dtype=np.float32),
            "labels": np.array([r[2] for r in rows], dtype=np.int64),
        }

    shared = [((0, 0, 10, 10), 0.9, 1), ((5, 5, 20, 20), 0.8, 2)]
    reference = found([*shared, ((30, 30, 40, 40), 0.7, 1)])  # one PyTorch alone has
    ours = found([*shared, ((50, 50, 60, 60), 0.75, 3), ((1, 1, 2, 2), 0.72, 1)])  # two extra
    pairing = pair_detections(ours, reference)
    assert (pairing.unmatched, pairing.distinct) == (3, 5)  # 2 pairs + 1 + 2 singletons
    line = str(ParityReport(1, pairing.distinct, pairing.unmatched, 0.0, 0.0))
    assert line.startswith("1 images: NOT EQUAL, 3 of 5 detections unmatched;")
    same = pair_detections(reference, reference)
    assert (same.unmatched, same.distinct) == (0, 3)
    assert str(ParityReport(1, 3, 0, 0.0, 0.0)).startswith("1 images: equal, 0 of 3 detections")
