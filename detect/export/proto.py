"""Read and write the detect metadata of an ONNX model proto."""

from __future__ import annotations

import onnx

from detect.errors import ExportError
from detect.export.metadata import METADATA_KEY, ExportMetadata


def read_metadata(proto: onnx.ModelProto) -> ExportMetadata:
    for entry in proto.metadata_props:
        if entry.key == METADATA_KEY:
            return ExportMetadata.from_json(entry.value)
    raise ExportError("the ONNX model has no detect metadata; export it with tools/export.py")


def set_metadata(proto: onnx.ModelProto, metadata: ExportMetadata) -> None:
    """Replace (or add) the model's detect metadata."""
    for entry in proto.metadata_props:
        if entry.key == METADATA_KEY:
            entry.value = metadata.to_json()
            return
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, metadata.to_json()
