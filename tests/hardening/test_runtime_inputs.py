"""Counting geometry, exported files and output folders from a hostile user (issue 32): one
``error:`` line naming the thing and the fix, before any work."""

from __future__ import annotations

import json
import random
from pathlib import Path

import onnx
import pytest
import torch
from conftest import one_error_line
from onnx import TensorProto, helper

from detect.errors import ConfigError, ExportError
from detect.export.metadata import ExportMetadata
from detect.export.runtime import OnnxDetector
from detect.inference.counting import CountConfig, self_crossing
from detect.training.checkpoint_io import AtomicCheckpointIO, rescue_path


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    import cv2
    import numpy as np

    path = tmp_path_factory.mktemp("image") / "frame.png"
    cv2.imwrite(str(path), np.full((48, 64, 3), 127, np.uint8))
    return path


def test_a_three_point_line_says_it_needs_exactly_two():
    """Before: "a line needs two distinct points" (they were distinct)."""
    with pytest.raises(ConfigError, match=r"exactly two points .* not 3"):
        CountConfig.from_plain(lines=[[[0, 0], [10, 10], [20, 0]]])
    with pytest.raises(ConfigError, match="two distinct points; its two are the same"):
        CountConfig.from_plain(lines=[[[5, 5], [5, 5]]])
    with pytest.raises(ConfigError, match="finite"):
        CountConfig.from_plain(lines=[[[0, float("nan")], [5, 5]]])


@pytest.mark.parametrize(
    ("points", "crossing"),
    [
        ([(0, 0), (10, 10), (10, 0), (0, 10)], (0, 2)),  # a bow tie
        ([(0, 0), (10, 0), (10, 10), (0, 10)], None),  # a square
        ([(0, 0), (10, 0), (5, 5)], None),
        ([(0, 0), (10, 0), (10, 10), (5, 0), (0, 10)], (0, 2)),  # a corner touching an edge
        ([(0, 0), (20, 0), (20, 10), (10, -5), (0, 10)], (0, 2)),
    ],
)
def test_self_crossing_finds_crossing_edges(points, crossing):
    assert self_crossing(points) == crossing


def test_a_self_intersecting_zone_is_refused(image, detect_cli, tmp_path, tiny_ckpt):
    """Before: accepted (rc 0), its crossing part counted as outside."""
    code, text = detect_cli(
        "predict",
        f"ckpt={tiny_ckpt}",
        f"source={image}",
        "track=bytetrack",
        "count.zones=[{name:desk,points:[[0,0],[10,10],[10,0],[0,10]]}]",
        f"output_dir={tmp_path / 'out'}",
    )
    one_error_line(code, text, "count.zones[0] (desk)", "edges 1 and 3 cross")
    assert not (tmp_path / "out").exists()  # refused before any work


@pytest.mark.parametrize("frames", ["-1", "0"])
def test_max_frames_below_one_is_one_line(image, detect_cli, tmp_path, tiny_ckpt, frames):
    """Before and after: refused by StreamConfig, the command says so (not rc 0)."""
    code, text = detect_cli(
        "predict",
        f"ckpt={tiny_ckpt}",
        f"source={image}",
        f"max_frames={frames}",
        f"output_dir={tmp_path / 'out'}",
    )
    one_error_line(code, text, f"max_frames={frames}", "at least 1")


@pytest.fixture(scope="module")
def stranger_onnx(tmp_path_factory, tiny_ckpt) -> Path:
    """An ONNX graph of something else (x → Identity → y) carrying a detect export's metadata."""
    model = torch.load(tiny_ckpt, weights_only=True)["detect"]["model"]
    meta = ExportMetadata((1, 2, 3), ("a", "b", "c"), model["size"], model, {}, "fp32")
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "other",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
    )
    stranger = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    stranger.metadata_props.add(key="detect", value=meta.to_json())
    path = tmp_path_factory.mktemp("onnx") / "other.onnx"
    onnx.save(stranger, path)
    return path


def test_an_onnx_of_something_else_with_our_metadata_is_refused(stranger_onnx, detect_cli):
    """Before: a traceback from ONNX Runtime at the first batch."""
    with pytest.raises(ExportError, match="not a detect export"):
        OnnxDetector(stranger_onnx)
    code, text = detect_cli("eval", f"ckpt={stranger_onnx}", f"output_dir={stranger_onnx.parent}")
    one_error_line(code, text, "other.onnx", "not a detect export", "export it again")


def test_random_bytes_or_an_onnx_named_tflite_are_one_line(stranger_onnx, detect_cli, tmp_path):
    """Before: ``struct.error: unpack_from requires a buffer of 2170134984 bytes``."""
    pytest.importorskip("ai_edge_litert")
    random.seed(1)
    noise = tmp_path / "noise.tflite"
    noise.write_bytes(bytes(random.getrandbits(8) for _ in range(5000)))
    renamed = tmp_path / "renamed.tflite"
    renamed.write_bytes(stranger_onnx.read_bytes())
    for path, hint in ((noise, "tools/export.py format=tflite"), (renamed, "name it .onnx")):
        code, text = detect_cli("eval", f"ckpt={path}", f"output_dir={tmp_path}")
        one_error_line(code, text, path.name, "not a LiteRT model", hint)


