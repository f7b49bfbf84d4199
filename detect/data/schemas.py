"""The schemas every dataset file from outside is checked against, with bounds, before anything
is built: YOLO's ``data.yaml`` and label lines, VOC's objects, COCO's json (pydantic v2).

A file-level fault (a COCO json that is a list, an image without a width, ``names: circle``) is
one :class:`~detect.errors.DatasetError` line naming the file and the field; a fault in one
record (a box of NaN, a 3-value bbox, ``category_id: "1"``) drops that record, counted under a
reason in the dataset report. The bounds keep a small hostile file from making the readers
allocate without limit: class counts, image sides, box values and string lengths.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from detect.errors import DatasetError

MAX_CLASSES = 10_000  # COCO has 80, LVIS 1203
MAX_NAME = 256  # characters of a class name
MAX_PATH = 4096  # characters of a path (Linux' PATH_MAX)
MAX_SIDE = 100_000  # pixels of an image's width or height
MAX_PIXELS = 1_000_000.0  # |box value| in pixels (COCO, VOC)
MAX_NORMALISED = 10.0  # |YOLO label value|: normalised to the image, 0..1 when inside it
MAX_SPLIT_ENTRIES = 1_000  # folders or lists one YOLO split names

NON_FINITE = "non-finite box coordinates (NaN or inf)"


@dataclass(frozen=True)
class Problem:
    """Something a format reader could not use: an image (skipped), one box (dropped), or a
    note about the set (files with no partner, a split that finds nothing)."""

    file: str
    reason: str
    image: bool = False  # True: the whole image is unusable
    note: bool = False  # True: neither an image nor a box; listed by reason in the report


def no_nul(text: str) -> str:
    if "\x00" in text:
        raise PydanticCustomError("nul", "contains a NUL character")
    return text


Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME)]
PathText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PATH)]
Side = Annotated[StrictInt, Field(ge=1, le=MAX_SIDE)]
Pixels = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=-MAX_PIXELS, le=MAX_PIXELS)]
LoosePixels = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_PIXELS, le=MAX_PIXELS)]
Normalised = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_NORMALISED, le=MAX_NORMALISED)]
SplitEntry = PathText | Annotated[list[PathText], Field(min_length=1, max_length=MAX_SPLIT_ENTRIES)]


def where(loc: Sequence[str | int]) -> str:
    """pydantic's error location as a field path: ``("images", 3, "width")`` → images[3].width."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def shown(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(error: ValidationError, prefix: Sequence[str | int] = ()) -> str:
    """The first fault of ``error`` on one line: ``field: what is wrong (given …)``, and how
    many more there are."""
    faults = error.errors()
    first = faults[0]
    message = re.sub(r" or instance of \w+", "", first["msg"])  # our class names mean nothing
    message = message[0].lower() + message[1:]
    given = "" if first["type"] in ("missing", "names") else f" (given {shown(first['input'])})"
    more = f"; {len(faults) - 1} more faults" if len(faults) > 1 else ""
    field = where([*prefix, *first["loc"]])
    return f"{field}: {message}{given}{more}" if field else f"{message}{given}{more}"


def refuse(file: object, error: ValidationError, prefix: Sequence[str | int] = ()) -> DatasetError:
    return DatasetError(" ".join(f"{file}: {describe(error, prefix)}".split()))


# --- YOLO ---------------------------------------------------------------------------------


def class_index(key: Any) -> int:
    """A ``names`` key: an int, or a string of digits (YAML's ``"0": person``)."""
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and key.strip().isdigit():
        return int(key)
    raise PydanticCustomError(
        "names", "key {key} is not a class index (0, 1, 2, …)", {"key": shown(key)}
    )


