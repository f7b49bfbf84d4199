"""Export a detector to OpenVINO IR (``.xml`` graph + ``.bin`` weights), the format Intel's edge
boxes run: ``openvino.convert_model`` reads the network-only ONNX graph (the same one ONNX
Runtime runs, so there is one graph definition), ``save_model(compress_to_fp16=False)`` keeps its
weights float32, and the detect metadata travels in the IR's ``rt_info``. ``int8``: NNCF's
post-training quantisation of that graph, calibrated on real images. Needs the ``openvino``
extra.

Why the network alone (raw heads + the numpy decoder) and not the whole graph with its NMS:
OpenVINO's CPU plugin refuses a ``TopK`` whose K is 0 ("K (0) must be greater or equal to 1"),
and our graph's per-class top-k has K = 0 for every class without a candidate above the score
threshold — on every real COCO image tried (12 of 12, a trained-like detector). ONNX allows
K = 0; OpenVINO does not, so the whole graph cannot run there exactly. The decoder
(:mod:`detect.export.decode`) is the one LiteRT's exports use.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
from torch import Tensor

from detect.errors import ConfigError, ExportError, import_extra
from detect.export.metadata import ExportMetadata
from detect.export.onnx import OPSET, export_bytes
from detect.io import atomic_write
from detect.models import SSDLite

PRECISIONS = ("fp32", "int8")
RT_INFO_KEY = "detect"  # the IR's rt_info entry holding ExportMetadata's json
EXTRA = "openvino"  # pyproject's extra: openvino and nncf


def require_openvino() -> ModuleType:
    """The ``openvino`` module, or one error line naming the extra."""
    return import_extra("openvino", "OpenVINO", EXTRA)


@dataclass(frozen=True)
class IRFiles:
    """An OpenVINO IR in memory: the ``.xml`` graph and its ``.bin`` weights."""

    xml: bytes
    weights: bytes

    def __len__(self) -> int:
        return len(self.xml) + len(self.weights)


def weights_path(xml: str | Path) -> Path:
    """The ``.bin`` beside an IR's ``.xml``."""
    return Path(xml).with_suffix(".bin")


def write_ir(files: IRFiles, path: str | Path) -> Path:
    """Write the IR at ``path`` (``.xml``) and its ``.bin`` beside it, each atomically, the
    weights first: an ``.xml`` on disk always has its weights."""
    atomic_write(weights_path(path), files.weights)
    return atomic_write(path, files.xml)


def _to_files(model: object) -> IRFiles:
    """``save_model`` (float32 weights kept) into a temporary folder, read back as bytes."""
    openvino = require_openvino()
    with tempfile.TemporaryDirectory() as folder:
        xml = Path(folder) / "model.xml"
        openvino.save_model(model, xml, compress_to_fp16=False)
        return IRFiles(xml.read_bytes(), weights_path(xml).read_bytes())


def convert(model: SSDLite, metadata: ExportMetadata, opset: int = OPSET) -> object:
    """``model``'s network (uint8 (N, 3, H, W) in, raw heads out) as an ``openvino.Model``, the
    metadata in its rt_info."""
    if metadata.outputs != "raw":
        raise ConfigError(
            "format=openvino holds the network alone (OpenVINO's CPU plugin refuses the whole "
            "graph's top-k with K = 0): postprocess=false, the numpy decoder does the rest"
        )
    openvino = require_openvino()
    with tempfile.TemporaryDirectory() as folder:
        onnx_file = Path(folder) / "model.onnx"
        onnx_file.write_bytes(export_bytes(model, metadata, opset))
        try:
            converted = openvino.convert_model(onnx_file)
        except Exception as error:  # the converter raises its own untyped errors
            raise ExportError(f"openvino.convert_model could not convert it ({error})") from None
    return converted


def quantise(converted: object, calibration: Sequence[np.ndarray]) -> object:
    """NNCF's post-training int8 quantisation (its default preset: symmetric, per-channel
    weights, Fast Bias Correction) calibrated on ``calibration``: (3, H, W) uint8 images, each
    run as a batch of one at its own size as the deployed model sees them."""
    if not calibration:
        raise ConfigError("int8 needs calibration images: calibration.count must be at least 1")
    nncf = import_extra("nncf", "NNCF (OpenVINO's int8 quantiser)", EXTRA)
    batches = [np.ascontiguousarray(image)[None] for image in calibration]
    return nncf.quantize(converted, nncf.Dataset(batches), subset_size=len(batches))


def export_ir(
    model: SSDLite,
    metadata: ExportMetadata,
    precision: str = "fp32",
    calibration: Sequence[Tensor] = (),
    opset: int = OPSET,
) -> IRFiles:
    """The IR's files: converted, quantised as asked, metadata embedded."""
    if precision not in PRECISIONS:
        raise ConfigError(
            f"precision {precision!r} for format=openvino: choose {' or '.join(PRECISIONS)}"
        )
    meta = ExportMetadata(**{**metadata.__dict__, "precision": precision})
    converted = convert(model, meta, opset)
    if precision == "int8":
        converted = quantise(converted, [image.numpy() for image in calibration])
    converted.set_rt_info(meta.to_json(), [RT_INFO_KEY])
    return _to_files(converted)
