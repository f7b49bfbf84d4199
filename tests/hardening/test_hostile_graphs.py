"""Issue 38: only graphs our exporters could have written run. Each runtime's loader checks a
file against what ``detect export`` emits before the first image and refuses anything else in
one line: a Loop that would spin forever, a custom op, an NCNN Interp asking 60000², a .bin of
another export, every stored-metadata case of the issue -- within 2 s and without a segfault
under a 6 GB address-space cap."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hostile_models import (
    allocating_graph,
    custom_op_graph,
    fine_graph,
    loop_graph,
    metadata_cases,
    nonfinite_graph,
    shifted,
    with_interp,
    write_ncnn_copy,
)

from detect.errors import ExportError
from detect.export.metadata import ExportMetadata
from detect.export.runtime import OnnxDetector

CAP = 6 * 1024**3
IMAGE = np.zeros((3, 48, 64), np.uint8)


@pytest.fixture(scope="module")
def ncnn_export(tiny_ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real NCNN export (pnnx) of the tiny checkpoint: its .param, with .bin and .json."""
    from detect.evaluation.checked_export import export_model
    from detect.export.variants import plan_export
    from detect.weights.checkpoint import load_checkpoint

    output = tmp_path_factory.mktemp("ncnn") / "model.param"
    export_model(load_checkpoint(tiny_ckpt), plan_export("ncnn", ["fp32"]), output)
    return output


def one_line(error: pytest.ExceptionInfo, *phrases: str) -> str:
    text = str(error.value)
    assert "\n" not in text, text
    for phrase in phrases:
        assert phrase in text, text
    return text


def test_a_graph_of_ours_in_form_loads_and_answers():
    """The control: the hand-made graph with our input, outputs and metadata is admitted."""
    [found] = OnnxDetector(fine_graph())([IMAGE])
    assert found["names"].tolist() == ["circle"]


@pytest.mark.parametrize(
    ("make", "phrases"),
    [
        (loop_graph, ["Loop", "refused before running it"]),
        (custom_op_graph, ["custom domain 'com.example'"]),
    ],
    ids=["Loop of 1e15 turns", "custom op"],
)
def test_a_graph_we_never_write_is_refused_unrun(make, phrases):
    began = time.perf_counter()
    with pytest.raises(ExportError) as error:
        OnnxDetector(make())
    one_line(error, *phrases)
    assert time.perf_counter() - began < 2


def test_a_graph_allocating_4e14_bytes_is_one_line_at_load():
    """Before: an onnxruntime traceback at the first image."""
    with pytest.raises(ExportError) as error:
        OnnxDetector(allocating_graph())
    one_line(error, "the runtime failed")


def test_nan_boxes_and_labels_of_no_category_are_dropped_and_counted(caplog):
    """Before: a drawing traceback, IndexError, and NaN/Infinity in detections.jsonl."""
    detector = OnnxDetector(nonfinite_graph())
    [found] = detector([IMAGE])
    assert found["names"].tolist() == ["triangle"]
    assert np.isfinite(found["boxes"]).all()
    assert detector.dropped >= 4  # the probe at load saw them too
    json.dumps(found["boxes"].tolist(), allow_nan=False)
    assert "dropped 4 detection(s)" in caplog.text


def test_every_metadata_case_is_refused_in_one_line_from_onnx(ncnn_export):
    good = json.loads(ncnn_export.with_suffix(".json").read_text())
    good = {**good, "outputs": "detections", "decoder": good["decoder"]}
    for case, text in metadata_cases(good).items():
        with pytest.raises(ExportError) as error:
            OnnxDetector(fine_graph(text))
        assert "\n" not in str(error.value), case


def test_ncnn_export_of_ours_loads(ncnn_export):
    from detect.export.ncnn_runtime import NcnnDetector

    assert NcnnDetector(ncnn_export)([IMAGE])[0]["boxes"].shape[1] == 4


