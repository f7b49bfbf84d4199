"""Datasets from plain configs: a ``format`` name mapped onto this project's own builders.

A data config (``conf/data/*.yaml``, and the copy every checkpoint and export stores) is
``format`` + ``root`` + per-split sections + shared options, all plain values::

    {"format": "coco", "root": "data/coco",
     "train": {"image_dir": …, "annotation_file": …}, "val": {…}, "on_bad_sample": "skip"}

Only the builders in :data:`FORMATS` can be reached, and every field must be one of the chosen
builder's parameters, so a config — however it was made — chooses data, never code.
"""

from __future__ import annotations

import functools
import inspect
import logging
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from detect.data.coco import BadSamplePolicy, CocoDetection
from detect.data.moving_shapes import moving_shapes_dataset
from detect.data.schemas import MAX_PATH, describe
from detect.data.shapes import shapes_dataset
from detect.data.voc import VOC_CLASSES, voc_dataset
from detect.data.yolo import yolo_dataset
from detect.errors import DatasetError
from detect.plain import check_plain

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
PATH_FIELDS = ("root", "image_dir", "annotation_file")


def coco_split(
    split: str,
    root: str,
    image_dir: str,
    annotation_file: str,
    keep_negatives: bool = True,
    on_bad_sample: BadSamplePolicy = "skip",
    **runtime: Any,
) -> CocoDetection:
    """A COCO-format split: an image folder and an ``instances_*.json``."""
    return CocoDetection(
        image_dir,
        annotation_file,
        keep_negatives=keep_negatives,
        on_bad_sample=on_bad_sample,
        **runtime,
    )


def shapes_split(
    split: str,
    root: str,
    generation: Mapping[str, int],
    keep_negatives: bool = True,
    on_bad_sample: BadSamplePolicy = "skip",
    generate: bool = True,
    **runtime: Any,
) -> CocoDetection:
    """A split of the synthetic shapes set under ``root``, generated when absent if ``generate``."""
    return shapes_dataset(
        split,
        root,
        **generation,
        generate=generate,
        keep_negatives=keep_negatives,
        on_bad_sample=on_bad_sample,
        **runtime,
    )


def moving_shapes_split(
    split: str,
    root: str,
    generation: Mapping[str, Any],
    keep_negatives: bool = True,
    on_bad_sample: BadSamplePolicy = "skip",
    generate: bool = True,
    **runtime: Any,
) -> CocoDetection:
    """A split of the synthetic moving-shapes frames (the tracking video's look) under
    ``root``, generated when absent if ``generate``."""
    return moving_shapes_dataset(
        split,
        root,
        dict(generation),
        generate=generate,
        keep_negatives=keep_negatives,
        on_bad_sample=on_bad_sample,
        **runtime,
    )


def yolo_split(
    split: str,
    root: str,
    yaml_file: str = "data.yaml",
    keep_negatives: bool = True,
    on_bad_sample: BadSamplePolicy = "skip",
    **runtime: Any,
) -> CocoDetection:
    """A split of a YOLO-format set: ``root/yaml_file`` names the classes and the images."""
    return yolo_dataset(
        root,
        split,
        yaml_file,
        keep_negatives=keep_negatives,
        on_bad_sample=on_bad_sample,
        **runtime,
    )


def voc_split(
    split: str,
    root: str,
    names: Sequence[str] = VOC_CLASSES,
    keep_negatives: bool = True,
    on_bad_sample: BadSamplePolicy = "skip",
    **runtime: Any,
) -> CocoDetection:
    """A split of a Pascal VOC-format set under ``root`` (ImageSets/Main/<split>.txt)."""
    return voc_dataset(
        root, split, names, keep_negatives=keep_negatives, on_bad_sample=on_bad_sample, **runtime
    )


FORMATS: dict[str, Callable[..., CocoDetection]] = {
    "coco": coco_split,
    "shapes": shapes_split,
    "moving_shapes": moving_shapes_split,
    "yolo": yolo_split,
    "voc": voc_split,
}
RUNTIME = ("transforms", "verify_images", "generate")  # given by the caller, never by a config


