"""The schema a *stored* model config (a checkpoint's, an export's metadata) must meet before
anything is built from it.

A file from a stranger decides how big the detector it describes is: ``size: 100000`` alone
asks for tens of gigabytes of anchors and activations. The builder's own checks catch configs
that cannot work, not ones that merely cannot fit, so every stored config is bounded here
first (pydantic: types, ranges and known keys in one declaration, one error per field). The
bounds are generous for real detectors — the papers' detectors are 300–640 px at widths up to
1.4 over at most a few thousand classes — and far below what exhausts a machine.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# the backbones detect.models builds (a test holds this equal to detect.models.BACKBONES);
# named here because the torch-free runtimes read stored configs too
BACKBONES = ("v1", "v2", "v3_large", "v3_small")
MAX_SIZE = 2048  # px: the input side; 2048² already costs ~40× a 320-px detector
MAX_WIDTH = 4.0  # width multiplier α (published: 0.35 … 1.4)
MAX_CLASSES = 5000  # LVIS has 1203, Objects365 365, Open Images 601
MAX_DEPTH = 4096  # channels of one extra feature block (SSDLite: 512, 256, 256, 128)
MAX_MAPS = 10  # feature maps (SSDLite: 6)
MAX_RATIOS = 10  # aspect ratios per map (SSDLite: 2, 3)
MAX_KEEP = 100_000  # detections kept per class / per image

Unit = Annotated[float, Field(ge=0, le=1)]
Positive = Annotated[int, Field(ge=1, le=MAX_KEEP)]


class _Closed(BaseModel):
    """Unknown keys are refused (a typo or a field of another program), values never coerced
    from strings."""

    model_config = ConfigDict(extra="forbid", strict=True)


class LossSchema(_Closed):
    iou_thresh: Unit = 0.5
    neg_to_pos: Annotated[float, Field(ge=0, le=1000)] = 3.0
    min_negatives: Annotated[int, Field(ge=0, le=MAX_KEEP)] = 3


class PostprocessSchema(_Closed):
    score_thresh: Unit = 0.001
    topk_per_class: Positive = 300
    nms_thresh: Unit = 0.55
    detections_per_image: Positive = 300


class BackboneSchema(BaseModel):
    """Name and width; the backbone's own options (``reduced_tail``, ``dilated``) are
    flags, checked by name by the builder."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: Literal[BACKBONES]  # type: ignore[valid-type]
    width_mult: Annotated[float, Field(gt=0, le=MAX_WIDTH)]
    pretrained: str | None = None

    @model_validator(mode="after")
    def _flags(self) -> BackboneSchema:
        for key, value in (self.model_extra or {}).items():
            if not isinstance(value, bool):
                raise ValueError(f"backbone option {key} must be true or false, not {value!r}")
        return self


class HeadSchema(_Closed):
    extra_depths: Annotated[
        list[Annotated[int, Field(ge=1, le=MAX_DEPTH)]], Field(max_length=MAX_MAPS)
    ] = [512, 256, 256, 128]
    aspect_ratios: Annotated[
        list[Annotated[list[Annotated[float, Field(gt=0, le=100)]], Field(max_length=MAX_RATIOS)]],
        Field(max_length=MAX_MAPS),
    ] = [[2, 3]] * 6
    min_ratio: Annotated[float, Field(gt=0, le=1)] = 0.2
    max_ratio: Annotated[float, Field(gt=0, le=1)] = 0.95
    bn_eps: Annotated[float, Field(gt=0, lt=1)] = 0.001
    bn_momentum: Annotated[float, Field(ge=0, le=1)] = 0.03
    init: Literal["normal", "kaiming"] = "normal"
    folded_classes: Annotated[
        list[Annotated[int, Field(ge=0, le=MAX_CLASSES)]], Field(max_length=MAX_CLASSES)
    ] = []
    loss: LossSchema = LossSchema()
    postprocess: PostprocessSchema = PostprocessSchema()


class ModelSchema(_Closed):
    """A stored ``model`` node: ``size``, ``backbone``, ``head``."""

    size: Annotated[int, Field(ge=16, le=MAX_SIZE)]
    backbone: BackboneSchema
    head: HeadSchema = HeadSchema()


# stands in for the backbone of an export that stores no model config, so that its size and
# class count are still bounded by the one schema
BARE_BACKBONE = {"name": BACKBONES[0], "width_mult": 1.0}


def _field(location: tuple[Any, ...]) -> str:
    return "model" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in location)


def check_stored_model(model: Any, num_classes: int, source: str) -> None:
    """Raise ``ValueError`` (one line: ``source``, the field, its value, the bound) when a
    stored model config or class count is out of bounds; nothing is built or allocated."""
    if not isinstance(num_classes, int) or not 1 <= num_classes <= MAX_CLASSES:
        raise ValueError(
            f"{source}: it lists {num_classes} categories; a detector here has 1 to "
            f"{MAX_CLASSES} (refused before building anything)"
        )
    if not isinstance(model, dict):
        raise ValueError(
            f"{source}: its stored model config is a {type(model).__name__}, "
            "not a mapping of size, backbone and head"
        )
    try:
        ModelSchema.model_validate(model)
    except ValidationError as error:
        first = error.errors()[0]
        value = first.get("input")
        shown = repr(value) if not isinstance(value, dict) else "{…}"
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise ValueError(
            f"{source}: its stored model config is out of bounds: {_field(first['loc'])} = "
            f"{shown[:60]}: {first['msg'].lower()}{more}; refused before building anything "
            "(re-export or retrain it with detect)"
        ) from None