def ncnn_cases(source: Path, folder: Path) -> dict[str, Path]:
    """Every NCNN case: graph edits, weights of another export, metadata."""
    param, weights = source.read_bytes(), source.with_suffix(".bin").read_bytes()
    good = json.loads(source.with_suffix(".json").read_text())
    cases = {
        "Interp 60000²": write_ncnn_copy(
            source, folder / "i60000", param=with_interp(param, 60000)
        ),
        "Interp 8000²": write_ncnn_copy(source, folder / "i8000", param=with_interp(param, 8000)),
        ".bin shifted by 4 bytes": write_ncnn_copy(
            source, folder / "shift", weights=shifted(weights)
        ),
        "a layer type we never write": write_ncnn_copy(
            source, folder / "layer", param=param.replace(b"\nHardSwish ", b"\nDeconvolution ", 1)
        ),
        "anchors cut to 10": write_ncnn_copy(
            source,
            folder / "anchors10",
            metadata=json.dumps(
                {**good, "decoder": {**good["decoder"], "anchors": good["decoder"]["anchors"][:10]}}
            ),
        ),
        "1000× the anchors": write_ncnn_copy(
            source,
            folder / "anchors1000",
            metadata=json.dumps(
                {
                    **good,
                    "decoder": {**good["decoder"], "anchors": good["decoder"]["anchors"] * 1000},
                }
            ),
        ),
        "no weights record": write_ncnn_copy(
            source,
            folder / "norecord",
            metadata=json.dumps({k: v for k, v in good.items() if k != "weights"}),
        ),
    }
    for index, (case, text) in enumerate(metadata_cases(good).items()):
        cases[f"metadata: {case}"] = write_ncnn_copy(source, folder / f"meta{index}", metadata=text)
    return cases


# the child loads each case under the cap and prints one JSON line per case
CAPPED = """
import json, resource, sys, time
cap = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
from detect.errors import ExportError
from detect.export.metadata import ExportMetadata
from detect.export.ncnn_runtime import NcnnDetector
from detect.export.runtime import OnnxDetector
for line in sys.stdin:
    kind, path = json.loads(line)
    began = time.perf_counter()
    try:
        detector = (NcnnDetector if kind == "ncnn" else OnnxDetector)(path)
        outcome = "loaded"
    except ExportError as error:
        outcome = "refused: " + str(error)
    print(json.dumps([path, outcome, time.perf_counter() - began]), flush=True)
"""


@pytest.mark.slow
def test_every_case_is_refused_at_load_within_2s_under_a_6gb_cap(ncnn_export, tmp_path):
    """Must show 2: the Loop graph, the NCNN Interp and every metadata case, in a child
    process under RLIMIT_AS = 6 GB: each one line, under 2 s, no crash."""
    cases = {name: ("ncnn", str(path)) for name, path in ncnn_cases(ncnn_export, tmp_path).items()}
    good = json.loads(ncnn_export.with_suffix(".json").read_text())
    onnx_files = {
        "ONNX Loop of 1e15": loop_graph(),
        "ONNX custom op": custom_op_graph(),
        "ONNX allocating 4e14 bytes": allocating_graph(),
        **{
            f"ONNX metadata: {c}": fine_graph(t)
            for c, t in metadata_cases({**good, "outputs": "detections"}).items()
        },
    }
    for index, (name, data) in enumerate(onnx_files.items()):
        path = tmp_path / f"case{index}.onnx"
        path.write_bytes(data)
        cases[name] = ("onnx", str(path))
    result = subprocess.run(
        [sys.executable, "-c", CAPPED, str(CAP)],
        input="".join(json.dumps(case) + "\n" for case in cases.values()),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]  # a segfault is -11
    answers = {
        path: (outcome, seconds)
        for path, outcome, seconds in map(json.loads, result.stdout.splitlines())
    }
    assert len(answers) == len(cases)
    for name, (_, path) in cases.items():
        outcome, seconds = answers[path]
        assert outcome.startswith("refused: ") and "\n" not in outcome, (name, outcome)
        assert seconds < 2, (name, seconds)


def test_a_category_name_with_a_line_break_is_refused_at_export_and_at_load(ncnn_export, tmp_path):
    """Before: it exported "equal", and MediaPipe's label file was shifted a line."""
    metadata = ExportMetadata((1, 2), ("cir\ncle", "square"), 96, {}, {}, "fp32")
    with pytest.raises(ExportError, match="control character"):
        metadata.to_json()
    from detect.export.ncnn_runtime import NcnnDetector

    good = json.loads(ncnn_export.with_suffix(".json").read_text())
    good["categories"]["names"][0] = "cir\ncle"
    path = write_ncnn_copy(ncnn_export, tmp_path / "n", metadata=json.dumps(good))
    with pytest.raises(ExportError, match="control character"):
        NcnnDetector(path)