def class_name(position: int, value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # a class named 7 is the name "7"
    if isinstance(value, str):
        if not 0 < len(value) <= MAX_NAME:
            raise PydanticCustomError(
                "names",
                "entry {position} is {length} characters long; a class name has 1 to {most}",
                {"position": position, "length": len(value), "most": MAX_NAME},
            )
        return value
    raise PydanticCustomError(
        "names",
        "entry {position} is {kind}, not a class name",
        {"position": position, "kind": type_name(value)},
    )


def type_name(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an int"}
    return "empty (null)" if value is None else names.get(type(value), type(value).__name__)


def class_names(value: Any) -> list[str]:
    """Class names in index order from a list or an index → name mapping (keys may be digit
    strings), each a short string, none twice."""
    if value in (None, "", [], {}):
        raise PydanticCustomError("names", "is empty: list the classes, names: [class0, class1, …]")
    if isinstance(value, str):
        raise PydanticCustomError(
            "names",
            "is a string ({value}), not a list of classes: write names: [{name}] for one "
            "class, or names: [{name}, other, …]",
            {"value": shown(value), "name": value},
        )
    if isinstance(value, dict):
        if len(value) > MAX_CLASSES:
            raise PydanticCustomError("names", "has more than {n} classes", {"n": MAX_CLASSES})
        by_index = {class_index(key): name for key, name in value.items()}
        if sorted(by_index) != list(range(len(by_index))):
            raise PydanticCustomError(
                "names",
                "keys must be the class indices 0..{last}, each once; they are {keys}",
                {"last": len(by_index) - 1, "keys": shown(sorted(by_index), 60)},
            )
        value = [by_index[index] for index in range(len(by_index))]
    if not isinstance(value, list):
        raise PydanticCustomError(
            "names",
            "is {kind}, not a list of class names: names: [class0, class1, …]",
            {"kind": type_name(value)},
        )
    if len(value) > MAX_CLASSES:
        raise PydanticCustomError("names", "has more than {n} classes", {"n": MAX_CLASSES})
    names = [class_name(position, item) for position, item in enumerate(value)]
    twice = [name for name, count in Counter(names).items() if count > 1]
    if twice:
        raise PydanticCustomError(
            "names",
            "has {name} twice: each class needs its own name",
            {"name": shown(twice[0])},
        )
    return names


class YoloData(BaseModel):
    """ultralytics' ``data.yaml``: ``names`` (a list, or a mapping index → name), the splits
    (a folder or ``.txt`` list, or a list of them) and an optional base ``path``."""

    model_config = ConfigDict(extra="allow")  # download:, nc:, and other tools' keys

    names: Annotated[list[Name], Field(max_length=MAX_CLASSES)]
    path: PathText | None = None
    train: SplitEntry | None = None
    val: SplitEntry | None = None
    test: SplitEntry | None = None
    nc: StrictInt | None = None

    @field_validator("names", mode="before")
    @classmethod
    def names_in_order(cls, value: Any) -> list[str]:
        return class_names(value)

    @model_validator(mode="after")
    def count_matches(self) -> YoloData:
        if self.nc is not None and self.nc != len(self.names):
            raise PydanticCustomError(
                "names",
                "nc is {nc} but names lists {n} classes",
                {"nc": self.nc, "n": len(self.names)},
            )
        return self


def yolo_data(config: Any, file: object) -> YoloData:
    """``data.yaml``'s contents checked, or one error line naming the file and the field."""
    if not isinstance(config, dict):
        raise DatasetError(
            f"{file} holds {type_name(config)}, not a mapping with names: and the splits "
            "(train:, val:)"
        )
    try:
        return YoloData.model_validate(config)
    except ValidationError as error:
        raise refuse(file, error) from None


YOLO_LINE = TypeAdapter(tuple[int, Normalised, Normalised, Normalised, Normalised])


def yolo_label(values: Sequence[str]) -> tuple[int, float, float, float, float] | str:
    """A label line's ``class cx cy w h``, or why it is unusable (a report reason)."""
    if len(values) != 5:
        return "label line without 5 values (class cx cy w h)"
    try:
        return YOLO_LINE.validate_python(values)
    except ValidationError as error:
        kinds = {fault["type"] for fault in error.errors()}
        if "finite_number" in kinds:
            return NON_FINITE
        if kinds & {"greater_than_equal", "less_than_equal"}:
            return f"coordinates not normalised (beyond ±{MAX_NORMALISED:g})"
        return "label line that is not numbers"


# --- VOC ----------------------------------------------------------------------------------


def voc_names(names: Any, source: object) -> list[str]:
    """``data.names`` of a VOC set checked as YOLO's are (no class twice, a bounded count)."""
    try:
        return class_names(list(names) if isinstance(names, tuple) else names)
    except PydanticCustomError as error:
        raise DatasetError(" ".join(f"{source}: data.names {error.message()}".split())) from None


VOC_BOX = TypeAdapter(tuple[LoosePixels, LoosePixels, LoosePixels, LoosePixels])
VOC_SIDE = TypeAdapter(Annotated[int, Field(ge=0, le=MAX_SIDE)])


def voc_box(values: Sequence[str | None]) -> tuple[float, float, float, float] | str:
    """``xmin ymin xmax ymax`` of a ``<bndbox>``, or why it is unusable (a report reason)."""
    if any(value is None for value in values):
        return "object without a numeric bndbox"
    try:
        return VOC_BOX.validate_python([value.strip() for value in values])  # type: ignore[union-attr]
    except ValidationError as error:
        kinds = {fault["type"] for fault in error.errors()}
        if "finite_number" in kinds:
            return NON_FINITE
        if kinds & {"greater_than_equal", "less_than_equal"}:
            return f"box coordinates beyond ±{MAX_PIXELS:g} pixels"
        return "object without a numeric bndbox"


def voc_side(text: str | None, field: str) -> int:
    """``<size>``'s width or height (0 when absent: read from the image), or a ValueError."""
    try:
        return VOC_SIDE.validate_python((text or "0").strip())
    except ValidationError as error:
        raise ValueError(f"size/{field}: {describe(error)}") from None


# --- COCO ---------------------------------------------------------------------------------


class CocoImage(BaseModel):
    id: StrictInt
    file_name: Annotated[PathText, Field()]
    width: Side
    height: Side

    @field_validator("file_name")
    @classmethod
    def plain_name(cls, value: str) -> str:
        return no_nul(value)


class CocoCategory(BaseModel):
    id: Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]
    name: Name


class CocoAnnotation(BaseModel):
    id: StrictInt
    image_id: StrictInt
    category_id: StrictInt
    bbox: tuple[Pixels, Pixels, Pixels, Pixels]
    iscrowd: Annotated[int, Field(ge=0, le=1)] = 0
    area: Annotated[float, Field(allow_inf_nan=False)] | None = None


class CocoFile(BaseModel):
    """The top level; annotations are checked one by one (a bad one is dropped, counted)."""

    images: list[CocoImage]
    annotations: list[Any] = []
    categories: Annotated[list[CocoCategory], Field(min_length=1, max_length=MAX_CLASSES)]


def annotation_fault(error: ValidationError) -> str:
    """A report reason for an annotation that fails :class:`CocoAnnotation`."""
    fault = error.errors()[0]
    field = fault["loc"][0] if fault["loc"] else None
    kinds = {f["type"] for f in error.errors() if f["loc"][:1] == (field,)}
    if field is None:
        return "annotation that is not an object"
    if field == "bbox":
        if "missing" in kinds and len(fault["loc"]) == 1:
            return "annotation without a bbox"
        if "finite_number" in kinds:
            return NON_FINITE
        if kinds & {"greater_than_equal", "less_than_equal"}:
            return f"box coordinates beyond ±{MAX_PIXELS:g} pixels"
        return "bbox is not 4 numbers [x, y, w, h]"
    if field == "area" and "finite_number" in kinds:
        return NON_FINITE
    if fault["type"] == "missing":
        return f"annotation without {field}"
    if isinstance(fault["input"], str):
        return f"{field} is a string, not a number"
    return f"{field} {fault['msg'][0].lower()}{fault['msg'][1:]}"


def twice(values: Iterable[Any]) -> tuple[int, Any] | None:
    """The position and value of the first value seen before, if any."""
    seen = set()
    for position, value in enumerate(values):
        if value in seen:
            return position, value
        seen.add(value)
    return None


def check_coco(raw: Any, file: object) -> tuple[dict[str, Any], list[Problem]]:
    """A COCO-format object checked: the dict to index (bad annotations left out) and a problem
    per annotation dropped, or one error line naming the file and field."""
    if not isinstance(raw, dict):
        raise DatasetError(
            f"{file} holds {type_name(raw)}, not a COCO object with images, annotations and "
            "categories"
        )
    try:
        top = CocoFile.model_validate(raw)
    except ValidationError as error:
        raise refuse(file, error) from None
    repeated = twice(image.id for image in top.images)
    if repeated:
        position, image_id = repeated
        raise DatasetError(
            f"{file}: images[{position}].id {image_id} is used twice: each image needs its own id "
            "(the boxes of one would land on the other)"
        )
    for key in ("id", "name"):
        repeated = twice(getattr(category, key) for category in top.categories)
        if repeated:
            position, value = repeated
            raise DatasetError(
                f"{file}: categories[{position}]: category {key} {shown(value)} appears twice: "
                f"each category needs its own {key}"
            )
    files = {image.id: image.file_name for image in top.images}
    annotations, problems = [], []
    for position, annotation in enumerate(top.annotations):
        try:
            checked = CocoAnnotation.model_validate(annotation)
        except ValidationError as error:
            image_id = annotation.get("image_id") if isinstance(annotation, dict) else None
            name = files.get(image_id if isinstance(image_id, int) else None, "")
            problems.append(Problem(name or f"annotations[{position}]", annotation_fault(error)))
            continue
        if checked.image_id not in files:
            name = f"image_id {checked.image_id}"
            problems.append(Problem(name, "image_id with no entry in images"))
            continue
        annotations.append(annotation)
    return {**raw, "annotations": annotations}, problems
