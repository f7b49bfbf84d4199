"""The synthetic shapes dataset: valid COCO, exact boxes, deterministic, idempotent, no overlap."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from torchvision.ops import box_iou

from detect.data.shapes import CATEGORIES, generate_shapes, shape_mask

SPLITS = {"train": 20, "val": 5}


@pytest.fixture(scope="module")
def shapes_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("shapes")
    return generate_shapes(root, num_train=SPLITS["train"], num_val=SPLITS["val"], seed=3)


def _load(root: Path, split: str) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(root / "annotations" / f"instances_{split}.json"))


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("split", list(SPLITS))
def test_valid_coco(shapes_root: Path, split: str) -> None:
    coco = _load(shapes_root, split)
    assert len(coco.imgs) == SPLITS[split]
    assert len(coco.anns) >= SPLITS[split]  # at least one shape per image
    assert sorted(coco.cats) == [1, 2, 3]
    assert [coco.cats[i]["name"] for i in (1, 2, 3)] == list(CATEGORIES)
    assert all(c["supercategory"] == "shape" for c in coco.cats.values())
    for image_id, info in coco.imgs.items():
        image = cv2.imread(str(shapes_root / split / info["file_name"]))
        assert image is not None
        assert image.shape == (info["height"], info["width"], 3) == (160, 160, 3)
        assert 1 <= len(coco.getAnnIds(imgIds=[image_id])) <= 4
    for ann in coco.anns.values():
        assert ann["iscrowd"] == 0 and ann["category_id"] in (1, 2, 3)
        x, y, w, h = ann["bbox"]
        assert all(isinstance(v, float) for v in ann["bbox"])
        assert x >= 0 and y >= 0 and x + w <= 160 and y + h <= 160
        assert 0.12 * 160 <= max(w, h) <= 0.62 * 160  # side 15–50 %, squares rotate ≤ 15°


@pytest.mark.parametrize("split", list(SPLITS))
def test_boxes_are_exact_tight_boxes_of_the_shape_pixels(shapes_root: Path, split: str) -> None:
    coco = _load(shapes_root, split)
    for ann in coco.anns.values():
        info = coco.imgs[ann["image_id"]]
        rgb = cv2.imread(str(shapes_root / split / info["file_name"]))[..., ::-1]
        ys, xs = np.nonzero((rgb == np.array(ann["color"])).all(axis=-1))
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max(), ys.max()
        assert ann["bbox"] == [x0, y0, x1 - x0 + 1, y1 - y0 + 1]
        assert ann["area"] == len(xs)


def test_shape_mask_is_a_filled_shape() -> None:
    circle = shape_mask("circle", (50.0, 50.0), 40.0, 0.0, 100)
    assert cv2.boundingRect(circle) == (30, 30, 41, 41)
    assert abs(circle.sum() - np.pi * 20**2) < 0.05 * np.pi * 20**2
    square = shape_mask("square", (50.0, 50.0), 40.0, 0.0, 100)
    assert cv2.boundingRect(square) == (30, 30, 41, 41) and square.sum() == 41 * 41
    triangle = shape_mask("triangle", (50.0, 50.0), 40.0, 0.0, 100)
    _, y, w, h = cv2.boundingRect(triangle)
    assert (y, h) == (30, 31) and abs(w - 20 * np.sqrt(3)) <= 2  # apex up, base at y = 60
    with pytest.raises(ValueError, match="unknown shape"):
        shape_mask("hexagon", (50.0, 50.0), 40.0, 0.0, 100)


def test_deterministic_per_seed(shapes_root: Path, tmp_path: Path) -> None:
    again = generate_shapes(
        tmp_path / "again", num_train=SPLITS["train"], num_val=SPLITS["val"], seed=3
    )
    other = generate_shapes(
        tmp_path / "other", num_train=SPLITS["train"], num_val=SPLITS["val"], seed=4
    )
    reference = _files(shapes_root)
    assert len(reference) == sum(SPLITS.values()) + 2
    assert _files(again) == reference
    different = _files(other)
    assert different.keys() == reference.keys()
    assert all(different[k] != v for k, v in reference.items())


def test_idempotent(tmp_path: Path) -> None:
    generate_shapes(tmp_path, num_train=4, num_val=2)
    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    generate_shapes(tmp_path, num_train=4, num_val=2)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == mtimes
    # other parameters regenerate; the json records them
    generate_shapes(tmp_path, num_train=4, num_val=2, seed=1)
    data = json.loads((tmp_path / "annotations" / "instances_val.json").read_text())
    assert data["info"]["params"]["seed"] == 1
    assert all(mtimes[p] != p.stat().st_mtime_ns for p in mtimes)


@pytest.mark.parametrize("split", list(SPLITS))
def test_boxes_barely_overlap(shapes_root: Path, split: str) -> None:
    coco = _load(shapes_root, split)
    many = 0
    for image_id in coco.imgs:
        boxes = torch.tensor([coco.anns[i]["bbox"] for i in coco.getAnnIds(imgIds=[image_id])])
        boxes[:, 2:] += boxes[:, :2]
        iou = box_iou(boxes, boxes).fill_diagonal_(0)
        assert iou.max() <= 0.3
        many += len(boxes) > 1
    assert many > 0  # the check is not vacuous


def test_shapes_dataset_generates_then_loads_a_split(tmp_path):
    from detect.data.shapes import shapes_dataset

    dataset = shapes_dataset("val", tmp_path, num_train=4, num_val=3, image_size=96)
    assert len(dataset) == 3
    assert dataset.categories.names == CATEGORIES
    image, target = dataset[0]
    assert image.shape == (96, 96, 3) and len(target["boxes"]) >= 1
    with pytest.raises(ValueError, match="has train and val splits, not 'test'"):
        shapes_dataset("test", tmp_path)
