"""Issue 32's dataset cases, each crafted here: hostile or broken YOLO, VOC and COCO sets get one
clear error line naming the file (and field), or a counted, named entry in the dataset report —
never a traceback, a silent merge or drop, or a kept NaN."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from omegaconf import OmegaConf

from detect.data.coco import CocoDetection
from detect.data.datamodule import DetectionDataModule
from detect.data.voc import voc_dataset
from detect.data.yolo import yolo_dataset
from detect.errors import DatasetError, DetectError
from detect.training.data import train_val_data


def write_image(path: Path, width: int = 40, height: int = 30) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((height, width, 3), 127, np.uint8))
    return path


def yolo_set(
    root: Path,
    data_yaml: str = "names: [a, b]\ntrain: images/train\nval: images/val\n",
    labels: dict[str, str] | None = None,
    images: tuple[str, ...] = ("x.png", "y.png"),
) -> Path:
    """``root`` with data.yaml, images/{train,val}/<images> and labels/val/<stem>.txt."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "data.yaml").write_text(data_yaml)
    for split in ("train", "val"):
        for name in images:
            write_image(root / "images" / split / name)
    for stem, text in (labels or {}).items():
        label = root / "labels" / "val" / f"{stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text(text)
    return root


def one_line_error(call, *phrases: str) -> str:
    """``call()`` fails with a detect error whose message is one line containing the phrases."""
    with pytest.raises(DetectError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message, message
    for phrase in phrases:
        assert phrase in message, message
    return message


def all_finite(dataset: CocoDetection) -> bool:
    return all(np.isfinite(record.boxes).all() for record in dataset.records)


# --- YOLO ---------------------------------------------------------------------------------


def test_yolo_non_finite_boxes_are_dropped_and_counted(tmp_path):
    root = yolo_set(
        tmp_path,
        labels={"x": "0 nan 0.5 0.1 0.1\n0 0.5 inf 0.1 0.1\n1 0.5 0.5 0.2 0.2\n"},
    )
    dataset = yolo_dataset(root, "val")
    assert dataset.report.dropped_boxes["non-finite box coordinates (NaN or inf)"] == 2
    assert dataset.report.boxes == 1 and all_finite(dataset)
    assert "dropped 2 boxes (non-finite" in dataset.report.summary()


@pytest.mark.parametrize(
    ("names", "phrases"),
    [
        ("circle", ["names", "is a string", "[circle"]),
        ("{0: a, x: b}", ["names", "'x'"]),
        ("3", ["names", "an int"]),
        ("", ["names", "empty"]),
        ("[]", ["names", "empty"]),
        ("[a, b, a]", ["names", "'a'", "twice"]),
        ("{0: a, 2: b}", ["names", "0..1"]),
    ],
)
def test_yolo_names_that_cannot_work_are_one_line(tmp_path, names, phrases):
    root = yolo_set(tmp_path, f"names: {names}\ntrain: images/train\nval: images/val\n")
    one_line_error(lambda: yolo_dataset(root, "val"), str(root / "data.yaml"), *phrases)


def test_yolo_names_keyed_by_digit_strings_read_as_indices(tmp_path):
    text = "names: {'0': a, '1': b, '2': c}\ntrain: images/train\nval: images/val\n"
    root = yolo_set(tmp_path, text)
    assert yolo_dataset(root, "val").categories.names == ("a", "b", "c")


def test_yolo_files_without_a_partner_are_counted_by_name(tmp_path):
    root = yolo_set(tmp_path, labels={"x": "0 0.5 0.5 0.2 0.2\n", "ghost": "0 0.5 0.5 0.2 0.2\n"})
    (root / "labels" / "val" / "y.txt").mkdir()  # a label "file" that is a directory
    report = yolo_dataset(root, "val").report
    assert report.notes["label file without an image"] == ["labels/val/ghost.txt"]
    assert report.skipped_images["images/val/y.png"].startswith("label path is a directory")
    assert "label file without an image" in report.summary() and not report.clean


def test_yolo_missing_labels_folder_says_every_image_is_a_negative(tmp_path):
    report = yolo_dataset(yolo_set(tmp_path), "val").report  # no labels/ at all
    (note,) = report.notes
    assert "no labels folder" in note and "2 images are negatives" in note
    assert report.notes[note] == ["labels/val"]


def test_yolo_split_escaping_the_set_that_finds_no_images_is_reported(tmp_path):
    text = "names: [a]\ntrain: images/train\nval: ../../../../../../etc\n"
    root = yolo_set(tmp_path / "set", text)
    report = yolo_dataset(root, "val").report
    assert report.images == 0
    (note,) = report.notes
    assert "0 images" in note and "outside" in note
    assert report.notes[note] == ["../../../../../../etc"]


@pytest.mark.parametrize("split", ["..", "../..", "/"])
def test_yolo_split_above_the_set_is_refused_before_it_is_searched(tmp_path, split):
    root = yolo_set(tmp_path / "set", f"names: [a]\ntrain: images/train\nval: {split!r}\n")
    one_line_error(lambda: yolo_dataset(root, "val"), "data.yaml", "a folder above the dataset's")


# --- VOC ----------------------------------------------------------------------------------


def voc_set(root: Path, objects: str, stems: tuple[str, ...] = ("p",), xml: bool = True) -> Path:
    for folder in ("Annotations", "ImageSets/Main"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for stem in stems:
        write_image(root / "JPEGImages" / f"{stem}.png")
        if xml:
            (root / "Annotations" / f"{stem}.xml").write_text(
                f"<annotation><filename>{stem}.png</filename><size><width>40</width>"
                f"<height>30</height></size>{objects}</annotation>"
            )
    (root / "ImageSets" / "Main" / "val.txt").write_text("\n".join(stems) + "\n")
    return root


def voc_object(xmin="2", ymin="2", xmax="20", ymax="20", name="cat") -> str:
    box = f"<xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax>"
    return f"<object><name>{name}</name><bndbox>{box}</bndbox></object>"


def test_voc_non_finite_boxes_are_dropped_and_counted(tmp_path):
    objects = voc_object(xmin="nan") + voc_object(ymax="inf") + voc_object()
    dataset = voc_dataset(voc_set(tmp_path, objects), "val", names=["cat"])
    assert dataset.report.dropped_boxes["non-finite box coordinates (NaN or inf)"] == 2
    assert dataset.report.boxes == 1 and all_finite(dataset)


def test_voc_skip_messages_name_the_image_that_is_there(tmp_path):
    dataset = voc_dataset(voc_set(tmp_path, "", xml=False), "val", names=["cat"])
    (name,) = dataset.report.skipped_images
    assert name == "p.png"


# --- COCO ---------------------------------------------------------------------------------


def coco_file(tmp_path: Path, **changes) -> tuple[Path, Path]:
    """Two 40×30 images, one category, one good box per image, with ``changes`` applied."""
    folder = tmp_path / "images"
    for name in ("a.png", "b.png"):
        write_image(folder / name)
    data = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 40, "height": 30},
            {"id": 2, "file_name": "b.png", "width": 40, "height": 30},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 1, "bbox": [2, 2, 10, 10], "iscrowd": 0},
        ],
        "categories": [{"id": 1, "name": "cat"}],
    }
    data.update(changes)
    file = tmp_path / "instances.json"
    file.write_text(json.dumps(data))
    return folder, file


