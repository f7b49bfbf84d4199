"""COCO-format detection datasets over pycocotools, with bad-sample accounting.

Every image and box that is not used is counted with its reason in a :class:`DataReport`, so a
run never loses data silently: missing or corrupt image files, boxes with w or h ≤ 0, boxes
outside the image, unknown category ids, crowd regions (ignored for training, as SSD does).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pycocotools.coco import COCO
from torch.utils.data import Dataset
from tqdm import tqdm

from detect.data.categories import CategoryMap
from detect.data.images import probe_image, read_image
from detect.data.location import data_hint
from detect.data.schemas import NON_FINITE, Problem, check_coco
from detect.errors import DatasetError, ImageError
from detect.io import atomic_write

log = logging.getLogger(__name__)

BadSamplePolicy = Literal["skip", "raise"]


@dataclass
class DataReport:
    """What was kept and what was skipped or dropped, and why."""

    source: str
    images: int = 0
    boxes: int = 0
    skipped_images: dict[str, str] = field(default_factory=dict)  # file → reason
    dropped_boxes: Counter[str] = field(default_factory=Counter)  # reason → count
    dropped_examples: dict[str, list[str]] = field(default_factory=dict)  # reason → a few files
    crowd_boxes: int = 0
    boxes_per_category: Counter[str] = field(default_factory=Counter)
    notes: dict[str, list[str]] = field(default_factory=dict)  # reason → files (all of them)

    def drop_box(self, reason: str, file_name: str) -> None:
        self.dropped_boxes[reason] += 1
        examples = self.dropped_examples.setdefault(reason, [])
        if len(examples) < 5 and file_name not in examples:
            examples.append(file_name)

    def note(self, reason: str, file_name: str) -> None:
        """A file that is neither an image nor a box but tells of a fault in the set (a label
        file with no image, a split entry that finds nothing)."""
        self.notes.setdefault(reason, []).append(file_name)

    @property
    def clean(self) -> bool:
        """Nothing skipped, dropped or noted (crowd regions are ignored by design)."""
        return not (self.skipped_images or self.dropped_boxes or self.notes)

    def summary(self) -> str:
        lines = [
            f"{self.source}: {self.images} images, {self.boxes} boxes kept; "
            f"{len(self.skipped_images)} images skipped, {sum(self.dropped_boxes.values())} boxes "
            f"dropped, {self.crowd_boxes} crowd regions ignored"
        ]
        for file_name, reason in sorted(self.skipped_images.items()):
            lines.append(f"  skipped {file_name}: {reason}")
        for reason, count in sorted(self.dropped_boxes.items()):
            examples = ", ".join(self.dropped_examples.get(reason, []))
            lines.append(f"  dropped {count} boxes ({reason}), e.g. in {examples}")
        for reason, files in sorted(self.notes.items()):
            shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
            lines.append(f"  {reason}: {shown}")
        return "\n".join(lines)

    def to_json(self, path: Path) -> None:
        record = {
            "source": self.source,
            "images": self.images,
            "boxes": self.boxes,
            "skipped_images": self.skipped_images,
            "dropped_boxes": dict(self.dropped_boxes),
            "dropped_examples": self.dropped_examples,
            "crowd_boxes": self.crowd_boxes,
            "boxes_per_category": dict(self.boxes_per_category),
            "notes": self.notes,
        }
        atomic_write(path, json.dumps(record, indent=2))


def coco_annotation(
    annotation_id: int, image_id: int, category_id: int, box: list[float], crowd: bool = False
) -> dict[str, Any]:
    """One COCO ``annotations`` entry (``bbox`` as [x, y, w, h] pixels): what the readers of
    other formats write."""
    return {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": category_id,
        "bbox": box,
        "area": box[2] * box[3],
        "iscrowd": int(crowd),
    }


def coco_index(dataset: dict[str, Any]) -> COCO:
    """pycocotools' index of a COCO-format dict (checked by :func:`check_coco` first)."""
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
        coco.createIndex()
    return coco