def fields_of(builder: Callable[..., Any]) -> list[str]:
    """The config fields a builder takes (its parameters, less the split and the runtime ones)."""
    parameters = inspect.signature(builder).parameters.values()
    return [
        p.name
        for p in parameters
        if p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "split" and p.name not in RUNTIME
    ]


@functools.cache
def fields_schema(builder: Callable[..., Any]) -> type[BaseModel]:
    """A pydantic model of a builder's config fields, from its signature's types and defaults:
    a data config (typed on the command line, or stored in a checkpoint) is checked against it
    before anything is read. Numbers become strings where a string is wanted (Hydra reads
    ``data.root=2024`` as an int); strings are bounded to a path's length."""
    hints = typing.get_type_hints(builder)
    parameters = inspect.signature(builder).parameters
    fields: dict[str, Any] = {
        name: (hints[name], ... if parameters[name].default is inspect.Parameter.empty else None)
        for name in fields_of(builder)
    }
    config = ConfigDict(coerce_numbers_to_str=True, str_max_length=MAX_PATH, extra="forbid")
    return create_model(f"{builder.__name__}_fields", __config__=config, **fields)


def absolute_paths(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a data config with every path field absolute (what a checkpoint records, so
    that it evaluates from any directory)."""

    def visit(node: Mapping[str, Any]) -> dict[str, Any]:
        return {
            key: str(Path(value).absolute())
            if key in PATH_FIELDS and isinstance(value, str)
            else visit(value)
            if isinstance(value, Mapping)
            else value
            for key, value in node.items()
        }

    return visit(data)


def build_dataset(
    data: Mapping[str, Any],
    split: str,
    *,
    source: str = "the data config",
    stored: bool = False,
    log_report: bool = True,
    **runtime: Any,
) -> CocoDetection:
    """The ``split`` of the dataset ``data`` describes. ``source`` names where the config came
    from in errors; ``stored``: it came from a file (a checkpoint or export), so the data must
    already exist where it says — nothing is generated — and the fix offered is ``data=…``.
    ``log_report``: log what was skipped or dropped, if anything. ``runtime``: ``transforms``,
    ``verify_images``."""
    check_plain(data, "data", DatasetError, source)
    config = dict(data)
    fmt = config.pop("format", None)
    if fmt not in FORMATS:
        raise DatasetError(f"{source}: data.format is {fmt!r}; choose one of {', '.join(FORMATS)}")
    if split not in SPLITS:
        raise DatasetError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    sections = {name: config.pop(name) for name in SPLITS if name in config}
    if split not in sections:
        raise DatasetError(
            f"{source}: the {fmt} data config has no {split} split; it has "
            f"{', '.join(sections) or 'none'}"
        )
    if not isinstance(sections[split], (Mapping, type(None))):
        raise DatasetError(f"{source}: data.{split} must be a section of fields")
    fields = {**config, **(sections[split] or {})}
    builder = FORMATS[fmt]
    known = fields_of(builder)
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise DatasetError(
            f"{source}: {', '.join(f'data.{key}' for key in unknown)} is not a field of the "
            f"{fmt} format; its fields are {', '.join(known)}"
        )
    try:
        fields = fields_schema(builder).model_validate(fields).model_dump(exclude_unset=True)
    except ValidationError as error:
        raise DatasetError(" ".join(f"{source}: {describe(error, ('data',))}".split())) from None
    if stored:
        root = Path(str(fields.get("root", "")))
        if not root.exists():
            raise DatasetError(
                f"{source} was trained on {fmt} data at {root}, which does not exist here; "
                "choose a dataset with data=<name> (and data.root=…)"
            )
        if "generate" in inspect.signature(builder).parameters:
            runtime["generate"] = False
    dataset = builder(split, **fields, **runtime)
    if log_report and not dataset.report.clean:
        log.warning("%s", dataset.report.summary())
    return dataset
