"""MediaPipe Tasks' ObjectDetector runs our ``format=mediapipe`` export as it is — MediaPipe's
own code, nothing of ours in the loop — and its detections pair with PyTorch's both ways on real
COCO images resized to the model's input beforehand: the trained-like checkpoint (through
``detect export``) and torchvision's SSDLite imported from weights made here (served on
127.0.0.1). Our LiteRT runtime reads the same file, and its label file keeps the category ids.

One conversion per model (about a minute each); one test per model, so that ``pytest -n 2``
runs the two side by side.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from support.files_server import FilesServer
from support.models import torchvision_detector_state
from support.tools import output, run_tool

from benchmarks.mediapipe_parity import SCORE_TOLERANCE, pair_both_ways, resized
from detect.data.images import load_images
from detect.errors import ConfigError
from detect.export.onnx import match_detections, metadata_for, to_numpy
from detect.export.variants import plan_export
from detect.models.predictor import Predictor

COUNT = 20  # real images compared
TORCHVISION = "ssdlite320_mobilenet_v3_large"


@pytest.fixture(scope="module")
def images(coco_val_dir) -> list[torch.Tensor]:
    return load_images(coco_val_dir, COUNT)


def mediapipe_detections(file: Path, arrays: list[np.ndarray], threshold: float) -> list[dict]:
    """MediaPipe's ObjectDetector alone on (H, W, 3) RGB arrays: each category of each
    detection as one detection (boxes xyxy whole pixels, scores, category names)."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    options = vision.ObjectDetectorOptions(
        base_options=BaseOptions(model_asset_path=str(file)), score_threshold=threshold
    )
    results = []
    with vision.ObjectDetector.create_from_options(options) as detector:
        for array in arrays:
            found = detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=array))
            rows = [
                (
                    (d.bounding_box.origin_x, d.bounding_box.origin_y,
                     d.bounding_box.origin_x + d.bounding_box.width,
                     d.bounding_box.origin_y + d.bounding_box.height),
                    category.score,
                    category.category_name,
                )
                for d in found.detections
                for category in d.categories
            ]  # fmt: skip
            results.append(
                {
                    "boxes": np.array([r[0] for r in rows], dtype=np.float32).reshape(-1, 4),
                    "scores": np.array([r[1] for r in rows], dtype=np.float32),
                    "names": np.array([r[2] for r in rows], dtype=object),
                }
            )
    return results


def assert_mediapipe_pairs_with_pytorch(file: Path, model, names, images, threshold: float):
    """On ``images`` resized to the model's size beforehand, every detection above
    ``threshold`` of each side has a partner on the other (same category name, origin within
    1 px, right/bottom within 2 px, score within 2e-3)."""
    small = resized(images, model.size)
    arrays = [np.ascontiguousarray(image.permute(1, 2, 0).numpy()) for image in small]
    theirs = mediapipe_detections(file, arrays, threshold - SCORE_TOLERANCE)
    ours = [to_numpy(found) for found in Predictor(model)(small)]
    label = {name: index for index, name in enumerate(names, 1)}
    total = 0
    for mine, other in zip(ours, theirs, strict=True):
        other = {**other, "labels": np.array([label[n] for n in other["names"]], dtype=np.int64)}
        count, lacking, extra = pair_both_ways(mine, other, threshold)
        assert (lacking, extra) == (0, 0), (count, lacking, extra)
        total += count
    assert total >= COUNT, f"only {total} detections above {threshold}: the check proves little"
    return total


def label_file(file: Path) -> list[str]:
    """The label file MediaPipe's writer packed into the model (a zip after the flatbuffer)."""
    with zipfile.ZipFile(io.BytesIO(file.read_bytes())) as archive:
        return archive.read("labels.txt").decode().splitlines()


def assert_ids_kept(file: Path, coco_ids, names) -> None:
    lines = label_file(file)
    assert len(lines) == max(coco_ids) + 1
    for coco_id, name in zip(coco_ids, names, strict=True):
        assert lines[coco_id] == name
    assert all(lines[i] == "???" for i in set(range(len(lines))) - set(coco_ids))


