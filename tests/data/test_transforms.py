"""Augmentation presets on real COCO val2017 images, checked against analytic expectations."""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
import pytest
from support.paths import COCO_SUBSET as SUBSET

from detect.data.transforms import (
    PRESETS,
    SSD_MEAN_RGB,
    RandomIoUCrop,
    RandomZoomOut,
    bbox_params,
    build_transforms,
)

N_IMAGES = 20
SEEDS = (0, 1, 2)
SIZE = 300

Sample = tuple[np.ndarray, np.ndarray, np.ndarray]  # image, xyxy boxes, labels


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    """The first 20 val2017 images with non-crowd boxes of at least 3×3 px (so none vanish in a
    plain resize to 300), as RGB uint8 with pixel-xyxy float boxes and int category ids."""
    annotations = SUBSET / "annotations" / "instances_val2017.json"
    if not annotations.is_file():
        pytest.skip(f"real data not found at {SUBSET}: check out ../shared beside the project")
    from pycocotools.coco import COCO

    coco = COCO(str(annotations))
    out: list[Sample] = []
    for image_id in sorted(coco.getImgIds()):
        info = coco.loadImgs(image_id)[0]
        boxes, labels = [], []
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id, iscrowd=False)):
            x, y, w, h = ann["bbox"]
            x1, y1 = max(x, 0.0), max(y, 0.0)
            x2, y2 = min(x + w, info["width"]), min(y + h, info["height"])
            if x2 - x1 >= 3 and y2 - y1 >= 3:
                boxes.append([x1, y1, x2, y2])
                labels.append(ann["category_id"])
        bgr = cv2.imread(str(SUBSET / "val2017" / info["file_name"]))
        if not boxes or bgr is None:
            continue
        out.append((cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), np.array(boxes), np.array(labels)))
        if len(out) == N_IMAGES:
            return out
    pytest.skip(f"fewer than {N_IMAGES} usable images in {SUBSET}")