def read_coco_json(annotation_file: Path) -> Any:
    """The json in ``annotation_file``, or an error that names the file."""
    if not annotation_file.is_file():
        raise DatasetError(
            f"annotation file not found: {annotation_file.absolute()}; check data.root"
            + data_hint(annotation_file)
        )
    try:
        with annotation_file.open(encoding="utf-8") as stream:
            return json.load(stream)
    except (ValueError, UnicodeDecodeError, RecursionError, OSError) as error:
        # ValueError: JSONDecodeError, and an integer beyond Python's 4300 digits
        reason = "nested too deeply" if isinstance(error, RecursionError) else error
        raise DatasetError(
            f"cannot read COCO annotations {annotation_file}: {reason}; the file is truncated or "
            "not an instances_*.json (needs images, annotations, categories)"
        ) from None


def load_coco(
    annotation_file: Path | dict[str, Any], name: str | None = None
) -> tuple[COCO, list[Problem]]:
    """pycocotools' index of ``annotation_file`` (a path, or a COCO-format dict that errors
    call ``name``) after the schema check, and the annotations it dropped; a file that cannot
    work is an error naming it and the field."""
    raw = annotation_file if isinstance(annotation_file, dict) else read_coco_json(annotation_file)
    dataset, problems = check_coco(raw, name or str(annotation_file))
    return coco_index(dataset), problems


@dataclass(frozen=True)
class Record:
    """One usable image: its file and clean boxes (xyxy pixels) with contiguous labels."""

    image_id: int
    file: Path
    width: int
    height: int
    boxes: np.ndarray
    labels: np.ndarray


def empty_split(split: str, dataset: Any) -> str:
    """Why a split with no usable images cannot train or validate, naming where it came from."""
    report = getattr(dataset, "report", None)
    source = f" of {report.source}" if report is not None else ""
    found = ""
    if report is not None and not report.clean:
        found = (
            f" ({len(report.skipped_images)} images skipped, "
            f"{sum(len(files) for files in report.notes.values())} notes)"
        )
    return (
        f"the {split} split{source} is empty: no usable images{found}; "
        "detect check-data with the same data=… says what it found"
    )