@pytest.mark.parametrize("command", ["predict", "eval", "export"])
def test_an_output_folder_that_cannot_be_written_stops_before_the_work(
    command, image, detect_cli, tmp_path, tiny_ckpt
):
    """Before: a PermissionError / NotADirectoryError traceback once the work was done."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = blocker / "out"
    key, value = ("output", target / "m.onnx") if command == "export" else ("output_dir", target)
    extra = [f"source={image}"] if command == "predict" else []
    code, text = detect_cli(command, f"ckpt={tiny_ckpt}", *extra, f"{key}={value}")
    one_error_line(code, text, "cannot write there", "a-file")
    assert "AP" not in text and "written" not in text  # nothing was done first


def test_a_checkpoint_that_cannot_be_saved_is_rescued_not_lost(tmp_path, caplog):
    """Before: ``.last.ckpt.partial`` unwritable ended the run, the epoch's work lost."""
    folder = tmp_path / "run" / "checkpoints"
    (folder / "last.ckpt").mkdir(parents=True)  # the checkpoint cannot be put in place
    state = {"state_dict": {"w": torch.arange(4.0)}, "epoch": 3}
    writer = AtomicCheckpointIO()
    writer.save_checkpoint(state, folder / "last.ckpt")
    rescued = rescue_path(folder / "last.ckpt")
    assert rescued.name == "run-last.ckpt"
    assert torch.equal(torch.load(rescued, weights_only=True)["state_dict"]["w"], torch.arange(4.0))
    assert writer.failed == [folder / "last.ckpt"]
    (message,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert str(folder / "last.ckpt") in message and str(rescued) in message
    rescued.unlink()


def test_a_failed_training_run_leaves_no_run_folder(detect_cli, tmp_path):
    """Before: ``runs/<name>/.hydra`` stayed after a run that failed at its config."""
    code, text = detect_cli(
        "train", f"runs_dir={tmp_path}", "run_name=broken", "model.size=8", "debug=tiny"
    )
    one_error_line(code, text, "model.size=8")
    assert not (tmp_path / "broken").exists()


def test_a_model_size_mismatch_in_stored_json_is_refused():
    with pytest.raises(ExportError, match="lacks"):
        ExportMetadata.from_json(json.dumps({"size": 96}), "m.onnx")


def test_a_classifiers_weights_as_the_published_detectors_give_an_actionable_line(
    detect_cli, tmp_path
):
    """Before: "the state dict has 312 entries but the model expects 476: build ours with the
    same backbone, width_mult, options and num_classes" — an API-level hint."""
    torchvision = pytest.importorskip("torchvision")
    classifier = tmp_path / "mobilenet_v3_large.pth"
    torch.save(torchvision.models.mobilenet_v3_large().state_dict(), classifier)
    code, text = detect_cli(
        "export",
        "ckpt=torchvision:ssdlite320_mobilenet_v3_large",
        f"hub.weights_path={classifier}",
        f"output={tmp_path / 'm.onnx'}",
    )
    one_error_line(
        code,
        text,
        f"hub.weights_path={classifier}",
        "image classifier's weights",
        "backbone.pretrained=imagenet",
        "ssdlite320_mobilenet_v3_large_coco-",
        "drop hub.weights_path",
    )


def test_init_from_says_it_keeps_the_sources_network(detect_cli, tmp_path, tiny_ckpt, caplog):
    """Before: ``backbone=v2`` beside ``init_from`` was ignored without a word."""
    code, text = detect_cli(
        "train",
        f"init_from={tiny_ckpt}",
        "backbone=v2",
        "model.size=128",
        "data=coco",
        f"data.root={tmp_path / 'no-data'}",
        f"runs_dir={tmp_path}",
        "run_name=ft",
    )
    assert code != 0  # stopped at the missing data, after the start was planned
    notes = [r.getMessage() for r in caplog.records if "init_from=" in r.getMessage()]
    note = notes[0] if notes else text
    for phrase in (
        "the source's (v3_small ×0.25, 96 px)",
        "backbone, model.size",
        "finetune.architecture=config",
    ):
        assert phrase in note, note


def test_a_runs_dir_that_cannot_be_written_is_one_line(detect_cli, tmp_path):
    """Before: Hydra's own ``mkdir`` failed in a NotADirectoryError traceback."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, text = detect_cli("train", f"runs_dir={blocker / 'runs'}", "run_name=r", "debug=tiny")
    one_error_line(code, text, "runs_dir=", "cannot write there", "a-file")