@pytest.mark.slow
def test_trained_like_checkpoint_through_detect_export(trained_like_ckpt, images):
    pytest.importorskip("litert_torch", reason="the litert extra is not installed")
    pytest.importorskip("mediapipe", reason="mediapipe is not installed (see the extra)")
    from detect.export.litert_runtime import LiteRTDetector
    from detect.weights.checkpoint import load_checkpoint

    result = run_tool(
        "export", f"ckpt={trained_like_ckpt}", "format=mediapipe", "check.count=4", timeout=900
    )
    assert result.returncode == 0, output(result)[-3000:]
    assert "checked against PyTorch: 4 images" in result.stdout and "equal" in result.stdout
    file = trained_like_ckpt.parent.parent / "export" / "last.mediapipe.tflite"
    checkpoint = load_checkpoint(trained_like_ckpt)
    categories = checkpoint.categories
    # the trained-like weights top out near 0.07: every detection above 0.01 is compared
    assert_mediapipe_pairs_with_pytorch(
        file, checkpoint.model, categories.names, images, threshold=0.01
    )
    assert_ids_kept(file, categories.coco_ids, categories.names)
    # our own runtime reads the same file (the op's four outputs) and agrees with PyTorch
    detector = LiteRTDetector(file)
    assert detector.metadata.outputs == "detections"
    reference = Predictor(checkpoint.model)(images[:4])
    for mine, theirs in zip(detector([i.numpy() for i in images[:4]]), reference, strict=True):
        unmatched, box, score = match_detections(mine, to_numpy(theirs))
        assert unmatched == 0 and box <= 0.05 and score <= 1e-4, (unmatched, box, score)


def test_missing_mediapipe_is_one_line_naming_the_extra(monkeypatch):
    from detect.export.mediapipe_support import require_mediapipe

    monkeypatch.setitem(__import__("sys").modules, "mediapipe", None)
    hint = r"mediapipe extra: pip install 'detect-ssdlite\[mediapipe\]' && pip install --no-deps"
    with pytest.raises(ConfigError, match=hint):
        require_mediapipe()


def test_mediapipe_export_is_one_fp32_file():
    plan = plan_export("mediapipe")
    assert (plan.precisions, plan.postprocess, plan.suffix) == (
        ("fp32",), True, ".mediapipe.tflite"
    )  # fmt: skip
    with pytest.raises(ConfigError, match="format=mediapipe"):
        plan_export("mediapipe", ("fp32", "int8"))


def test_the_metadata_version_rule_is_mediapipes():
    pytest.importorskip("mediapipe", reason="mediapipe is not installed (see the extra)")
    from mediapipe.tasks.metadata import metadata_schema_py_generated as fb

    from detect.export.mediapipe_support import minimum_parser_version

    def version(subgraph: fb.SubGraphMetadataT) -> str:
        import flatbuffers

        root = fb.ModelMetadataT()
        root.subgraphMetadata = [subgraph]
        builder = flatbuffers.Builder(0)
        builder.Finish(root.Pack(builder), b"M001")
        return minimum_parser_version(bytes(builder.Output()))

    plain = fb.SubGraphMetadataT()
    assert version(plain) == "1.0.0"
    grouped = fb.SubGraphMetadataT()
    grouped.outputTensorGroups = []  # present, even empty: 1.2.0 (metadata_version.cc)
    assert version(grouped) == "1.2.0"
    custom = fb.SubGraphMetadataT()
    custom.customMetadata = [fb.CustomMetadataT()]
    assert version(custom) == "1.5.0"