class CocoDetection(Dataset):
    """An image folder plus an ``instances_*.json`` (or a COCO-format dict, with the problems
    its reader met); items are ``(image, target)``.

    ``verify_images`` decodes every image up front (with a progress bar) so that corrupt files
    are reported (or raised) before training; otherwise they are found, logged and skipped when
    first read.

    ``image`` is RGB uint8 (H, W, 3) after ``transforms``; ``target`` holds ``boxes`` (N, 4) xyxy
    float32 pixels, ``labels`` (N,) int64 contiguous (see ``categories``) and ``image_id``.
    """

    def __init__(
        self,
        image_dir: str | Path,
        annotation_file: str | Path | dict[str, Any],
        transforms: Callable[..., dict[str, Any]] | None = None,
        keep_negatives: bool = True,
        on_bad_sample: BadSamplePolicy = "skip",
        verify_images: bool = False,
        problems: Sequence[Problem] = (),
        source: str | None = None,
    ) -> None:
        if on_bad_sample not in ("skip", "raise"):
            raise DatasetError(f"on_bad_sample must be 'skip' or 'raise', got {on_bad_sample!r}")
        self.image_dir = Path(image_dir)
        if not self.image_dir.is_dir():
            raise DatasetError(
                f"image folder not found: {self.image_dir.absolute()}; check data.root"
                + data_hint(self.image_dir)
            )
        if isinstance(annotation_file, dict):
            name = source or "a COCO-format dict"
        else:
            annotation_file = Path(annotation_file)
            name = str(annotation_file)
        self.coco, dropped = load_coco(annotation_file, name)
        problems = [*problems, *dropped]
        self.categories = CategoryMap.from_coco(self.coco.dataset["categories"])
        self.transforms = transforms
        self.on_bad_sample = on_bad_sample
        self.report = DataReport(source or name)
        for problem in problems:
            if problem.image:
                self._bad(problem.file, problem.reason)
            elif problem.note:
                self.report.note(problem.reason, problem.file)
            else:
                self.report.drop_box(problem.reason, problem.file)
        self.records = self._scan(keep_negatives, verify_images)

    def _bad(self, file_name: str, reason: str) -> None:
        if self.on_bad_sample == "raise":
            message = f"{file_name}: {reason} (set on_bad_sample=skip to skip it)"
            raise DatasetError(" ".join(message.split()))  # one line, whatever the name holds
        self.report.skipped_images[file_name] = reason

    def _scan(self, keep_negatives: bool, verify_images: bool) -> list[Record]:
        records = []
        known = set(self.categories.coco_ids)
        image_ids = sorted(self.coco.getImgIds())
        if verify_images:
            image_ids = tqdm(image_ids, desc="verifying images", unit="img", disable=not image_ids)
        for image_id in image_ids:
            info = self.coco.imgs[image_id]
            file = self.image_dir / info["file_name"]
            reason = probe_image(file)
            if reason is None and verify_images:
                try:
                    read_image(file)
                except ImageError as error:
                    reason = error.reason
            if reason is not None:
                self._bad(info["file_name"], reason)
                continue
            boxes, labels = [], []
            for ann in self.coco.imgToAnns.get(image_id, []):
                reason = self._box_problem(ann, info, known)
                if reason == "crowd":
                    self.report.crowd_boxes += 1
                elif reason:
                    self.report.drop_box(reason, info["file_name"])
                else:
                    x, y, w, h = ann["bbox"]
                    box = np.clip([x, y, x + w, y + h], 0, [info["width"], info["height"]] * 2)
                    boxes.append(box)
                    labels.append(self.categories.label(ann["category_id"]))
                    self.report.boxes_per_category[self.categories.names[labels[-1] - 1]] += 1
            if not boxes and not keep_negatives:
                self.report.skipped_images[info["file_name"]] = (
                    "no usable boxes (keep_negatives=false)"
                )
                continue
            records.append(
                Record(
                    image_id,
                    file,
                    info["width"],
                    info["height"],
                    np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
                    np.asarray(labels, dtype=np.int64),
                )
            )
        self.report.images = len(records)
        self.report.boxes = sum(len(r.labels) for r in records)
        return records

    @staticmethod
    def _box_problem(ann: dict[str, Any], info: dict[str, Any], known: set[int]) -> str | None:
        if ann.get("iscrowd", 0):
            return "crowd"
        if ann["category_id"] not in known:
            return f"unknown category id {ann['category_id']}"
        x, y, w, h = ann["bbox"]
        if not np.isfinite([x, y, w, h]).all():  # checked by the schema; never kept regardless
            return NON_FINITE
        if w <= 0 or h <= 0:
            return "width or height <= 0"
        if x >= info["width"] or y >= info["height"] or x + w <= 0 or y + h <= 0:
            return "outside the image"
        return None

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[np.ndarray, dict[str, Any]] | None:
        """The sample, or None for an image that cannot be decoded (the collate drops it)."""
        record = self.records[index]
        try:
            image = read_image(record.file)
        except ImageError as error:
            self._bad(record.file.name, error.reason)
            log.warning("skipping %s", error)
            return None
        boxes, labels = record.boxes, record.labels
        if self.transforms is not None:
            out = self.transforms(image=image, bboxes=boxes, labels=labels)
            image = out["image"]
            boxes = np.asarray(out["bboxes"], dtype=np.float32).reshape(-1, 4)
            labels = np.asarray(out["labels"], dtype=np.int64)
        return image, {"boxes": boxes, "labels": labels, "image_id": record.image_id}
