"""What an exported detector carries besides its graph (ONNX metadata, a LiteRT file's
metadata buffer, an IR's rt_info, NCNN's ``.json``): categories, input size, configs,
precision and — for a network-only graph — what its numpy decoder needs.

One schema for every format (pydantic, as a checkpoint's stored config: :mod:`detect.stored`):
types, lengths, nesting depth and ranges are checked when the metadata is written and again
when it is read, so a stranger's file is refused in one line before anything is built from it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from detect.errors import ExportError
from detect.export.decode import Decoder
from detect.plain import check_plain
from detect.stored import BARE_BACKBONE, MAX_CLASSES, MAX_KEEP, MAX_SIZE, check_stored_model

METADATA_KEY = "detect"
OUTPUT_KINDS = ("detections", "raw")  # the whole pipeline | the network's heads alone
PRECISIONS = ("fp32", "fp16", "int8")
MAX_DEPTH = 24  # nesting of the metadata's JSON (a run config: ~6 levels)
MAX_TEXT = 32 << 20  # bytes of metadata JSON (a 2048-px model's anchors: ~10 MB)
MAX_ANCHORS = 200_000  # a 2048-px SSDLite has ~130,000 (a 320-px one 3,234)
MAX_ID = 1 << 31  # a category id fits an int32 (COCO's run 1-90)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # never in a category name (a label file's lines)

Unit = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Positive = Annotated[int, Field(ge=1, le=MAX_KEEP)]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CategoriesSchema(_Closed):
    ids: Annotated[list[Annotated[int, Field(ge=0, le=MAX_ID)]], Field(min_length=1)]
    names: list[Annotated[str, Field(min_length=1, max_length=200)]]

    @field_validator("names")
    @classmethod
    def _printable(cls, names: list[str]) -> list[str]:
        for name in names:
            if CONTROL.search(name):
                raise ValueError(
                    f"the name {name!r} holds a control character (a line break would shift "
                    "every label file's lines)"
                )
        return names

    @model_validator(mode="after")
    def _paired(self) -> CategoriesSchema:
        if len(self.ids) > MAX_CLASSES:
            raise ValueError(
                f"{len(self.ids)} categories; a detector here has at most {MAX_CLASSES}"
            )
        if len(self.names) != len(self.ids):
            raise ValueError(f"{len(self.ids)} ids but {len(self.names)} names")
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("an id is listed twice")
        return self


class DecoderSchema(_Closed):
    anchors: Annotated[list[Any], Field(min_length=1, max_length=MAX_ANCHORS)]
    weights: Annotated[
        list[Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)]],
        Field(min_length=4, max_length=4),
    ]
    size: Annotated[int, Field(ge=16, le=MAX_SIZE)]
    score_thresh: Unit
    topk_per_class: Positive
    nms_thresh: Unit
    detections_per_image: Positive

    @field_validator("anchors")
    @classmethod
    def _boxes(cls, anchors: list[Any]) -> list[Any]:
        """(A, 4) finite numbers within the model's reach, checked as one array (per-value
        validation of 130,000 anchors costs seconds)."""
        try:
            array = np.asarray(anchors, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("anchors must be [x1, y1, x2, y2] numbers") from None
        if array.ndim != 2 or array.shape[1] != 4:
            raise ValueError(f"anchors must be (A, 4), not {array.shape}")
        if not np.isfinite(array).all() or np.abs(array).max() > 5 * MAX_SIZE:
            raise ValueError("anchors must be finite coordinates within the image")
        return anchors


class MetadataSchema(_Closed):
    categories: CategoriesSchema
    size: Annotated[int, Field(ge=16, le=MAX_SIZE)]
    model: dict[str, Any]
    run_config: dict[str, Any] = {}
    precision: Literal[PRECISIONS] = "fp32"  # type: ignore[valid-type]
    outputs: Literal[OUTPUT_KINDS] = "detections"  # type: ignore[valid-type]
    decoder: DecoderSchema | None = None
    weights: WeightsRecord | None = None

    @model_validator(mode="after")
    def _consistent(self) -> MetadataSchema:
        if self.outputs == "raw" and self.decoder is None:
            raise ValueError("a network-only export (outputs raw) needs its decoder settings")
        if self.decoder is not None and self.decoder.size != self.size:
            raise ValueError(
                f"the decoder's size {self.decoder.size} is not the model's {self.size}"
            )
        return self


class WeightsRecord(_Closed):
    """A weights file kept beside the graph (NCNN's ``.bin``): its length and SHA-256, so that
    a ``.bin`` from another export (or shifted by a byte) is refused, not run."""

    bytes: Annotated[int, Field(ge=0, le=1 << 34)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


MetadataSchema.model_rebuild()


def depth(value: Any) -> int:
    """How deeply ``value``'s lists and dicts nest (iteratively: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            stack.extend((child, level + 1) for child in item)
    return deepest


def schema_error(error: ValidationError) -> str:
    """A validation error's first problem in one line: the field, its value, what is wrong."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the metadata"
    value = first.get("input")
    shown = "{…}" if isinstance(value, dict) else "[…]" if isinstance(value, list) else repr(value)
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    if first["type"] == "missing":
        return f"it lacks {where}{more}"
    return f"{where} = {shown[:60]}: {first['msg'].lower()}{more}"


@dataclass(frozen=True)
class ExportMetadata:
    """What the exported file knows besides its graph."""

    coco_ids: tuple[int, ...]
    names: tuple[str, ...]
    size: int
    model_config: dict[str, Any]
    run_config: dict[str, Any]
    precision: str  # "fp32", "fp16" or "int8"
    outputs: str = "detections"  # see OUTPUT_KINDS
    decoder: Decoder | None = None  # for outputs="raw"
    weights: dict[str, Any] | None = None  # NCNN's .bin: {"bytes": n, "sha256": hex}

    @property
    def num_classes(self) -> int:
        """Classes the graph scores, background included."""
        return len(self.coco_ids) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "categories": {"ids": list(self.coco_ids), "names": list(self.names)},
            "size": self.size,
            "model": self.model_config,
            "run_config": self.run_config,
            "precision": self.precision,
            "outputs": self.outputs,
            "decoder": self.decoder.to_dict() if self.decoder else None,
            **({"weights": self.weights} if self.weights is not None else {}),
        }

    def to_json(self) -> str:
        """The metadata as stored, checked against the schema first: what a loader would
        refuse is never written (a category name holding a line break, …)."""
        raw = self.to_dict()
        try:
            MetadataSchema.model_validate(raw)
        except ValidationError as error:
            raise ExportError(f"cannot export this model: its {schema_error(error)}") from None
        return json.dumps(raw, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "the model") -> ExportMetadata:
        """Parse and check a file's metadata: size, nesting, plain data only (see
        :mod:`detect.plain`), the schema, the stored model config's bounds."""
        if len(text) > MAX_TEXT:
            raise ExportError(f"{source}: its detect metadata is {len(text)} bytes; refused")
        try:
            raw = json.loads(text, parse_constant=_no_constant)
        except RecursionError:
            raise ExportError(
                f"{source}: its detect metadata nests deeper than {MAX_DEPTH} levels; refused"
            ) from None
        except ValueError:
            raise ExportError(f"{source}: its detect metadata is not valid json") from None
        try:
            checked = MetadataSchema.model_validate(raw)
        except ValidationError as error:
            raise ExportError(
                f"{source}: its detect metadata is refused: {schema_error(error)} (re-export it "
                "with detect export)"
            ) from None
        # the configs are free-form: bounded in depth, then plain data only (detect.plain)
        for key in ("model", "run_config"):
            if depth(raw.get(key)) > MAX_DEPTH:
                raise ExportError(
                    f"{source}: its detect metadata's {key} nests deeper than {MAX_DEPTH} "
                    "levels; refused"
                )
            check_plain(raw.get(key), f"{METADATA_KEY}.{key}", ExportError, source)
        ids, model = checked.categories.ids, checked.model
        # bounded before anything is built from it (see detect.stored); an export of a bare
        # network (the library's metadata_for with an empty config) stores none: then its size
        # and class count are what is bounded
        stored = model if model != {} else {"size": checked.size, "backbone": BARE_BACKBONE}
        try:
            check_stored_model(stored, len(ids), source)
        except ValueError as error:
            raise ExportError(str(error)) from None
        if model and checked.size != model["size"]:
            raise ExportError(
                f"{source}: its metadata's size {checked.size!r} is not its model's "
                f"{model['size']!r}; re-export it"
            )
        decoder = raw.get("decoder")
        return cls(
            tuple(ids),
            tuple(checked.categories.names),
            checked.size,
            model,
            checked.run_config,
            checked.precision,
            checked.outputs,
            Decoder.from_dict(decoder) if decoder else None,
            checked.weights.model_dump() if checked.weights else None,
        )


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not json")
