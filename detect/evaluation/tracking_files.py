"""The files tracking evaluation reads — MOTChallenge ground truth, a run's
``detections.jsonl``, a ``counts.json`` — checked against a schema before they are scored.

These files come from anywhere (a colleague's run, a dataset's download, a hand edit), so each
row is validated with pydantic (types, finite numbers, box shapes) and what cannot be scored is
refused with one line naming the file, the line and the field: NaN or negative sizes, duplicate
ids in a frame and frames before 1 would otherwise be scored silently, and a frame record
written twice would count its matches twice (IDF1 above 1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from detect.errors import DatasetError

MOT_COLUMNS = ("frame", "id", "left", "top", "width", "height", "consider", "class", "visibility")


@dataclass
class Boxes:
    """One frame's boxes: ``ids`` (N,), ``boxes`` (N, 4) xyxy pixels (0-based), ``classes``
    (N,), ``considered`` (N,) — False for ignored ground truth."""

    ids: list[int] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)
    classes: list[int] = field(default_factory=list)
    considered: list[bool] = field(default_factory=list)

    def add(self, track_id: int, box: list[float], category: int, considered: bool) -> None:
        self.ids.append(track_id)
        self.boxes.append(box)
        self.classes.append(category)
        self.considered.append(considered)

    def array(self) -> np.ndarray:
        return np.array(self.boxes, np.float64).reshape(-1, 4)


def _first_error(error: ValidationError) -> str:
    """pydantic's first complaint as ``field: message`` (and how many more)."""
    first = error.errors()[0]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"]).lstrip(".")
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    value = first.get("input")
    shown = "" if isinstance(value, (dict, list)) else f" = {value!r}"[:50]
    return f"{where or 'the record'}{shown}: {first['msg'].lower()}{more}"


def _text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not a text file ({what})") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot be read ({error.strerror})") from None


Finite = Annotated[float, Field(allow_inf_nan=False)]


class MotRow(BaseModel):
    """One ground-truth row: numbers finite, frames from 1, sizes above 0."""

    model_config = ConfigDict(extra="forbid")

    frame: Annotated[int, Field(ge=1)]
    id: int
    left: Finite
    top: Finite
    width: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    height: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    consider: Finite = 1.0
    class_: Annotated[int, Field(alias="class")] = 1
    visibility: Finite = 1.0


