"""INT8 post-training static quantisation of an exported detector with ONNX Runtime's tools.

Convolutions (the network's work: backbone, extra layers and head) get int8 weights, per output
channel, and uint8 activations whose ranges are calibrated on real images (QDQ format, which ONNX
Runtime runs with its int8 kernels, VNNI where the CPU has it). Pre- and postprocessing stay in
float: resizing, softmax, box decoding and NMS gain nothing from int8 and lose accuracy.
h-swish was designed for this (V3 paper §5.2): its piecewise-linear form quantises without the
sigmoid's precision loss; the V3 paper's Table 4 reports quantised results.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from detect.errors import ConfigError
from detect.export.deployed import as_rgb_chw
from detect.export.proto import read_metadata, set_metadata
from detect.export.runtime import INPUT_NAME

QUANTIZED_OPS = ("Conv",)
METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "entropy": CalibrationMethod.Entropy,
    "percentile": CalibrationMethod.Percentile,
}


class ImageReader(CalibrationDataReader):
    """Feeds calibration images one at a time as the graph's uint8 (1, 3, H, W) input."""

    def __init__(self, images: Sequence[np.ndarray]) -> None:
        if not images:
            raise ValueError("calibration needs at least one image")
        self._images: Iterator[np.ndarray] = iter(images)

    def get_next(self) -> dict[str, np.ndarray] | None:
        image = next(self._images, None)
        return None if image is None else {INPUT_NAME: as_rgb_chw(image)[None]}


def quantize_int8(
    fp32_model: bytes, calibration_images: Sequence[np.ndarray], method: str = "minmax"
) -> bytes:
    """The int8 model (serialized) of an fp32 export, its metadata marked ``precision: int8``."""
    metadata = read_metadata(onnx.load_from_string(fp32_model))
    if method not in METHODS:
        raise ConfigError(f"unknown calibration method {method!r}; choose one of {sorted(METHODS)}")
    with tempfile.TemporaryDirectory() as folder:
        fp32, prepared, int8 = (Path(folder) / name for name in ("fp32", "pre", "int8"))
        fp32.write_bytes(fp32_model)
        # graph clean-up and shape inference, as ORT's quantisation guide advises; symbolic
        # shape inference cannot follow NMS's data-dependent shapes and is not needed
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        root = logging.getLogger()  # ORT logs a line per copied bias on the root logger
        level = root.level
        root.setLevel(max(level, logging.WARNING))
        try:
            quantize_static(
                str(prepared),
                str(int8),
                ImageReader(calibration_images),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=list(QUANTIZED_OPS),
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=METHODS[method],
            )
        finally:
            root.setLevel(level)
        proto = onnx.load(str(int8))
    set_metadata(proto, replace(metadata, precision="int8"))
    return proto.SerializeToString()
