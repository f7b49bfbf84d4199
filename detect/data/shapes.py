"""A deterministic synthetic COCO-format "shapes" dataset: the default set, needing no download.

Each PNG image has a smooth, noisy random background and 1..``max_objects`` filled circles,
squares and triangles of random size (15–50 % of the image side) and a colour that contrasts with
the background. Shapes never touch (a 2-pixel gap) and their boxes overlap with IoU ≤ 0.3. Shapes
are drawn without anti-aliasing, so every pixel of a shape has exactly its fill colour (stored as
RGB in the annotation's extra ``color`` field) and its ``bbox`` is the exact tight box of those
pixels; ``area`` is their count.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torchvision.ops import box_convert, box_iou

from detect.data.coco import CocoDetection
from detect.errors import DatasetError
from detect.io import atomic_write

log = logging.getLogger(__name__)

CATEGORIES = ("circle", "square", "triangle")  # COCO category ids 1, 2, 3
FORMAT_VERSION = 1
DESCRIPTION = "synthetic shapes (detect.data.shapes)"
MAX_OBJECTS = 4
MAX_IOU = 0.3
GAP_PX = 2  # minimum distance between two shapes' pixels
MIN_CONTRAST = 100  # some channel of a fill colour differs this much from the background base
BACKGROUND_SPREAD = 30  # amplitude of the low-frequency background variation
BACKGROUND_NOISE = 6.0  # std of the per-pixel background noise (clipped to ±2.5 std)
PLACEMENT_TRIES = 50


def shape_mask(
    category: str,
    center: tuple[float, float],
    size: float,
    angle: float,
    image_size: int | tuple[int, int],
) -> np.ndarray:
    """The uint8 {0, 1} mask of one shape in an image of ``image_size`` (a side, or (H, W)):
    ``size`` is the circle's diameter, the square's side, the triangle's circumscribed
    diameter; ``angle`` (degrees) rotates squares and triangles."""
    shape = (image_size, image_size) if isinstance(image_size, int) else image_size
    mask = np.zeros(shape, np.uint8)
    cx, cy = center
    if category == "circle":
        cv2.circle(mask, (round(cx), round(cy)), round(size / 2), 1, thickness=-1)
        return mask
    if category == "square":
        radius, corners = size / math.sqrt(2), (45, 135, 225, 315)
    elif category == "triangle":
        radius, corners = size / 2, (-90, 30, 150)
    else:
        raise ValueError(f"unknown shape category {category!r}; expected one of {CATEGORIES}")
    points = [
        (
            cx + radius * math.cos(math.radians(a + angle)),
            cy + radius * math.sin(math.radians(a + angle)),
        )
        for a in corners
    ]
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask


def _xywh_iou(a: list[float], b: list[float]) -> float:
    """IoU of two [x, y, w, h] boxes, through torchvision.ops.box_iou."""
    boxes = box_convert(torch.tensor([a, b], dtype=torch.float64), "xywh", "xyxy")
    return float(box_iou(boxes[:1], boxes[1:]))


def background_field(
    rng: np.random.Generator, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random colour field (float32 RGB, (H, W, 3)) and its base colour."""
    base = rng.uniform(40, 215, size=3).astype(np.float32)
    coarse = rng.uniform(-1, 1, size=(4, 4, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return base + BACKGROUND_SPREAD * smooth.clip(-1, 1), base


def with_noise(rng: np.random.Generator, field: np.ndarray) -> np.ndarray:
    """``field`` plus clipped Gaussian pixel noise, as uint8."""
    noise = rng.standard_normal(size=field.shape, dtype=np.float32)
    image = field + BACKGROUND_NOISE * noise.clip(-2.5, 2.5)
    return image.round().clip(0, 255).astype(np.uint8)


def fill_colour(rng: np.random.Generator, base: np.ndarray, used: list[np.ndarray]) -> np.ndarray:
    """A random RGB colour far from the background base in some channel and unused in the image.

    The background deviates from its base by at most 30 + 15 per channel, so a fill colour never
    equals any background pixel."""
    while True:
        colour = rng.integers(0, 256, size=3)
        if np.abs(colour - base).max() >= MIN_CONTRAST and not any(
            np.array_equal(colour, u) for u in used
        ):
            return colour


def _render(
    rng: np.random.Generator, image_size: int, max_objects: int
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """One RGB image and its annotations (without ids)."""
    field, base = background_field(rng, image_size, image_size)
    image = with_noise(rng, field)
    occupied = np.zeros((image_size, image_size), np.uint8)
    kernel = np.ones((2 * GAP_PX + 1, 2 * GAP_PX + 1), np.uint8)
    annotations: list[dict[str, Any]] = []
    used: list[np.ndarray] = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        category_id = int(rng.integers(1, len(CATEGORIES) + 1))
        category = CATEGORIES[category_id - 1]
        for _ in range(PLACEMENT_TRIES):
            size = rng.uniform(0.15, 0.5) * image_size
            extent = size / math.sqrt(2) if category == "square" else size / 2
            cx, cy = rng.uniform(extent, image_size - 1 - extent, size=2)
            angle = rng.uniform(-15, 15) if category == "square" else rng.uniform(0, 360)
            mask = shape_mask(category, (cx, cy), size, angle, image_size)
            bbox = [float(v) for v in cv2.boundingRect(mask)]  # tight box of nonzero pixels
            if (mask & occupied).any() or any(
                _xywh_iou(bbox, a["bbox"]) > MAX_IOU for a in annotations
            ):
                continue
            colour = fill_colour(rng, base, used)
            used.append(colour)
            image[mask.astype(bool)] = colour
            occupied |= cv2.dilate(mask, kernel)
            annotations.append(
                {
                    "category_id": category_id,
                    "bbox": bbox,
                    "area": float(cv2.countNonZero(mask)),
                    "iscrowd": 0,
                    "color": [int(c) for c in colour],
                }
            )
            break
    return image, annotations


def _split(
    root: Path,
    split: str,
    count: int,
    image_size: int,
    max_objects: int,
    rng: np.random.Generator,
    info: dict[str, Any],
) -> dict[str, Any]:
    """Write one split's images; return its COCO dict."""
    (root / split).mkdir(parents=True, exist_ok=True)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for image_id in range(1, count + 1):
        image, anns = _render(rng, image_size, max_objects)
        file_name = f"{image_id:06d}.png"
        if not cv2.imwrite(str(root / split / file_name), image[..., ::-1]):
            raise OSError(f"could not write {root / split / file_name}")
        images.append(
            {"id": image_id, "file_name": file_name, "width": image_size, "height": image_size}
        )
        for ann in anns:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **ann})
    categories = [
        {"id": i, "name": name, "supercategory": "shape"} for i, name in enumerate(CATEGORIES, 1)
    ]
    return {"info": info, "images": images, "annotations": annotations, "categories": categories}


def generate_shapes(
    root: Path,
    num_train: int = 600,
    num_val: int = 100,
    image_size: int = 160,
    seed: int = 0,
    max_objects: int = MAX_OBJECTS,
) -> Path:
    """Write the shapes dataset under ``root`` (``train/``, ``val/``,
    ``annotations/instances_{train,val}.json``) and return ``root``.

    Same arguments → byte-identical files; if both json files already hold these arguments in
    their ``info``, nothing is rewritten."""
    if image_size < 32 or max_objects < 1 or num_train < 0 or num_val < 0:
        raise DatasetError(
            "shapes generation needs image_size ≥ 32, max_objects ≥ 1 and non-negative image "
            f"counts, got image_size={image_size}, max_objects={max_objects}, "
            f"num_train={num_train}, num_val={num_val}"
        )
    root = Path(root)
    params = {
        "num_train": num_train,
        "num_val": num_val,
        "image_size": image_size,
        "seed": seed,
        "max_objects": max_objects,
    }
    if is_generated(root, **params):
        log.debug("shapes dataset already at %s", root)
        return root
    info = {"description": DESCRIPTION, "version": FORMAT_VERSION, "params": params}
    ann_dir = root / "annotations"
    paths = {split: ann_dir / f"instances_{split}.json" for split in ("train", "val")}
    rng = np.random.default_rng(seed)
    ann_dir.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", num_train), ("val", num_val)):
        coco = _split(root, split, count, image_size, max_objects, rng, info)
        atomic_write(paths[split], json.dumps(coco))  # json last: a partial run is redone
    log.info("generated %d + %d shapes images at %s", num_train, num_val, root)
    return root


def is_generated(root: Path, **params: int) -> bool:
    """Whether ``root`` holds the shapes set these generation parameters make."""
    return holds_set(
        root, {"description": DESCRIPTION, "version": FORMAT_VERSION, "params": params}
    )


def holds_set(root: Path, info: dict[str, Any]) -> bool:
    """Whether both splits' annotations under ``root`` record exactly this generation ``info``
    (a generated set whose generator or parameters changed is made again)."""
    try:
        return all(
            json.loads((root / "annotations" / f"instances_{split}.json").read_text())["info"]
            == info
            for split in ("train", "val")
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def shapes_dataset(
    split: str,
    root: str | Path = "data/shapes",
    num_train: int = 600,
    num_val: int = 100,
    image_size: int = 160,
    seed: int = 0,
    generate: bool = True,
    **dataset_options: Any,
) -> CocoDetection:
    """One split ("train" or "val") of the shapes set, generated under ``root`` on first use
    (``generate=False``: an error instead, for a set a checkpoint records but that is gone)."""
    if split not in ("train", "val"):
        raise DatasetError(f"the shapes set has train and val splits, not {split!r}")
    root = Path(root)
    params = {"num_train": num_train, "num_val": num_val, "image_size": image_size, "seed": seed}
    if generate:
        generate_shapes(root, **params)
    elif not is_generated(root, **params, max_objects=MAX_OBJECTS):
        raise DatasetError(
            f"the shapes set at {root} is missing or was generated with other parameters; "
            "choose a dataset with data=<name>, or data=shapes to generate it"
        )
    annotation_file = root / "annotations" / f"instances_{split}.json"
    return CocoDetection(root / split, annotation_file, **dataset_options)
