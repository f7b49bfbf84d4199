"""YOLO-format datasets (ultralytics' layout), read into the COCO form every other part uses.

A ``data.yaml`` names the classes (``names``: a list, or a dict index → name) and each split's
images (``train``/``val``/``test``: a folder, a ``.txt`` list of images, or a list of either,
relative to ``path`` or to the yaml's folder); each image ``…/images/…/x.jpg`` has its boxes in
``…/labels/…/x.txt``, one ``class cx cy w h`` line per box, normalised to the image size. An
image without a label file is a negative. Class index k becomes category id k + 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from detect.data.coco import CocoDetection, coco_annotation
from detect.data.images import IMAGE_SUFFIXES, image_size
from detect.data.safe_yaml import load_yaml
from detect.data.schemas import Problem, yolo_data, yolo_label
from detect.errors import DatasetError

NO_IMAGE = "label file without an image"


def read_data_yaml(file: Path) -> tuple[Path, dict[str, Any], list[str]]:
    """The dataset's base folder, the yaml's contents and the class names in index order; the
    file is read within YAML's alias budget and checked against the ``YoloData`` schema."""
    if not file.is_file():
        raise DatasetError(
            f"YOLO data file not found: {file.absolute()}; check data.root and data.yaml"
        )
    config = yolo_data(load_yaml(file), file)
    base = Path(config.path or ".")
    base = base if base.is_absolute() else file.parent / base
    return base, config.model_dump(exclude_none=True), config.names


def split_images(
    base: Path, entry: Any, file: Path, problems: list[Problem] | None = None
) -> list[Path]:
    """The images a split entry names: folders (searched recursively), ``.txt`` lists, or a
    list of those. A folder without images, and label files without an image beside a folder's
    images, are noted in ``problems``."""
    entries = entry if isinstance(entry, list) else [entry]
    problems = [] if problems is None else problems
    images: list[Path] = []
    for item in entries:
        path = base / str(item)
        if path.is_dir() and path.resolve() in base.resolve().parents:
            raise DatasetError(
                f"{file}: {str(item)!r} is {path.resolve()}, a folder above the dataset's: every "
                "file under it would be searched; name the images folder (e.g. images/train)"
            )
        if path.is_dir():
            found = [p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES]
            problems += folder_notes(base, str(item), path, found)
            images += found
        elif path.suffix == ".txt" and path.is_file():
            lines = path.read_text(encoding="utf-8").split()
            images += [p if p.is_absolute() else base / p for p in map(Path, lines)]
        else:
            raise DatasetError(
                f"{file}: {str(item)!r} is neither a folder of images nor a .txt list"
            )
    return sorted(set(images))


def shown_path(path: Path, base: Path) -> str:
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)


def folder_notes(base: Path, item: str, folder: Path, images: list[Path]) -> list[Problem]:
    """What a split folder says of the set beyond its images: nothing found (and where the
    folder really is), no labels folder for its images, label files with no image."""
    if not images:
        outside = not folder.resolve().is_relative_to(base.resolve())
        where = f", outside the dataset folder (it is {folder.resolve()})" if outside else ""
        return [Problem(item, f"split entry with 0 images{where}", note=True)]
    labels = label_file(folder / "x").parent
    if labels == folder:
        return []  # no images/ in the path: labels cannot be told apart
    if not labels.is_dir():
        reason = (
            f"no labels folder, so all {len(images)} images are negatives (YOLO reads "
            "images/…/x.jpg's boxes from labels/…/x.txt)"
        )
        return [Problem(shown_path(labels, base), reason, note=True)]
    stems = {label_file(image) for image in images}
    return [
        Problem(shown_path(label, base), NO_IMAGE, note=True)
        for label in sorted(labels.rglob("*.txt"))
        if label not in stems
    ]


def label_file(image: Path) -> Path:
    """``…/images/…/x.jpg`` → ``…/labels/…/x.txt`` (the last ``images`` folder)."""
    parts = list(image.parts)
    if "images" in parts:
        index = len(parts) - 1 - parts[::-1].index("images")
        parts[index] = "labels"
    return Path(*parts).with_suffix(".txt")


def read_labels(
    label: Path, width: int, height: int, classes: int, name: str
) -> tuple[list[tuple[int, list[float]]], list[Problem]]:
    """(category id, COCO xywh box) per usable line, and a problem per unusable one."""
    boxes, problems = [], []
    for number, line in enumerate(label.read_text(encoding="utf-8").splitlines(), start=1):
        values, where = line.split(), f"{name} (line {number})"
        if not values:
            continue
        parsed = yolo_label(values)
        if isinstance(parsed, str):
            problems.append(Problem(where, parsed))
            continue
        index, cx, cy, w, h = parsed
        if not 0 <= index < classes:
            problems.append(Problem(where, f"class index {index} not in data.yaml names"))
            continue
        box = [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height]
        boxes.append((index + 1, box))
    return boxes, problems


def yolo_to_coco(data_file: Path, split: str) -> tuple[Path, dict[str, Any], list[Problem]]:
    """The split as (image folder, COCO-format dict, problems)."""
    base, config, names = read_data_yaml(data_file)
    if split not in config:
        raise DatasetError(
            f"{data_file} has no {split} split (it has {', '.join(config)}): add {split}: "
            "images/<folder>"
        )
    images, annotations, problems = [], [], []
    for image in split_images(base, config[split], data_file, problems):
        name = shown_path(image, base)
        label = label_file(image)
        if label.exists() and not label.is_file():
            reason = f"label path is a directory, not a file: {shown_path(label, base)}"
            problems.append(Problem(name, reason, image=True))
            continue
        try:
            width, height = image_size(image)
        except DatasetError as error:
            problems.append(Problem(name, str(error).split(": ", 1)[-1], image=True))
            continue
        image_id = len(images) + 1
        images.append({"id": image_id, "file_name": name, "width": width, "height": height})
        if not label.is_file():
            continue  # a negative
        try:
            boxes, bad = read_labels(label, width, height, len(names), name)
        except (OSError, UnicodeDecodeError) as error:
            problems.append(Problem(name, f"label file unreadable ({error})", image=True))
            continue
        problems += bad
        for category, box in boxes:
            annotations.append(coco_annotation(len(annotations) + 1, image_id, category, box))
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(names)]
    dataset = {"images": images, "annotations": annotations, "categories": categories}
    return base, dataset, problems


def yolo_dataset(root: str | Path, split: str, yaml_file: str = "data.yaml", **options: Any):
    """A YOLO split as a :class:`CocoDetection` (same report, transforms, evaluation)."""
    data_file = (Path(root) / yaml_file).absolute()  # errors say where it looked
    base, dataset, problems = yolo_to_coco(data_file, split)
    return CocoDetection(
        base, dataset, problems=problems, source=f"{data_file} ({split})", **options
    )
