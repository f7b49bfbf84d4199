"""COCO-format dataset on the real subset, and bad input counted or refused with a clear error."""

import json
import shutil
from pathlib import Path

import pytest

from detect.data.coco import CocoDetection
from detect.errors import DatasetError


@pytest.fixture(scope="module")
def subset(coco_subset: Path) -> Path:
    return coco_subset


@pytest.mark.parametrize("split", ["val2017", "train2017"])
def test_counts_equal_the_json_minus_what_the_report_says(subset, split):
    annotations = subset / "annotations" / f"instances_{split}.json"
    raw = json.loads(annotations.read_text())
    dataset = CocoDetection(subset / split, annotations)
    report = dataset.report
    crowd = sum(a["iscrowd"] for a in raw["annotations"])
    assert len(dataset) == len(raw["images"]) - len(report.skipped_images)
    kept = sum(len(record.labels) for record in dataset.records)
    assert kept == report.boxes
    assert kept + sum(report.dropped_boxes.values()) + report.crowd_boxes == len(raw["annotations"])
    assert report.crowd_boxes == crowd > 0


def test_category_ids_map_to_contiguous_labels_and_back(subset):
    dataset = CocoDetection(subset / "val2017", subset / "annotations" / "instances_val2017.json")
    categories = dataset.categories
    assert categories.num_classes == 81
    assert categories.label(1) == 1 and categories.names[0] == "person"
    assert categories.label(90) == 80 and categories.coco_id(80) == 90
    assert all(categories.coco_id(categories.label(i)) == i for i in categories.coco_ids)


def test_items_are_rgb_images_with_boxes_inside(subset):
    dataset = CocoDetection(subset / "val2017", subset / "annotations" / "instances_val2017.json")
    image, target = dataset[0]
    height, width, channels = image.shape
    assert channels == 3 and image.dtype.name == "uint8"
    boxes = target["boxes"]
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
    assert boxes[:, [0, 2]].max() <= width and boxes[:, [1, 3]].max() <= height
    assert len(target["labels"]) == len(boxes)


@pytest.fixture
def broken_dataset(subset, tmp_path) -> tuple[Path, Path]:
    """Three real images plus every kind of bad input."""
    raw = json.loads((subset / "annotations" / "instances_val2017.json").read_text())
    images = raw["images"][:3]
    folder = tmp_path / "images"
    folder.mkdir()
    for info in images[:2]:
        shutil.copy(subset / "val2017" / info["file_name"], folder / info["file_name"])
    truncated = folder / images[1]["file_name"]
    truncated.write_bytes(truncated.read_bytes()[:20_000])  # a JPEG cut short
    # images[2] is missing from the folder
    first = images[0]
    anns = [a for a in raw["annotations"] if a["image_id"] == first["id"] and not a["iscrowd"]]
    good = anns[0]
    bad = [
        {**good, "id": 10**9 + 1, "bbox": [10, 10, -5, 20]},  # negative width
        {**good, "id": 10**9 + 2, "bbox": [first["width"] + 5, 10, 20, 20]},  # outside
        {**good, "id": 10**9 + 3, "category_id": 12},  # 12 is a gap in COCO's 91 ids
    ]
    data = {**raw, "images": images, "annotations": [*anns, *bad]}
    annotation_file = tmp_path / "instances.json"
    annotation_file.write_text(json.dumps(data))
    return folder, annotation_file


def test_bad_samples_are_skipped_and_counted(broken_dataset, tmp_path):
    folder, annotation_file = broken_dataset
    dataset = CocoDetection(folder, annotation_file)
    report = dataset.report
    assert list(report.skipped_images.values()) == ["image file missing"]
    assert report.dropped_boxes == {
        "width or height <= 0": 1,
        "outside the image": 1,
        "unknown category id 12": 1,
    }
    assert len(dataset) == 2
    truncated = next(i for i, r in enumerate(dataset.records) if r.file.stat().st_size == 20_000)
    assert dataset[truncated] is None  # dropped by the collate, and reported
    assert report.skipped_images[dataset.records[truncated].file.name].startswith("truncated JPEG")
    report.to_json(tmp_path / "report.json")
    reread = json.loads((tmp_path / "report.json").read_text())
    assert reread["dropped_boxes"]["outside the image"] == 1
    assert "image file missing" in report.summary()


def test_verified_images_report_the_truncated_jpeg_up_front(broken_dataset):
    folder, annotation_file = broken_dataset
    dataset = CocoDetection(folder, annotation_file, verify_images=True)
    assert len(dataset) == 1
    assert sorted(dataset.report.skipped_images.values()) == [
        "image file missing",
        "truncated JPEG (no end-of-image marker)",
    ]


def test_raise_policy_names_the_file(broken_dataset):
    folder, annotation_file = broken_dataset
    with pytest.raises(DatasetError, match=r"\.jpg: image file missing"):
        CocoDetection(folder, annotation_file, on_bad_sample="raise")


def test_truncated_or_missing_annotations_give_a_clear_error(tmp_path):
    truncated = tmp_path / "instances.json"
    truncated.write_text('{"images": [{"id": 1, "file_na')
    with pytest.raises(DatasetError, match=r"cannot read COCO annotations .*instances\.json"):
        CocoDetection(tmp_path, truncated)
    with pytest.raises(DatasetError, match="annotation file not found"):
        CocoDetection(tmp_path, tmp_path / "nope.json")
    with pytest.raises(DatasetError, match="image folder not found"):
        CocoDetection(tmp_path / "nope", truncated)


def test_negatives_can_be_left_out(broken_dataset):
    folder, annotation_file = broken_dataset
    data = json.loads(annotation_file.read_text())
    data["annotations"] = []
    annotation_file.write_text(json.dumps(data))
    assert len(CocoDetection(folder, annotation_file)) == 2
    assert len(CocoDetection(folder, annotation_file, keep_negatives=False)) == 0
