"""detect bench's deployment matrix: backends=[all] reads every registered backend; each row
carries its file size and its parity with PyTorch on real images (quantised rows told apart); a
backend whose extra is missing is a note naming the extra, not a failure."""

from __future__ import annotations

import sys

import pytest
from support.paths import needs_real_data

from detect.evaluation.backend_runners import BACKEND_NAMES, Backends
from detect.evaluation.bench import BenchReport, BenchRun, checkpoint_subject, families
from detect.evaluation.bench_report import format_report
from detect.export.onnx import export_bytes, metadata_for
from detect.weights.checkpoint import load_checkpoint


def test_all_is_every_registered_backend_grouped_by_runtime():
    assert tuple(Backends(["all"]).names) == BACKEND_NAMES
    groups = families(BACKEND_NAMES)
    assert sorted(name for group in groups for name in group) == sorted(BACKEND_NAMES)
    assert ["onnxruntime_web"] in groups  # the browser needs more than onnxruntime
    assert ["litert", "litert_fp16", "litert_int8"] in groups  # one conversion for the three


@needs_real_data
@pytest.mark.slow
def test_matrix_rows_carry_size_and_parity_and_a_missing_extra_is_a_note(
    trained_like_ckpt, coco_val_dir, monkeypatch
):
    monkeypatch.setitem(sys.modules, "openvino", None)  # as on a machine without the extra
    names = ("pytorch", "onnxruntime", "onnxruntime_int8", "openvino", "openvino_int8")
    backends = Backends(names, coco_val_dir.parent / "train2017", calibration_images=2)
    run = BenchRun.start(
        device="cpu",
        num_threads=1,
        batch_size=1,
        warmup=0,
        runs=2,
        images_dir=coco_val_dir,
        seed=0,
        backends=backends,
    )
    run.matrix = True  # as backends=[all] sets it
    with run.threads():
        measured = run.measure(checkpoint_subject(trained_like_ckpt))
    rows = {row.name.split("[")[1][:-1]: row for row in measured}
    assert list(rows) == ["pytorch", "onnxruntime", "onnxruntime, network only", "onnxruntime_int8"]
    assert rows["pytorch"].file_bytes is None and rows["pytorch"].parity.startswith("equal (")
    checkpoint = load_checkpoint(trained_like_ckpt)
    metadata = metadata_for(
        checkpoint.model, checkpoint.categories, checkpoint.model_config, {}, "detections"
    )
    assert rows["onnxruntime"].file_bytes == len(export_bytes(checkpoint.model, metadata))
    assert rows["onnxruntime"].parity.startswith("equal (")
    assert " 0 det" not in rows["onnxruntime"].parity  # trained-like: detections to pair
    assert rows["onnxruntime_int8"].parity.endswith("(quantised)")
    assert rows["onnxruntime_int8"].file_bytes < rows["onnxruntime"].file_bytes
    assert run.notes == [
        "skipped openvino, openvino_int8: OpenVINO is not installed here: "
        "pip install 'detect-ssdlite[openvino]'"
    ]
    text = format_report(BenchReport(list(rows.values()), run.settings, run.notes))
    matrix = text[text.index("deployment matrix") :]
    assert "| file (MB) | parity with PyTorch |" in matrix and "÷ PyTorch eager" in matrix
    assert "[onnxruntime] | 0." in matrix and "| 1.00× |" in matrix  # eager ÷ itself
    assert "note: skipped openvino, openvino_int8: OpenVINO is not installed" in text
