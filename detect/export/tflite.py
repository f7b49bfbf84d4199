"""The detect metadata inside a LiteRT (``.tflite``) file: a named metadata buffer of the
flatbuffer (the same JSON an ONNX export carries), written and read with LiteRT's own schema
bindings. numpy + ai_edge_litert only: the phone-format runtime reads it without torch."""

from __future__ import annotations

import struct

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

from detect.errors import ExportError
from detect.export.metadata import METADATA_KEY, ExportMetadata

FILE_IDENTIFIER = b"TFL3"


def with_metadata(model: bytes, metadata: ExportMetadata) -> bytes:
    """``model`` with its ``detect`` metadata buffer set (replacing an earlier one)."""
    tree = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    for buffer in tree.buffers or []:  # data stored after the flatbuffer (the quantiser does
        if buffer.offset > 1:  # that): inline it, since repacking moves the end of the table
            stored = model[buffer.offset : buffer.offset + buffer.size]
            buffer.data = np.frombuffer(stored, dtype=np.uint8)
            buffer.offset = buffer.size = 0
    kept = [entry for entry in tree.metadata or [] if entry.name != METADATA_KEY.encode()]
    tree.metadata = kept
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(metadata.to_json().encode("utf-8"), dtype=np.uint8)
    tree.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA_KEY, len(tree.buffers) - 1
    tree.metadata.append(entry)
    builder = flatbuffers.Builder(len(model) + 1024)
    builder.Finish(tree.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def read_metadata(model: bytes, source: str) -> ExportMetadata:
    """The ``detect`` metadata of a LiteRT file, checked (plain data only)."""
    if model[4:8] != FILE_IDENTIFIER:
        # an ONNX file (a protobuf) starts with field 1, ir_version: the byte 0x08
        hint = (
            "it looks like an ONNX model: name it .onnx"
            if model[:1] == b"\x08"
            else ("write one with tools/export.py format=tflite")
        )
        raise ExportError(
            f"{source} is not a LiteRT model (its header lacks the "
            f"{FILE_IDENTIFIER.decode()} identifier); {hint}"
        )
    text = None
    try:
        root = schema.Model.GetRootAs(model, 0)
        for index in range(root.MetadataLength()):
            entry = root.Metadata(index)
            if entry.Name().decode() == METADATA_KEY:
                text = root.Buffers(entry.Buffer()).DataAsNumpy().tobytes().decode("utf-8")
    except (
        AttributeError,
        IndexError,
        OverflowError,
        TypeError,  # flatbuffers' own check of a damaged offset
        UnicodeDecodeError,
        ValueError,
        struct.error,
    ) as error:
        raise ExportError(f"{source} is not a readable LiteRT model ({error})") from None
    if text is None:
        raise ExportError(
            f"{source} has no detect metadata; export it with tools/export.py format=tflite"
        )
    return ExportMetadata.from_json(text, source)