def iou(boxes: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x1 = np.maximum(boxes[:, 0], box[0])
    y1 = np.maximum(boxes[:, 1], box[1])
    x2 = np.minimum(boxes[:, 2], box[2])
    y2 = np.minimum(boxes[:, 3], box[3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / (area + (box[2] - box[0]) * (box[3] - box[1]) - inter)


def area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def expected_crop(
    boxes: np.ndarray, labels: np.ndarray, crop: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """torchvision's rule: keep boxes whose centre is strictly inside, clip them to the crop,
    then drop what is under 1 px² (our BboxParams)."""
    left, top, right, bottom = crop
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    inside = (left < cx) & (cx < right) & (top < cy) & (cy < bottom)
    kept = boxes[inside] - np.array([left, top, left, top])
    kept = np.clip(kept, 0, np.array([right - left, bottom - top] * 2))
    big = area(kept) >= 1
    return kept[big], labels[inside][big]


def run(transform: A.Compose, sample: Sample) -> dict:
    image, boxes, labels = sample
    return transform(image=image, bboxes=boxes, labels=labels)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_gives_a_square_image_and_valid_boxes(samples, preset):
    transform = build_transforms(preset, SIZE)
    changed = 0
    for seed in SEEDS:
        transform.set_random_seed(seed)
        for sample in samples:
            out = run(transform, sample)
            image, boxes, labels = out["image"], np.asarray(out["bboxes"]), out["labels"]
            assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
            assert len(labels) == len(boxes) <= len(sample[2])
            assert set(np.asarray(labels).tolist()) <= set(sample[2].tolist())
            if len(boxes):
                assert boxes.min() >= 0 and boxes.max() <= SIZE
                assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()
            changed += len(boxes) != len(sample[1]) or not np.array_equal(
                image, cv2.resize(sample[0], (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
            )
    runs = len(SEEDS) * len(samples)
    if preset == "none":
        assert changed == 0
    else:  # "no crop" is 1 of 7 IoU options and flip is p=0.5: most runs must change something
        assert changed > runs // 2


def test_none_is_the_analytic_resize(samples):
    transform = build_transforms("none", 320)
    for sample in samples:
        image, boxes, labels = sample
        out = run(transform, sample)
        height, width = image.shape[:2]
        scale = np.array([320 / width, 320 / height] * 2)
        np.testing.assert_allclose(np.asarray(out["bboxes"]), boxes * scale, atol=1e-3, rtol=0)
        np.testing.assert_array_equal(out["labels"], labels)


def test_ssdlite_equals_the_analytic_crop_flip_resize(samples):
    """Reads the sampled crop and flip back from the pipeline and recomputes image and boxes."""
    transform = build_transforms("ssdlite", SIZE)
    crop_step, flip_step = transform.transforms[0], transform.transforms[1]
    assert isinstance(crop_step, RandomIoUCrop) and isinstance(flip_step, A.HorizontalFlip)
    flips = crops = 0
    for seed in SEEDS:
        transform.set_random_seed(seed)
        for sample in samples:
            image, boxes, labels = sample
            out = run(transform, sample)
            crop = crop_step.params["crop_coords"]
            flipped = bool(flip_step.params)
            left, top, right, bottom = crop
            crops += crop != (0, 0, image.shape[1], image.shape[0])
            flips += flipped
            want_boxes, want_labels = expected_crop(boxes, labels, crop)
            want_image = image[top:bottom, left:right]
            if flipped:
                width = right - left
                want_boxes = np.stack(
                    [
                        width - want_boxes[:, 2],
                        want_boxes[:, 1],
                        width - want_boxes[:, 0],
                        want_boxes[:, 3],
                    ],
                    axis=1,
                )
                want_image = want_image[:, ::-1]
            want_boxes = want_boxes * ([SIZE / (right - left), SIZE / (bottom - top)] * 2)
            big = area(want_boxes) >= 1
            np.testing.assert_allclose(
                np.asarray(out["bboxes"]).reshape(-1, 4), want_boxes[big], atol=1e-3, rtol=0
            )
            np.testing.assert_array_equal(out["labels"], want_labels[big])
            want_image = cv2.resize(np.ascontiguousarray(want_image), (SIZE, SIZE))
            np.testing.assert_array_equal(out["image"], want_image)
    runs = len(SEEDS) * len(samples)
    assert 0.25 * runs < flips < 0.75 * runs
    assert crops > runs // 2


def test_iou_crop_meets_the_forced_minimum_iou(samples):
    """With the only option min IoU 0.5, torchvision's criterion: among the boxes whose centres
    lie strictly inside the crop, at least one has IoU ≥ 0.5 with it; only those are kept."""
    crop_step = RandomIoUCrop(sampler_options=[0.5])
    transform = A.Compose([crop_step], bbox_params=bbox_params())
    crops = 0
    for seed in SEEDS:
        transform.set_random_seed(seed)
        for sample in samples:
            image, boxes, labels = sample
            out = run(transform, sample)
            height, width = image.shape[:2]
            crop = left, top, right, bottom = crop_step.params["crop_coords"]
            assert out["image"].shape[:2] == (bottom - top, right - left)
            if crop == (0, 0, width, height):  # fallback: no crop met 0.5 in MAX_OPTION_DRAWS
                assert len(out["bboxes"]) == len(boxes)
                continue
            crops += 1
            assert 0.3 * width - 1 <= right - left <= width
            assert 0.3 * height - 1 <= bottom - top <= height
            assert 0.5 <= (right - left) / (bottom - top) <= 2.0
            cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
            inside = (left < cx) & (cx < right) & (top < cy) & (cy < bottom)
            assert inside.any() and iou(boxes[inside], crop).max() >= 0.5
            want_boxes, want_labels = expected_crop(boxes, labels, crop)
            np.testing.assert_allclose(
                np.asarray(out["bboxes"]).reshape(-1, 4), want_boxes, atol=1e-3, rtol=0
            )
            np.testing.assert_array_equal(out["labels"], want_labels)
            np.testing.assert_array_equal(out["image"], image[top:bottom, left:right])
    assert crops > len(SEEDS) * len(samples) // 2


def test_zoom_out_pastes_the_image_on_a_mean_canvas(samples):
    zoom = RandomZoomOut(p=1.0)
    transform = A.Compose([zoom], bbox_params=bbox_params(), seed=3)
    ratios, positions = [], []
    for sample in samples[:8]:
        image, boxes, labels = sample
        out = run(transform, sample)
        canvas_h, canvas_w = zoom.params["canvas_shape"]
        left, top = zoom.params["offset"]
        height, width = image.shape[:2]
        assert width <= canvas_w <= 4 * width and height <= canvas_h <= 4 * height
        ratios.append(canvas_w / width)
        positions.append(left / max(canvas_w - width, 1))
        assert out["image"].shape == (canvas_h, canvas_w, 3)
        np.testing.assert_array_equal(out["image"][top : top + height, left : left + width], image)
        fill = np.ones(out["image"].shape[:2], dtype=bool)
        fill[top : top + height, left : left + width] = False
        assert (out["image"][fill] == SSD_MEAN_RGB).all()
        np.testing.assert_allclose(
            np.asarray(out["bboxes"]), boxes + np.array([left, top, left, top]), atol=1e-3, rtol=0
        )
        np.testing.assert_array_equal(out["labels"], labels)
    assert np.ptp(ratios) > 0.5 and np.ptp(positions) > 0.3  # size and position are random


@pytest.mark.parametrize("preset", ["ssdlite", "ssd"])
def test_same_seed_same_output(samples, preset):
    def outputs(seed: int) -> list[dict]:
        transform = build_transforms(preset, SIZE)
        transform.set_random_seed(seed)
        return [run(transform, sample) for sample in samples[:6]]

    first, again, other = outputs(5), outputs(5), outputs(6)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a["image"], b["image"])
        np.testing.assert_array_equal(a["bboxes"], b["bboxes"])
        np.testing.assert_array_equal(a["labels"], b["labels"])
    assert any(
        not np.array_equal(a["image"], c["image"]) for a, c in zip(first, other, strict=True)
    )


def test_unknown_preset_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown augmentation preset 'mosaic'") as error:
        build_transforms("mosaic", SIZE)
    assert all(repr(name) in str(error.value) for name in PRESETS)
