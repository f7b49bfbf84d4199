"""What the ``mediapipe`` package needs from us: a clear error when it is missing, and the one
piece its metadata writers lack in the 1.2 wheels, the minimum metadata parser version of a
metadata buffer.

The extra: mediapipe's wheel requires ``opencv-contrib-python``, a second cv2 distribution that
would overwrite our ``opencv-python-headless``; its Python tasks API never imports cv2 (only
``vision/drawing_utils.py`` does), so it is installed with ``--no-deps`` beside the ``mediapipe``
extra, which lists its other requirements (:data:`INSTALL`).

``mediapipe.tasks.python.metadata`` imports ``mediapipe.tasks.cc.metadata.python.
_pywrap_metadata_version``, a pybind module the 1.2.x wheels no longer ship (they moved to a C
API), so the writers fail at import. This is MediaPipe's own rule
(``mediapipe/tasks/cc/metadata/metadata_version.cc``: the highest version of the schema members
a buffer uses) on MediaPipe's own flatbuffer bindings, registered under the missing module's name
before the writers are imported (:func:`install`); the writers themselves run unchanged. Written
by hand because no package ships it; checked against the version MediaPipe's runtime accepts by
the test that loads the file in MediaPipe.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence

from detect.errors import ConfigError, install_hint

MODULE = "mediapipe.tasks.cc.metadata.python._pywrap_metadata_version"


def require_mediapipe() -> None:
    """Import-check the ``mediapipe`` package, or one line saying how to install it."""
    try:
        import mediapipe.tasks.python.vision  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"MediaPipe export and backend need the mediapipe extra: {install_hint('mediapipe')}"
        ) from None


def minimum_parser_version(buffer: bytes) -> str:
    """The lowest metadata parser version that understands every field ``buffer`` uses."""
    from mediapipe.tasks.metadata import metadata_schema_py_generated as fb

    versions = [(1, 0, 0)]
    root = fb.ModelMetadataT.InitFromObj(fb.ModelMetadata.GetRootAsModelMetadata(buffer, 0))

    def files(entries) -> None:
        for entry in entries or []:
            if entry.type == fb.AssociatedFileType.VOCABULARY:
                versions.append((1, 0, 1))
            if entry.type == fb.AssociatedFileType.SCANN_INDEX_FILE:
                versions.append((1, 4, 0))
            if entry.version is not None:
                versions.append((1, 4, 1))

    def units(entries) -> None:
        tokenizers = {
            fb.ProcessUnitOptions.BertTokenizerOptions: (1, 1, 0),
            fb.ProcessUnitOptions.SentencePieceTokenizerOptions: (1, 1, 0),
            fb.ProcessUnitOptions.RegexTokenizerOptions: (1, 2, 1),
        }
        for entry in entries or []:
            if entry.optionsType in tokenizers:
                versions.append(tokenizers[entry.optionsType])

    def tensors(entries) -> None:
        for tensor in entries or []:
            files(tensor.associatedFiles)
            units(tensor.processUnits)
            content = tensor.content
            if content and content.contentPropertiesType == fb.ContentProperties.AudioProperties:
                versions.append((1, 3, 0))

    for subgraph in root.subgraphMetadata or []:
        tensors(subgraph.inputTensorMetadata)
        tensors(subgraph.outputTensorMetadata)
        files(subgraph.associatedFiles)
        for present, version in (
            (subgraph.inputProcessUnits, (1, 1, 0)),
            (subgraph.outputProcessUnits, (1, 1, 0)),
            (subgraph.inputTensorGroups, (1, 2, 0)),
            (subgraph.outputTensorGroups, (1, 2, 0)),
            (subgraph.customMetadata, (1, 5, 0)),
        ):
            if present is not None:
                versions.append(version)
        units(subgraph.inputProcessUnits)
        units(subgraph.outputProcessUnits)
    files(root.associatedFiles)
    return ".".join(str(part) for part in max(versions))


def install_version_helper() -> None:
    """Register :func:`minimum_parser_version` under the module name the writers import (only
    where the wheel lacks it)."""
    try:
        __import__(MODULE)
    except ImportError:
        parts = MODULE.split(".")
        for depth in range(3, len(parts) + 1):  # mediapipe.tasks.cc and below are missing
            name = ".".join(parts[:depth])
            if name not in sys.modules:
                module = types.ModuleType(name)
                module.__path__ = []  # a package, so that the next level imports from it
                sys.modules[name] = module
                setattr(sys.modules[".".join(parts[: depth - 1])], parts[depth - 1], module)
        sys.modules[MODULE].GetMinimumMetadataParserVersion = minimum_parser_version  # type: ignore[attr-defined]


GAP_LABEL = "???"  # a category id no class has (TF OD API's label maps write the same)


def labels_by_id(coco_ids: Sequence[int], names: Sequence[str]) -> list[str]:
    """The label file's lines: line ``id`` names category ``id``; ids no class has read ???."""
    lines = [GAP_LABEL] * (max(coco_ids) + 1)
    for coco_id, name in zip(coco_ids, names, strict=True):
        lines[coco_id] = name
    return lines
