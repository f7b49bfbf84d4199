"""Detections, the one result type: mask filtering, records as predict writes them, drawing,
and a lossless round trip through supervision's Detections (whose annotators then draw ours)."""

from __future__ import annotations

import numpy as np
import pytest

from detect import Detections
from detect.data.categories import CategoryMap

CATEGORIES = CategoryMap((1, 3, 7), ("person", "car", "dog"))


def sample() -> Detections:
    return Detections.from_labels(
        np.array([[10, 20, 110, 220], [5.5, 6.25, 50, 60], [200, 10, 300, 90]], np.float32),
        np.array([0.9, 0.35, 0.6], np.float32),
        np.array([1, 2, 3]),
        CATEGORIES,
    )


def test_labels_become_category_ids_and_masks_filter_every_field():
    found = sample()
    assert found.class_ids.tolist() == [1, 3, 7] and found.class_names == ["person", "car", "dog"]
    confident = found[found.scores > 0.5]
    assert len(confident) == 2 and confident.class_ids.tolist() == [1, 7]
    assert confident.xyxy.tolist() == [[10, 20, 110, 220], [200, 10, 300, 90]]
    assert found[1].class_names == ["car"] and len(found[1:]) == 2
    assert found.top(1).scores.tolist() == pytest.approx([0.9])
    assert found.of_classes([7, 3]).class_ids.tolist() == [3, 7]
    assert len(Detections.empty(CATEGORIES.by_id)) == 0


def test_records_are_predicts_json_entries():
    found = sample()
    found.track_ids = np.array([4, -1, 2])
    assert found.to_records()[:2] == [
        {"box": [10.0, 20.0, 110.0, 220.0], "label": "person", "category_id": 1, "score": 0.9,
         "track_id": 4},
        {"box": [5.5, 6.25, 50.0, 60.0], "label": "car", "category_id": 3, "score": 0.35,
         "track_id": None},
    ]  # fmt: skip


def test_from_output_keeps_the_threshold_classes_and_the_best():
    import torch

    output = {
        "boxes": torch.tensor([[0, 0, 10, 10], [0, 0, 20, 20], [0, 0, 30, 30.0]]),
        "scores": torch.tensor([0.8, 0.2, 0.5]),
        "labels": torch.tensor([1, 1, 2]),
    }
    assert len(Detections.from_output(output, CATEGORIES, 0.3)) == 2
    assert Detections.from_output(output, CATEGORIES, 0.1, classes=[3]).class_ids.tolist() == [3]
    best = Detections.from_output(output, CATEGORIES, 0.0, max_detections=2)
    assert best.scores.tolist() == pytest.approx([0.8, 0.5])


def test_draw_marks_each_box_on_a_copy():
    image = np.zeros((240, 320, 3), np.uint8)
    drawn = sample().draw(image)
    assert image.sum() == 0 and drawn.shape == image.shape
    assert drawn[20, 10:110].any() and drawn[150, 150:190].sum() == 0


def test_supervision_round_trip_is_lossless_and_its_annotators_draw_ours():
    sv = pytest.importorskip("supervision", reason="the supervision extra is not installed")
    found = sample()
    found.track_ids = np.array([4, -1, 2])
    theirs = found.to_supervision()
    assert isinstance(theirs, sv.Detections) and len(theirs) == 3
    assert theirs.data["class_name"].tolist() == ["person", "car", "dog"]
    back = Detections.from_supervision(theirs)
    for field in ("xyxy", "scores", "class_ids", "track_ids"):
        assert np.array_equal(getattr(back, field), getattr(found, field)), field
    assert back.names == {1: "person", 3: "car", 7: "dog"}
    image = np.zeros((240, 320, 3), np.uint8)
    boxed = sv.BoxAnnotator(thickness=2).annotate(image.copy(), theirs)
    labelled = sv.LabelAnnotator().annotate(boxed.copy(), theirs, labels=found.class_names)
    assert boxed[20, 10:110].any() and (labelled != boxed).any()
    assert boxed[150, 150:190].sum() == 0


def test_one_distribution_provides_cv2():
    """Every extra shares our opencv-python-headless: a second cv2 distribution (opencv-python,
    opencv-contrib-python) would overwrite its files and break it on uninstall."""
    from importlib import metadata

    owners = {
        dist.metadata["Name"]
        for dist in metadata.distributions()
        if any(file.parts and file.parts[0] == "cv2" for file in dist.files or [])
    }
    assert owners == {"opencv-python-headless"}, owners