def annotation(**changes) -> dict:
    return {"id": 9, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "iscrowd": 0, **changes}


def test_coco_non_finite_boxes_are_dropped_and_counted(tmp_path):
    extra = [annotation(bbox=[math.nan, 1, 5, 5]), annotation(bbox=[1, 1, math.inf, 5])]
    folder, file = coco_file(tmp_path)
    data = json.loads(file.read_text())
    data["annotations"] += extra
    file.write_text(json.dumps(data))  # json writes NaN and Infinity, Python reads them back
    dataset = CocoDetection(folder, file)
    assert dataset.report.dropped_boxes["non-finite box coordinates (NaN or inf)"] == 2
    assert dataset.report.dropped_examples["non-finite box coordinates (NaN or inf)"] == ["a.png"]
    assert dataset.report.boxes == 2 and all_finite(dataset)


def test_coco_image_id_used_twice_is_refused(tmp_path):
    images = [
        {"id": 1, "file_name": "a.png", "width": 40, "height": 30},
        {"id": 1, "file_name": "b.png", "width": 40, "height": 30},
    ]
    folder, file = coco_file(tmp_path, images=images)
    one_line_error(lambda: CocoDetection(folder, file), str(file), "images[1].id", "1", "twice")


@pytest.mark.parametrize(
    ("changes", "phrases"),
    [
        ({"categories": [{"id": 1, "name": "cat"}, {"id": 1, "name": "dog"}]}, ["id 1", "twice"]),
        ({"categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "cat"}]}, ["'cat'", "twice"]),
        ({"categories": None}, ["categories"]),
        ({"images": [{"id": 1, "file_name": "a.png", "height": 30}]}, ["images[0].width"]),
    ],
)
def test_coco_files_that_cannot_work_are_one_line(tmp_path, changes, phrases):
    folder, file = coco_file(tmp_path, **changes)
    if changes.get("categories", "") is None:
        data = json.loads(file.read_text())
        del data["categories"]
        file.write_text(json.dumps(data))
    one_line_error(lambda: CocoDetection(folder, file), str(file), *phrases)


def test_coco_json_that_is_a_list_is_one_line(tmp_path):
    folder, file = coco_file(tmp_path)
    file.write_text("[1, 2, 3]")
    one_line_error(lambda: CocoDetection(folder, file), str(file), "a list")


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"bbox": None}, "annotation without a bbox"),
        ({"bbox": [1, 2, 3]}, "bbox is not 4 numbers [x, y, w, h]"),
        ({"bbox": "1 2 3 4"}, "bbox is not 4 numbers [x, y, w, h]"),
        ({"category_id": "1"}, "category_id is a string, not a number"),
        ({"image_id": 77}, "image_id with no entry in images"),
    ],
)
def test_coco_annotations_that_cannot_work_are_counted(tmp_path, bad, reason):
    entry = annotation(**bad)
    if bad.get("bbox", 0) is None:
        del entry["bbox"]
    folder, file = coco_file(tmp_path)
    data = json.loads(file.read_text())
    data["annotations"].append(entry)
    file.write_text(json.dumps(data))
    report = CocoDetection(folder, file).report
    assert report.dropped_boxes == {reason: 1}
    assert report.boxes == 2


