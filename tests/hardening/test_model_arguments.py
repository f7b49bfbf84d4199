"""Issue 38, item 5: ``Model``'s errors name the real cause (not "checkpoint not found" for a
folder, a number or None; not "damaged" for a good ONNX asked to export), bad arrays and
options are one line, a list of sources skips and counts a bad file as a folder does, and
``import-weights`` credits the published figure only to the published bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from detect import Model
from detect.errors import ConfigError, DetectError
from detect.weights.hub import HubConfig, is_published_file


@pytest.mark.parametrize(
    ("weights", "options", "phrase"),
    [
        (123, {}, "not int 123"),
        (None, {}, "not NoneType None"),
        ("x.ckpt", {"threads": 0}, "threads=0: at least 1"),
        ("x.ckpt", {"threads": "2"}, "a whole number"),
        ("m.xml", {"openvino": {"nope": "1"}}, "performance_hint, precision"),
        ("m.xml", {"nope": 1}, "nope=…): not an option"),
    ],
)
def test_model_arguments_are_refused_by_what_is_wrong(weights, options, phrase):
    with pytest.raises(ConfigError) as error:
        Model(weights, **options)
    assert phrase in str(error.value) and "\n" not in str(error.value)


def test_a_folder_is_called_a_folder(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        Model(tmp_path)


@pytest.fixture(scope="module")
def model(tiny_ckpt: Path) -> Model:
    return Model(tiny_ckpt, backend="pytorch")


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((0, 0, 3), np.uint8),
        np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (20000, 20000, 3)),
    ],
    ids=["0x0", "20000x20000"],
)
def test_an_empty_or_huge_array_is_one_line(model, image):
    """Before: a cv2 traceback; an allocation traceback at 3.2 GB."""
    with pytest.raises(ConfigError, match="pixels"):
        model.predict(image)


def test_an_export_asked_to_export_says_so(tiny_ckpt, tmp_path, detect_cli):
    output = tmp_path / "m.onnx"
    code, _ = detect_cli("export", f"ckpt={tiny_ckpt}", f"output={output}", "check.count=0")
    assert code == 0
    with pytest.raises(ConfigError, match="already an export"):
        Model(output).export()


def test_a_list_of_sources_skips_and_counts_a_bad_file(model, tmp_path, caplog):
    """Before: one missing file aborted the run ("cannot open video source")."""
    good = tmp_path / "good.jpg"
    cv2.imwrite(str(good), np.full((64, 80, 3), 120, np.uint8))
    found = model.predict([str(tmp_path / "missing.jpg"), str(good)])
    assert len(found) == 1
    assert "skipping cannot open video source" in caplog.text and "missing.jpg" in caplog.text
    with pytest.raises(DetectError, match=r"missing\.jpg"):
        model.predict([str(tmp_path / "missing.jpg")])  # alone, it is still the error


def test_only_the_published_bytes_are_the_published_file(tmp_path):
    data = b"the published weights"
    prefix = hashlib.sha256(data).hexdigest()[:8]
    url = f"https://download.example/ssdlite-{prefix}.pth"
    real, other = tmp_path / "a.pth", tmp_path / "b.pth"
    real.write_bytes(data)
    other.write_bytes(data + b"!")
    assert is_published_file(real, url) and not is_published_file(other, url)


def test_import_weights_does_not_credit_a_stand_in_with_the_published_figure(tmp_path):
    """Before: any .pth at hub.weights_path was stamped "published box_map 21.3"."""
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    from detect.weights.torchvision import torchvision_detector

    stand_in = tmp_path / "weights.pth"
    network = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)
    torch.save(network.state_dict(), stand_in)
    checkpoint = torchvision_detector(
        "ssdlite320_mobilenet_v3_large", HubConfig(weights_path=str(stand_in))
    )
    assert checkpoint.run_config["source"]["published"] == {}