@pytest.fixture(scope="module")
def openvino_export(tiny_ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from detect.evaluation.checked_export import export_model
    from detect.export.variants import plan_export
    from detect.weights.checkpoint import load_checkpoint

    output = tmp_path_factory.mktemp("openvino") / "model.xml"
    export_model(load_checkpoint(tiny_ckpt), plan_export("openvino", ["fp32"]), output)
    return output


def ir_copy(source: Path, folder: Path, xml: str) -> Path:
    folder.mkdir()
    (folder / "model.xml").write_text(xml)
    (folder / "model.bin").write_bytes(source.with_suffix(".bin").read_bytes())
    return folder / "model.xml"


@pytest.mark.slow
def test_openvino_irs_we_never_write_are_one_line(openvino_export, tmp_path):
    """Before: std::bad_alloc for an input edited to 1×3×100000×100000; 'cls_logits is not
    found' for an IR of another model carrying our metadata; refusals of 4-6 lines."""
    from detect.export.openvino_runtime import OpenVINODetector

    xml = openvino_export.read_text()
    assert OpenVINODetector(openvino_export)([IMAGE])[0]["boxes"].shape[1] == 4
    huge = ir_copy(
        openvino_export,
        tmp_path / "huge",
        xml.replace('shape="?,3,?,?"', 'shape="1,3,100000,100000"', 1),
    )
    renamed = ir_copy(
        openvino_export, tmp_path / "renamed", xml.replace('names="cls_logits"', 'names="other"')
    )
    broken = ir_copy(openvino_export, tmp_path / "broken", xml[: len(xml) // 2])
    for path, phrase in ((huge, "100000"), (renamed, "not a detect export"), (broken, "")):
        with pytest.raises(ExportError) as error:
            OpenVINODetector(path)
        one_line(error, phrase)


@pytest.fixture(scope="module")
def mediapipe_export(tiny_ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from detect.evaluation.checked_export import export_model
    from detect.export.variants import plan_export
    from detect.weights.checkpoint import load_checkpoint

    output = tmp_path_factory.mktemp("mediapipe") / "model.mediapipe.tflite"
    export_model(load_checkpoint(tiny_ckpt), plan_export("mediapipe", ["fp32"]), output)
    return output


def with_label_file(model: bytes, text: str | None) -> bytes:
    """The MediaPipe file with its label zip replaced by one holding ``text`` (None: none)."""
    import io
    import zipfile

    start = model.rfind(b"PK\x03\x04")
    with zipfile.ZipFile(io.BytesIO(model)) as bundle:
        [name] = [n for n in bundle.namelist() if n.endswith(".txt")]
    if text is None:
        return model[:start]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr(name, text)
    return model[:start] + buffer.getvalue()


@pytest.mark.slow
def test_mediapipe_label_files_unlike_our_names_are_one_line(mediapipe_export):
    """Before: KeyError at the first image (a million lines, HTML, too few), FileNotFoundError
    for a removed label zip."""
    from detect.inference.mediapipe_runtime import MediaPipeDetector

    model = mediapipe_export.read_bytes()
    assert MediaPipeDetector(model)([IMAGE])[0]["boxes"].shape[1] == 4
    cases = {
        "removed": None,
        "a million lines": "x\n" * 1_000_000,
        "html": "<html><body>labels</body></html>\n",
        "too few": "???\ncircle\n",
    }
    for case, text in cases.items():
        with pytest.raises(ExportError) as error:
            MediaPipeDetector(with_label_file(model, text))
        assert "label file" in str(error.value) and "\n" not in str(error.value), case


@pytest.fixture(scope="module")
def tflite_export(tiny_ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from detect.evaluation.checked_export import export_model
    from detect.export.variants import plan_export
    from detect.weights.checkpoint import load_checkpoint

    output = tmp_path_factory.mktemp("tflite") / "model.tflite"
    export_model(load_checkpoint(tiny_ckpt), plan_export("tflite", ["fp32"]), output)
    return output.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("side", "phrase"), [(60000, "resize's output side is 60000"), (-5, "LiteRT model")]
)
def test_a_litert_resize_to_a_hostile_side_is_refused_at_load(tflite_export, side, phrase):
    """Before: a RuntimeError traceback (60000² or −5) at the first image. The file's resize
    takes its output side from a constant tensor: [96, 96], rewritten here (a shape tensor
    holds the same pair: at −5 LiteRT itself refuses the file, in one line too)."""
    from detect.export.litert_runtime import LiteRTDetector

    assert LiteRTDetector(tflite_export)([IMAGE])[0]["boxes"].shape[1] == 4
    ours = np.array([96, 96], np.int32).tobytes()
    assert ours in tflite_export
    hostile = tflite_export.replace(ours, np.array([side, side], np.int32).tobytes())
    with pytest.raises(ExportError) as error:
        LiteRTDetector(hostile)
    one_line(error, phrase)