# --- splits, progress, help -----------------------------------------------------------------


def empty_split_data(tmp_path: Path, empty: str) -> dict:
    root = yolo_set(tmp_path, labels={"x": "0 0.5 0.5 0.2 0.2\n"})
    for image in (root / "images" / empty).iterdir():
        image.unlink()
    return {"format": "yolo", "root": str(root), "train": {}, "val": {}}


@pytest.mark.parametrize("empty", ["train", "val"])
def test_an_empty_split_is_refused_before_training(tmp_path, empty):
    data = empty_split_data(tmp_path, empty)
    message = one_line_error(
        lambda: train_val_data(data, "none", 64, batch_size=1, num_workers=0), "empty"
    )
    assert f"{empty} split" in message and "batch size" not in message


def test_an_empty_training_set_is_not_a_batch_size_problem(tmp_path):
    data = empty_split_data(tmp_path, "train")
    from detect.data.registry import build_dataset

    empty = build_dataset(data, "train")
    module = DetectionDataModule(empty, empty, batch_size=2, num_workers=0)
    message = one_line_error(module.train_dataloader, "empty")
    assert "batch size" not in message


def test_no_progress_bar_for_zero_images(tmp_path, capsys):
    folder, file = coco_file(tmp_path, images=[], annotations=[])
    CocoDetection(folder, file, verify_images=True)
    assert "verifying images" not in capsys.readouterr().err


def test_check_data_help_names_every_format():
    from detect.conf import __file__ as conf

    header = OmegaConf.load(Path(conf).parent / "check_dataset.yaml").hydra.help.header
    assert all(name in header for name in ("COCO", "YOLO", "VOC"))
    assert "Scan a COCO-format dataset" not in header


def test_every_reader_error_is_a_dataset_error_subclass(tmp_path):
    """The readers' refusals are DatasetError, which the command prints as ``error: …``."""
    root = yolo_set(tmp_path, "names: circle\n")
    with pytest.raises(DatasetError):
        yolo_dataset(root, "val")


def test_voc_names_given_twice_are_refused(tmp_path):
    root = voc_set(tmp_path, voc_object())
    one_line_error(lambda: voc_dataset(root, "val", names=["cat", "dog", "cat"]), "'cat'", "twice")


def test_evaluation_refuses_an_empty_split(tmp_path):
    from detect.data.categories import CategoryMap
    from detect.evaluation.evaluate import model_dataset

    data = empty_split_data(tmp_path, "val")
    categories = CategoryMap((1, 2), ("a", "b"))
    build = lambda: model_dataset(categories, {}, data, "val", "m.ckpt")  # noqa: E731
    one_line_error(build, "val split", "empty")


@pytest.mark.parametrize(
    ("data", "phrases"),
    [
        ({"format": "yolo", "val": {}}, ["data.root", "required"]),
        ({"format": "voc", "root": "/x", "names": "cat", "val": {}}, ["data.names", "'cat'"]),
        ({"format": "yolo", "root": "/x", "keep_negatives": "maybe", "val": {}}, ["boolean"]),
        ({"format": "yolo", "root": "x" * 5000, "val": {}}, ["data.root", "4096 characters"]),
    ],
)
def test_data_configs_are_checked_against_their_builders_types(data, phrases):
    from detect.data.registry import build_dataset

    one_line_error(lambda: build_dataset(data, "val", source="run.ckpt"), "run.ckpt", *phrases)


def test_a_numeric_root_reads_as_a_folder_name(tmp_path):
    """Hydra reads data.root=2024 as an int; the schema makes it the folder's name again."""
    from detect.data.registry import build_dataset

    root = yolo_set(tmp_path / "2024", labels={"x": "0 0.5 0.5 0.2 0.2\n"})
    data = {"format": "yolo", "root": 2024, "val": {}}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root.parent)
        assert len(build_dataset(data, "val")) == 2