def conditioned_torchvision_state(images) -> dict[str, torch.Tensor]:
    """torchvision's SSDLite (seeded, BN statistics from real images) with its class layers
    He-initialised and a background bias: a few confident detections per image, as trained
    weights give (torchvision's own init gives every class 1/91 everywhere)."""
    state = torchvision_detector_state(images)
    generator = torch.Generator().manual_seed(0)
    for key in list(state):
        if re.fullmatch(r"head\.classification_head\.module_list\.\d+\.1\.weight", key):
            weight = state[key]
            state[key] = torch.randn(weight.shape, generator=generator) * math.sqrt(
                2 / weight[0].numel()
            )
            bias = torch.randn(state[key[:-6] + "bias"].shape, generator=generator) * 0.1
            bias.view(-1, 91)[:, 0] += 7.0  # background logit of every anchor
            state[key[:-6] + "bias"] = bias
    return state


def published(state: dict) -> tuple[str, bytes]:
    """A state dict as torch.hub publishes it: ``<stem>-<sha256 prefix>.pth`` and its bytes."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    body = buffer.getvalue()
    return f"{TORCHVISION}_coco-{hashlib.sha256(body).hexdigest()[:8]}.pth", body


@pytest.mark.slow
def test_imported_torchvision_ssdlite(images, tmp_path):
    pytest.importorskip("litert_torch", reason="the litert extra is not installed")
    pytest.importorskip("mediapipe", reason="mediapipe is not installed (see the extra)")
    from detect.export.mediapipe import export_mediapipe
    from detect.weights.hub import HubConfig
    from detect.weights.sources import open_checkpoint

    name, body = published(conditioned_torchvision_state(images[:6]))
    with FilesServer({f"/models/{name}": body}) as server:
        hub = HubConfig(cache_dir=str(tmp_path / "hub"), url=server.url(f"/models/{name}"))
        checkpoint = open_checkpoint(f"torchvision:{TORCHVISION}", hub)
    categories = checkpoint.categories
    metadata = metadata_for(checkpoint.model, categories, checkpoint.model_config, {})
    file = tmp_path / f"{TORCHVISION}.mediapipe.tflite"
    file.write_bytes(export_mediapipe(checkpoint.model, metadata))
    assert_mediapipe_pairs_with_pytorch(
        file, checkpoint.model, categories.names, images, threshold=0.3
    )
    assert_ids_kept(file, categories.coco_ids, categories.names)
    assert categories.names[categories.coco_ids.index(90)] == "toothbrush"  # COCO's last id


@pytest.mark.slow
def test_the_op_keeps_what_pytorch_keeps_at_the_per_class_cut_and_off_the_image(images):
    """Where TFLite's detection op differs from our postprocess unless the export makes up for
    it: its NMS has no per-class top-k before NMS (here topk_per_class=10 with dozens of
    candidates per class: without the cut in the graph, 1060 of 1200 detections unmatched),
    and boxes clipped to nothing must keep zero area (the op's IoU is then 0, as torchvision's
    NMS suppresses none of them; here about 100 such boxes per image, shifted off the right)."""
    pytest.importorskip("litert_torch", reason="the litert extra is not installed")
    pytest.importorskip("mediapipe", reason="mediapipe is not installed (see the extra)")
    from dataclasses import replace

    from support.models import PLACEHOLDER_IDS, conditioned_model

    from detect.data.categories import CategoryMap
    from detect.export.litert_runtime import LiteRTDetector
    from detect.export.mediapipe import export_mediapipe
    from detect.export.onnx import compare_backends

    model = conditioned_model("v3_small", images[:6], size=96)
    model.postprocess_config = replace(model.postprocess_config, topk_per_class=10)
    with torch.no_grad():  # the first map's boxes shifted 4 anchor widths right
        model.head.regression[0][-1].bias.view(-1, 4)[:, 0] += 40.0
    found = Predictor(model)(images[:4])
    for detections in found:
        boxes = detections["boxes"]
        assert int((boxes[:, 0] == boxes[:, 2]).sum()) >= 50  # clipped to nothing
        assert len(detections["scores"]) == 300
    names = tuple(f"c{i}" for i in PLACEHOLDER_IDS)
    metadata = metadata_for(model, CategoryMap(PLACEHOLDER_IDS, names), {}, {})
    report = compare_backends(LiteRTDetector(export_mediapipe(model, metadata)), model, images[:4])
    assert report.equal, report
