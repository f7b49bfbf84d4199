"""What an exported detector carries besides its graph (ONNX metadata, a LiteRT file's
metadata buffer): categories, input size, configs, precision and — for a network-only graph —
what its numpy decoder needs. Plain data, checked as such when read (:mod:`detect.plain`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from detect.errors import ExportError
from detect.export.decode import Decoder
from detect.plain import check_plain
from detect.stored import BARE_BACKBONE, check_stored_model

METADATA_KEY = "detect"
OUTPUT_KINDS = ("detections", "raw")  # the whole pipeline | the network's heads alone


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

    def to_json(self) -> str:
        return json.dumps(
            {
                "categories": {"ids": list(self.coco_ids), "names": list(self.names)},
                "size": self.size,
                "model": self.model_config,
                "run_config": self.run_config,
                "precision": self.precision,
                "outputs": self.outputs,
                "decoder": self.decoder.to_dict() if self.decoder else None,
            }
        )

    @classmethod
    def from_json(cls, text: str, source: str = "the model") -> ExportMetadata:
        """Parse and check (plain data only: see :mod:`detect.plain`) a file's metadata."""
        try:
            raw = json.loads(text)
        except ValueError:
            raise ExportError(f"{source}: its detect metadata is not valid json") from None
        check_plain(raw, METADATA_KEY, ExportError, source)
        try:
            categories = raw["categories"]
            ids, model = categories["ids"], raw["model"]
        except (KeyError, TypeError) as error:
            raise ExportError(f"{source}: its detect metadata lacks {error}") from None
        # bounded before anything is built from it (see detect.stored); an export of a bare
        # network (the library's metadata_for with an empty config) stores none: then its size
        # and class count are what is bounded
        stored = model if model != {} else {"size": raw.get("size"), "backbone": BARE_BACKBONE}
        try:
            check_stored_model(stored, len(ids) if isinstance(ids, list) else -1, source)
        except ValueError as error:
            raise ExportError(str(error)) from None
        if model and raw.get("size") != model["size"]:
            raise ExportError(
                f"{source}: its metadata's size {raw.get('size')!r} is not its model's "
                f"{model['size']!r}; re-export it"
            )
        try:
            return cls(
                tuple(ids),
                tuple(categories["names"]),
                int(raw["size"]),
                model,
                raw.get("run_config", {}),
                raw.get("precision", "fp32"),
                raw.get("outputs", "detections"),
                Decoder.from_dict(raw["decoder"]) if raw.get("decoder") else None,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ExportError(f"{source}: its detect metadata lacks {error}") from None
