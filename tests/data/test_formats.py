"""YOLO and Pascal VOC datasets: the real val subset written in both formats loads to the COCO
path's boxes and labels, broken files are reported by name, and each trains and evaluates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pytest
from support.tools import output, run_tool

from detect.data.coco import CocoDetection
from detect.data.registry import build_dataset
from detect.data.voc import BOX


def coco(subset: Path) -> dict:
    return json.loads((subset / "annotations" / "instances_val2017.json").read_text())


def write_yolo(subset: Path, root: Path, images: int | None = None) -> Path:
    """coco_subset's val split as a YOLO set (both splits the same images)."""
    raw = coco(subset)
    ids = sorted(c["id"] for c in raw["categories"])
    names = {c["id"]: c["name"] for c in raw["categories"]}
    index = {coco_id: k for k, coco_id in enumerate(ids)}
    for folder in ("images/val", "labels/val"):
        (root / folder).mkdir(parents=True)
    chosen = raw["images"][:images]
    for info in chosen:
        shutil.copy(subset / "val2017" / info["file_name"], root / "images" / "val")
        lines = []
        for ann in raw["annotations"]:
            if ann["image_id"] == info["id"] and not ann["iscrowd"]:
                x, y, w, h = ann["bbox"]
                cx, cy = (x + w / 2) / info["width"], (y + h / 2) / info["height"]
                lines.append(
                    f"{index[ann['category_id']]} {cx:.6f} {cy:.6f} "
                    f"{w / info['width']:.6f} {h / info['height']:.6f}"
                )
        label = root / "labels" / "val" / Path(info["file_name"]).with_suffix(".txt")
        label.write_text("\n".join(lines) + "\n")
    yaml_names = "\n".join(f"  {k}: {names[coco_id]}" for k, coco_id in enumerate(ids))
    (root / "data.yaml").write_text(
        f"path: .\ntrain: images/val\nval: images/val\nnames:\n{yaml_names}\n"
    )
    return root


def write_voc(subset: Path, root: Path, images: int | None = None) -> tuple[Path, list[str]]:
    """coco_subset's val split as a VOC set with its own class list (train = val)."""
    raw = coco(subset)
    names = [c["name"] for c in sorted(raw["categories"], key=lambda c: c["id"])]
    of = {c["id"]: c["name"] for c in raw["categories"]}
    for folder in ("Annotations", "ImageSets/Main", "JPEGImages"):
        (root / folder).mkdir(parents=True)
    stems = []
    for info in raw["images"][:images]:
        stem = Path(info["file_name"]).stem
        stems.append(stem)
        shutil.copy(subset / "val2017" / info["file_name"], root / "JPEGImages")
        objects = []
        for ann in raw["annotations"]:
            if ann["image_id"] == info["id"] and not ann["iscrowd"]:
                x, y, w, h = ann["bbox"]  # → 1-based inclusive indices, VOC's convention
                edges = zip(BOX, (x + 1, y + 1, x + w, y + h), strict=True)
                box = "".join(f"<{key}>{value}</{key}>" for key, value in edges)
                name = escape(of[ann["category_id"]])
                objects.append(
                    f"<object><name>{name}</name><difficult>0</difficult><bndbox>{box}</bndbox></object>"
                )
        (root / "Annotations" / f"{stem}.xml").write_text(
            f"<annotation><filename>{info['file_name']}</filename><size><width>{info['width']}"
            f"</width><height>{info['height']}</height><depth>3</depth></size>"
            + "".join(objects)
            + "</annotation>"
        )
    for split in ("train", "val"):
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(stems) + "\n")
    return root, names


def by_file(dataset: CocoDetection) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Each image's boxes and category names, keyed by file name."""
    return {
        record.file.name: (record.boxes, [dataset.categories.names[i - 1] for i in record.labels])
        for record in dataset.records
    }


def assert_same(mine: dict, reference: dict, tolerance: float) -> None:
    """The same files; in each, every reference box paired with one of ours of the same
    category within ``tolerance`` px (in any order), none left over."""
    assert mine.keys() == reference.keys()
    for name, (boxes, labels) in reference.items():
        ours, our_labels = mine[name]
        assert sorted(our_labels) == sorted(labels), name
        free = np.ones(len(ours), dtype=bool)
        for box, label in zip(boxes, labels, strict=True):
            gaps = np.abs(ours - box).max(axis=1, initial=0)
            fits = free & (np.asarray(our_labels) == label) & (gaps <= tolerance)
            assert fits.any(), (name, label, box)
            free[np.flatnonzero(fits)[np.argmin(gaps[fits])]] = False


