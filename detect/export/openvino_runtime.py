"""Run an OpenVINO IR export (``.xml`` + ``.bin``) with openvino and numpy only — no torch: the
network on OpenVINO's CPU plugin, the numpy decoder (:mod:`detect.export.decode`) after it.

``precision``: the plugin's ``INFERENCE_PRECISION_HINT``. ``f32`` by default: on a CPU with
avx512_bf16 (this one) OpenVINO would otherwise run float32 models in bfloat16, whose boxes and
scores leave the ONNX tolerances (2,485 of 1,678 detections unpaired on 12 COCO images, max
|Δbox| 0.01 px); ``bf16`` asks for that speed explicitly. ``performance_hint``: ``latency`` (one
request at a time, all cores on it: what a camera loop needs) or ``throughput`` (streams for many
requests in flight).

    detector = OpenVINODetector("model.xml", threads=2)
    [result] = detector([image_chw_uint8])  # result["boxes"], ["scores"], ["labels"], ["names"]
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from detect.errors import ConfigError, ExportError
from detect.export.admission import (
    MAX_IMAGE_SIDE,
    OPENVINO_OPS,
    brief,
    check_ops,
    check_side,
    refuse,
)
from detect.export.deployed import DeployedDetector
from detect.export.metadata import ExportMetadata
from detect.export.openvino import RT_INFO_KEY, IRFiles, require_openvino, weights_path
from detect.export.runtime import INPUT_NAME, RAW_OUTPUT_NAMES

PERFORMANCE_HINTS = {"latency": "LATENCY", "throughput": "THROUGHPUT"}
PRECISIONS = {"f32": "f32", "bf16": "bf16"}
SETTINGS = ("performance_hint", "precision")  # what openvino={…} of a load may set


def plugin_config(threads: int | None, performance_hint: str, precision: str) -> dict[str, str]:
    """The CPU plugin's settings, each refused by name when unknown."""
    if performance_hint not in PERFORMANCE_HINTS:
        raise ConfigError(
            f"performance_hint={performance_hint!r}: choose {' or '.join(PERFORMANCE_HINTS)}"
        )
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision!r}: choose {' or '.join(PRECISIONS)}")
    config = {
        "PERFORMANCE_HINT": PERFORMANCE_HINTS[performance_hint],
        "INFERENCE_PRECISION_HINT": PRECISIONS[precision],
    }
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"threads must be at least 1, got {threads}")
        config["INFERENCE_NUM_THREADS"] = str(threads)
    return config


@functools.cache
def shared_core() -> object:
    """The process's one OpenVINO ``Core``, never dropped. Each Core's CPU plugin installs its own
    signal stack on the thread that made it and, when dropped, puts back the one it replaced: two
    Cores dropped first-made-first leave the thread on freed memory, and the next signal Python
    handles there (a child process's exit) kills the process (openvino 2026.4; a CI worker died so).
    """
    return require_openvino().Core()


def read_ir(core: object, model: str | os.PathLike[str] | IRFiles) -> tuple[object, str]:
    """An ``openvino.Model`` from files on disk or in memory, and how to name it in errors."""
    openvino = require_openvino()
    if isinstance(model, IRFiles):
        weights = openvino.Tensor(np.frombuffer(model.weights, dtype=np.uint8))
        return core.read_model(model=model.xml.decode(), weights=weights), "the model"
    path = Path(model)
    for file in (path, weights_path(path)):
        if not file.is_file():
            raise ExportError(
                f"exported model not found: {file}; write one with detect export format=openvino"
            )
    try:
        return core.read_model(path), str(path)
    except (RuntimeError, UnicodeDecodeError) as error:  # a damaged name: not UTF-8
        raise ExportError(f"{path} is not a loadable OpenVINO IR ({brief(error)})") from None


def check_network(network: object, metadata: ExportMetadata, source: str) -> None:
    """The IR is one ``detect export format=openvino`` writes: op types of the allow-list,
    one uint8 (N, 3, H, W) input named ``images`` whose fixed sides are within reason, and
    the raw heads as outputs, of the metadata's anchors and classes where their shape is
    fixed."""
    check_ops(
        (op.get_type_name() for op in network.get_ordered_ops()), OPENVINO_OPS, source, "OpenVINO"
    )
    inputs = [(port.get_any_name(), port.get_element_type().to_string()) for port in network.inputs]
    names = {name for port in network.outputs for name in port.get_names()}
    if inputs != [(INPUT_NAME, "u8")] or not set(RAW_OUTPUT_NAMES) <= names:
        raise ExportError(
            f"{source} carries detect metadata but its graph is not a detect export (inputs "
            f"{[name for name, _ in inputs]}, outputs {sorted(names)}; a detect export takes "
            f"uint8 {INPUT_NAME!r} and gives {', '.join(RAW_OUTPUT_NAMES)}); export it again"
        )
    shape = network.inputs[0].get_partial_shape()
    if shape.rank.is_dynamic or shape.rank.get_length() != 4:
        raise refuse(source, f"its input has the shape {shape}")
    for index, dimension in enumerate(shape):
        if dimension.is_static:
            most = 3 if index == 1 else MAX_IMAGE_SIDE
            check_side(dimension.get_length(), source, f"its input's dimension {index}", most)
    anchors, classes = len(metadata.decoder.anchors), metadata.num_classes
    for port in network.outputs:
        wanted = {"cls_logits": classes, "bbox_regression": 4}.get(port.get_any_name())
        found = port.get_partial_shape()
        if wanted is None or found.rank.is_dynamic or found.rank.get_length() != 3:
            continue
        fixed = [d.get_length() if d.is_static else None for d in found][1:]
        if fixed[0] not in (None, anchors) or fixed[1] not in (None, wanted):
            raise ExportError(
                f"{source}: its {port.get_any_name()} output is {found} but its metadata "
                f"describes {anchors} anchors × {wanted}; refused (export it again)"
            )


def _readable(value: object) -> str:
    """A compiled model's property as its config spells it (an element type as ``f32``)."""
    to_string = getattr(value, "to_string", None)
    return to_string() if callable(to_string) else str(value)


class OpenVINODetector(DeployedDetector):
    """An OpenVINO IR export (network only) on OpenVINO's CPU plugin + the numpy decoder."""

    def __init__(
        self,
        model: str | os.PathLike[str] | IRFiles,
        threads: int | None = None,
        performance_hint: str = "latency",
        precision: str = "f32",
    ) -> None:
        config = plugin_config(threads, performance_hint, precision)
        core = shared_core()
        network, source = read_ir(core, model)
        if not network.has_rt_info([RT_INFO_KEY]):
            raise ExportError(
                f"{source} has no detect metadata; export it with detect export format=openvino"
            )
        text = network.get_rt_info([RT_INFO_KEY]).astype(str)
        self.metadata = ExportMetadata.from_json(text, source)
        self.check(source)
        if self.metadata.outputs != "raw":
            raise ExportError(f"{source}: OpenVINO exports hold the raw heads; export it again")
        check_network(network, self.metadata, source)
        try:
            self.compiled = core.compile_model(network, "CPU", config)
        except RuntimeError as error:
            raise ExportError(f"{source}: OpenVINO cannot compile it ({brief(error)})") from None
        self.request = self.compiled.create_infer_request()
        self.outputs = [self.compiled.output(name) for name in RAW_OUTPUT_NAMES]
        self.settings = {key: _readable(self.compiled.get_property(key)) for key in config}
        self.probe()

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        results = self.request.infer({INPUT_NAME: batch})
        return [results[output] for output in self.outputs]
