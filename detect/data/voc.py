"""Pascal VOC-format datasets, read into the COCO form every other part uses.

``ImageSets/Main/<split>.txt`` lists the image ids; ``Annotations/<id>.xml`` holds each image's
size and objects (``name``, ``bndbox`` with 1-based inclusive ``xmin … ymax``, ``difficult``);
the images are in ``JPEGImages/``. The classes are ``names`` (the 20 VOC classes by default),
category id = position + 1. Difficult objects become COCO crowd regions: ignored in training and
in evaluation, as VOC's own evaluation ignores them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detect.data.coco import CocoDetection, coco_annotation
from detect.data.images import IMAGE_SUFFIXES, image_size
from detect.data.schemas import MAX_NAME, Problem, voc_box, voc_names, voc_side
from detect.errors import DatasetError

VOC_CLASSES = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
BOX = ("xmin", "ymin", "xmax", "ymax")


def parse_object(node: ET.Element, ids: dict[str, int]) -> tuple[int, list[float], bool] | str:
    """(category id, COCO xywh box, crowd flag) of one ``<object>``, or why it is unusable."""
    name = (node.findtext("name") or "").strip()
    if name not in ids:
        return f"unknown class {name[:MAX_NAME]!r} (not in data.names)"
    box = node.find("bndbox")
    if box is None:
        return "object without a numeric bndbox"
    parsed = voc_box([box.findtext(key) for key in BOX])
    if isinstance(parsed, str):
        return parsed
    xmin, ymin, xmax, ymax = parsed
    difficult = (node.findtext("difficult") or "0").strip() == "1"
    # 1-based inclusive pixel indices → 0-based edges
    return ids[name], [xmin - 1, ymin - 1, xmax - xmin + 1, ymax - ymin + 1], difficult


def image_name(root: Path, stem: str) -> str:
    """The file in ``JPEGImages/`` an image id names (whatever its suffix), for reports."""
    for suffix in sorted(IMAGE_SUFFIXES):
        for name in (f"{stem}{suffix}", f"{stem}{suffix.upper()}"):
            if (root / "JPEGImages" / name).is_file():
                return name
    return f"{stem}.jpg"  # VOC's own suffix, when no image is there either


def voc_to_coco(
    root: Path, split: str, names: Sequence[str]
) -> tuple[Path, dict[str, Any], list[Problem]]:
    """The split as (image folder, COCO-format dict, problems)."""
    listing = root / "ImageSets" / "Main" / f"{split}.txt"
    if not listing.is_file():
        raise DatasetError(f"VOC image set not found: {listing.absolute()}; check data.root")
    ids = {name: index for index, name in enumerate(voc_names(names, root), start=1)}
    images, annotations, problems = [], [], []
    for stem in listing.read_text(encoding="utf-8").split():
        xml = root / "Annotations" / f"{stem}.xml"
        try:
            tree = ET.parse(xml).getroot()
        except FileNotFoundError:
            reason = f"annotation file missing: {xml}"
            problems.append(Problem(image_name(root, stem), reason, True))
            continue
        except (ET.ParseError, OSError, ValueError) as error:  # ValueError: a NUL in the id
            reason = f"unreadable annotation XML ({error})"
            problems.append(Problem(image_name(root, stem), reason, True))
            continue
        file_name = (tree.findtext("filename") or "").strip() or image_name(root, stem)
        try:
            width = voc_side(tree.findtext("size/width"), "width")
            height = voc_side(tree.findtext("size/height"), "height")
            if width <= 0 or height <= 0:
                width, height = image_size(root / "JPEGImages" / file_name)
        except (ValueError, DatasetError) as error:
            problems.append(Problem(file_name, f"no usable image size ({error})", True))
            continue
        image_id = len(images) + 1
        images.append({"id": image_id, "file_name": file_name, "width": width, "height": height})
        for node in tree.iter("object"):
            parsed = parse_object(node, ids)
            if isinstance(parsed, str):
                problems.append(Problem(file_name, parsed))
                continue
            category, box, crowd = parsed
            annotations.append(
                coco_annotation(len(annotations) + 1, image_id, category, box, crowd)
            )
    categories = [{"id": i, "name": n} for n, i in ids.items()]
    dataset = {"images": images, "annotations": annotations, "categories": categories}
    return root / "JPEGImages", dataset, problems


def voc_dataset(
    root: str | Path, split: str, names: Sequence[str] = VOC_CLASSES, **options: Any
) -> CocoDetection:
    """A VOC split as a :class:`CocoDetection` (same report, transforms, evaluation)."""
    root = Path(root)
    image_dir, dataset, problems = voc_to_coco(root, split, names)
    return CocoDetection(
        image_dir, dataset, problems=problems, source=f"{root} ({split})", **options
    )