@pytest.fixture(scope="module")
def reference(coco_val_set) -> dict:
    return by_file(coco_val_set)


def test_yolo_loads_the_same_boxes_and_labels_as_coco(coco_subset, reference, tmp_path):
    root = write_yolo(coco_subset, tmp_path / "yolo")
    dataset = build_dataset({"format": "yolo", "root": str(root), "val": {}}, "val")
    assert dataset.report.clean and len(dataset) == 158
    assert_same(by_file(dataset), reference, tolerance=1.0)  # 6 decimals, normalised


def test_voc_loads_the_same_boxes_and_labels_as_coco(coco_subset, reference, tmp_path):
    root, names = write_voc(coco_subset, tmp_path / "voc")
    dataset = build_dataset({"format": "voc", "root": str(root), "names": names, "val": {}}, "val")
    assert dataset.report.clean and len(dataset) == 158
    assert_same(by_file(dataset), reference, tolerance=1e-3)


def test_broken_yolo_files_are_reported_by_name(coco_subset, tmp_path):
    root = write_yolo(coco_subset, tmp_path / "yolo", images=5)
    labels = sorted((root / "labels" / "val").iterdir())
    labels[0].write_text("0 0.5 0.5 0.2\n")  # four values
    labels[1].write_text("99 0.5 0.5 0.2 0.2\nx y z w h\n")  # unknown class, not numbers
    images = sorted((root / "images" / "val").iterdir())
    images[2].write_bytes(b"")  # an empty image
    dataset = build_dataset({"format": "yolo", "root": str(root), "val": {}}, "val")
    report = dataset.report
    assert report.skipped_images == {images[2].relative_to(root).as_posix(): "empty file (0 bytes)"}
    assert report.dropped_boxes["label line without 5 values (class cx cy w h)"] == 1
    assert report.dropped_boxes["class index 99 not in data.yaml names"] == 1
    assert report.dropped_boxes["label line that is not numbers"] == 1
    examples = report.dropped_examples["class index 99 not in data.yaml names"]
    assert examples == [f"{images[1].relative_to(root).as_posix()} (line 1)"]
    assert len(dataset) == 4


def test_broken_voc_files_are_reported_by_name(coco_subset, tmp_path):
    root, names = write_voc(coco_subset, tmp_path / "voc", images=5)
    xmls = sorted((root / "Annotations").iterdir())
    xmls[0].write_text("<annotation><size>")  # truncated
    xmls[1].unlink()
    text = xmls[2].read_text()
    xmls[2].write_text(text.replace("<name>", "<name>x", 1))  # a class not in names
    dataset = build_dataset({"format": "voc", "root": str(root), "names": names, "val": {}}, "val")
    skipped = dataset.report.skipped_images
    assert skipped[f"{xmls[0].stem}.jpg"].startswith("unreadable annotation XML")
    assert skipped[f"{xmls[1].stem}.jpg"] == f"annotation file missing: {xmls[1]}"
    (reason,) = [r for r in dataset.report.dropped_boxes if r.startswith("unknown class")]
    assert dataset.report.dropped_examples[reason] == [f"{xmls[2].stem}.jpg"]
    assert len(dataset) == 3


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["yolo", "voc"])
def test_each_format_trains_and_evaluates_with_pycocotools(fmt, coco_subset, tmp_path):
    if fmt == "yolo":
        data = ["data=yolo", f"data.root={write_yolo(coco_subset, tmp_path / 'set', 16)}"]
    else:
        root, names = write_voc(coco_subset, tmp_path / "set", 16)
        data = ["data=voc", f"data.root={root}", f"data.names=[{','.join(names)}]"]
    runs = tmp_path / "runs"
    train = run_tool(
        "train", *data, "debug=tiny", f"runs_dir={runs}", "run_name=r", "loader.batch_size=8"
    )
    assert train.returncode == 0, output(train)[-3000:]
    assert "16 images)" in output(train)  # the validation line counts the val images
    result = run_tool("eval", f"ckpt={runs / 'r' / 'checkpoints' / 'last.ckpt'}", check=True)
    assert "16 images scored" in result.stdout and "Average Precision" in result.stdout