def _mot_value(text: str) -> float | int | str:
    """A MOT field: ints written as ``1`` or ``1.0`` both read as int; anything else as given
    (pydantic then says what is wrong with it)."""
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def read_mot(path: str | Path, min_visibility: float = 0.0) -> dict[int, Boxes]:
    """MOTChallenge ``gt.txt`` (frame, id, left, top, width, height, consider, class,
    visibility; 1-based frames and pixels) → frame → boxes, xyxy 0-based. A row that cannot be
    scored is a :class:`DatasetError` naming its line and field."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"ground truth not found: {path} (a MOTChallenge gt/gt.txt)")
    text = _text(path, "a MOTChallenge gt.txt is comma-separated text")
    frames: dict[int, Boxes] = {}
    first_line: dict[tuple[int, int], int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = [value.strip() for value in line.split(",")]
        if not 6 <= len(fields) <= 10:  # MOT15 rows carry a tenth (3D) column
            raise DatasetError(
                f"{path}:{number}: not a MOTChallenge row (frame, id, left, top, width, "
                f"height, consider, class, visibility): {line[:80]!r}"
            )
        values = dict(zip(MOT_COLUMNS, map(_mot_value, fields), strict=False))
        try:
            row = MotRow.model_validate(values)
        except ValidationError as error:
            raise DatasetError(
                f"{path}:{number}: {_first_error(error)} (MOTChallenge rows: frame ≥ 1, finite "
                "numbers, width and height > 0)"
            ) from None
        key = (row.frame, row.id)
        if key in first_line:
            raise DatasetError(
                f"{path}:{number}: id {row.id} appears twice in frame {row.frame} (first on line "
                f"{first_line[key]}); one object has one box per frame"
            )
        first_line[key] = number
        box = [row.left - 1, row.top - 1, row.left - 1 + row.width, row.top - 1 + row.height]
        keep = row.consider != 0 and row.visibility >= min_visibility
        frames.setdefault(row.frame, Boxes()).add(row.id, box, row.class_, keep)
    if not frames:
        raise DatasetError(f"{path}: no ground-truth rows")
    return frames


class DetectionRecord(BaseModel):
    """One detection of a record (what :meth:`Detections.to_records` writes)."""

    model_config = ConfigDict(extra="allow", strict=True)

    box: Annotated[list[Finite], Field(min_length=4, max_length=4)]
    category_id: int
    track_id: int | None = None


class FrameRecord(BaseModel):
    """One line of ``detections.jsonl``: a frame of a source and its detections."""

    model_config = ConfigDict(extra="allow", strict=True)

    source: str
    frame: Annotated[int, Field(ge=0)]
    detections: list[DetectionRecord]
    counts: dict[str, Any] | None = None


@dataclass
class Run:
    """One source's tracks from a ``detections.jsonl``: MOT frame (1-based) → boxes, the
    source's last ``counts`` record (None without counting), and how many records were exact
    repeats of an earlier one (dropped)."""

    source: str
    frames: dict[int, Boxes]
    counts: dict[str, Any] | None
    repeated: int = 0


def read_records(path: Path) -> list[tuple[int, FrameRecord, str]]:
    """Every record of a ``detections.jsonl`` with its line number and text, validated."""
    records = []
    with path.open(encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                records.append((number, FrameRecord.model_validate_json(line), line.strip()))
            except ValidationError as error:
                if error.errors()[0]["type"] == "json_invalid":
                    raise DatasetError(f"{path}:{number}: not a JSON line") from None
                raise DatasetError(
                    f"{path}:{number}: not a detections record: {_first_error(error)} "
                    "(tools/predict.py writes source, frame and detections with 4-value boxes)"
                ) from None
    return records


def read_run(path: str | Path, source: str | None = None) -> Run:
    """The tracked detections (those with a ``track_id``) of ``source`` (None: the file's
    only source) in a ``detections.jsonl``; classes are the records' ``category_id``. A frame
    recorded twice is refused, unless the copies are identical (then one is kept, counted)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"detections not found: {path} (tools/predict.py writes it)")
    records = read_records(path)
    if not records:
        raise DatasetError(
            f"{path} is empty: no frame records (the run read no frame, or wrote elsewhere)"
        )
    sources = sorted({record.source for _, record, _ in records})
    if source is None:
        if len(sources) != 1:
            raise DatasetError(
                f"{path} holds {len(sources)} sources; choose one with source=… "
                f"({', '.join(sources)})"
            )
        source = sources[0]
    elif source not in sources:
        raise DatasetError(f"{path} has no source {source!r}; it has {', '.join(sources)}")
    frames: dict[int, Boxes] = {}
    seen: dict[int, tuple[int, str]] = {}
    counts, tracked, repeated = None, False, 0
    for number, record, text in records:
        if record.source != source:
            continue
        if record.frame in seen:
            first, earlier = seen[record.frame]
            if json.loads(earlier) != json.loads(text):
                raise DatasetError(
                    f"{path}:{number}: frame {record.frame} of {source} is recorded again, "
                    f"differently (first on line {first}); a run writes one record per frame: "
                    "keep one of them"
                )
            repeated += 1
            continue
        seen[record.frame] = (number, text)
        boxes = frames.setdefault(record.frame + 1, Boxes())
        for detection in record.detections:
            tracked = tracked or "track_id" in detection.model_fields_set
            if detection.track_id is not None:
                boxes.add(detection.track_id, detection.box, detection.category_id, True)
        counts = record.counts if record.counts is not None else counts
    if not tracked and any(record.detections for _, record, _ in records):
        raise DatasetError(
            f"{path}: its detections have no track_id; run tools/predict.py with track=bytetrack"
        )
    return Run(source, frames, counts, repeated)


Tally = dict[str, Annotated[int, Field(ge=0)]]


class ZoneCounts(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    entries: Tally


class TrueCounts(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    lines: dict[str, dict[str, Tally]] = {}
    zones: dict[str, ZoneCounts] = {}


class CountsFile(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    counts: TrueCounts


def read_counts(path: str | Path) -> dict[str, Any]:
    """A ``counts.json``'s true counts (``lines``: line → direction → class → count,
    ``zones``: zone → ``entries`` → class → count), checked."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"counts not found: {path} (tools/synth_video.py writes counts.json)")
    hint = "tools/synth_video.py writes one"
    try:
        raw = json.loads(_text(path, f"a counts.json is json; {hint}"))
    except ValueError:
        raise DatasetError(f"{path}: not valid json ({hint})") from None
    try:
        parsed = CountsFile.model_validate(raw)
    except ValidationError as error:
        raise DatasetError(
            f"{path}: not a counts.json: {_first_error(error)} (an object whose 'counts' holds "
            f"'lines' and 'zones'; {hint})"
        ) from None
    return parsed.counts.model_dump()
