"""Run an exported detector with ONNX Runtime and numpy only — no torch import, for deployment.

The file holds the whole pipeline (see :mod:`detect.export.graph`): uint8 images in, detections
in the images' own pixels out — or the network alone (``postprocess=false`` exports), whose heads
the numpy decoder finishes; its metadata carries the category names and COCO ids.

    detector = OnnxDetector("model.onnx", threads=2)
    [result] = detector([image_chw_uint8])  # result["boxes"], ["scores"], ["labels"], ["names"]
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from detect.errors import ExportError
from detect.export.admission import (
    MAX_IMAGE_SIDE,
    ONNX_DOMAINS,
    ONNX_OPS,
    brief,
    check_ops,
    check_side,
    refuse,
)
from detect.export.deployed import DeployedDetector
from detect.export.metadata import METADATA_KEY, ExportMetadata

INPUT_NAME = "images"
OUTPUT_NAMES = ("boxes", "scores", "labels", "batch_index")  # the whole graph's, in this order
CUDA_PROVIDER = "CUDAExecutionProvider"  # onnxruntime-gpu's
RAW_OUTPUT_NAMES = ("cls_logits", "bbox_regression")  # a network-only graph's
# what ONNX Runtime raises running a graph (its own classes, not RuntimeError's)
ORT_ERRORS = (ort_state.Fail, ort_state.RuntimeException, ort_state.InvalidArgument)


def session_options(threads: int | None, spin: bool = False) -> ort.SessionOptions:
    """All graph optimisations (Conv + activation fusion, layout transforms), ``threads``
    intra-op threads (None: ONNX Runtime's default, one per core), sequential execution.

    ``spin=True`` lets the worker threads busy-wait between the operators of a run (no wake-up
    per operator) and stops them at the end of each run (``session.force_spinning_stop``), so
    they never spin between runs, when they would take the cores from everything else in the
    process (decoding threads, another model; a session left spinning made a PyTorch model
    interleaved with it 30× slower here). ``spin=False``: they sleep whenever idle."""
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        options.intra_op_num_threads = threads
    return options


def open_session(
    model: str | os.PathLike[str] | bytes,
    threads: int | None = None,
    spin: bool = False,
    cuda: bool = False,
    name: str | None = None,
) -> ort.InferenceSession:
    """An ONNX Runtime session over a file or serialized model, or an :class:`ExportError`: on
    the CPU provider, or with ``cuda`` on the CUDA one (onnxruntime-gpu) with the CPU's behind."""
    if not isinstance(model, bytes) and not Path(model).is_file():
        raise ExportError(f"exported model not found: {model}; write one with tools/export.py")
    if cuda and CUDA_PROVIDER not in ort.get_available_providers():
        raise ExportError(
            f"this onnxruntime has no {CUDA_PROVIDER} (providers: "
            f"{', '.join(ort.get_available_providers())}): install onnxruntime-gpu"
        )
    providers = [CUDA_PROVIDER, "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
    try:
        source = model if isinstance(model, bytes) else str(model)
        return ort.InferenceSession(source, session_options(threads, spin), providers=providers)
    except Exception as error:  # onnxruntime raises its own untyped exceptions
        name = name or ("the serialized model" if isinstance(model, bytes) else str(model))
        raise ExportError(f"{name} is not a loadable ONNX model ({brief(error)})") from None


def read_model(model: str | os.PathLike[str] | bytes) -> bytes:
    """The serialized model: ``model`` itself, or the file's bytes (read once: what is
    checked is what runs)."""
    if isinstance(model, bytes):
        return model
    if not Path(model).is_file():
        raise ExportError(f"exported model not found: {model}; write one with tools/export.py")
    return Path(model).read_bytes()


def parse_graph(data: bytes, source: str) -> onnx.ModelProto:
    """The model's protobuf (external data not loaded), or one line."""
    try:
        return onnx.load_from_string(data)
    except Exception as error:  # protobuf's DecodeError and friends
        raise ExportError(f"{source} is not a loadable ONNX model ({brief(error)})") from None


def graph_metadata(proto: onnx.ModelProto, source: str) -> ExportMetadata:
    found = {entry.key: entry.value for entry in proto.metadata_props}
    if METADATA_KEY not in found:
        raise ExportError(f"{source} has no detect metadata; export it with tools/export.py")
    return ExportMetadata.from_json(found[METADATA_KEY], source)


def check_graph(proto: onnx.ModelProto, metadata: ExportMetadata, source: str) -> None:
    """The graph is one ``detect export`` writes: standard ops of the allow-list only (no
    control flow, no custom domain, no local functions), one uint8 (N, 3, H, W) input named
    ``images`` and the outputs its metadata's kind names, with their element types."""
    graph = proto.graph
    if proto.functions:
        raise refuse(source, f"it defines {len(proto.functions)} local function(s)")
    for node in graph.node:
        allowed = ONNX_DOMAINS.get(node.domain)
        if allowed is None:
            raise refuse(source, f"its node {node.name!r} is of the custom domain {node.domain!r}")
        if any(attribute.g.node or attribute.graphs for attribute in node.attribute):
            raise refuse(source, f"its node {node.name!r} ({node.op_type}) holds a subgraph")
    check_ops((node.op_type for node in graph.node), ONNX_OPS, source, "ONNX")
    raw = metadata.outputs == "raw"
    wanted = RAW_OUTPUT_NAMES if raw else OUTPUT_NAMES
    inputs = [
        (i.name, i.type.tensor_type.elem_type, len(i.type.tensor_type.shape.dim))
        for i in graph.input
    ]
    outputs = {o.name: o.type.tensor_type.elem_type for o in graph.output}
    types = dict.fromkeys(wanted, onnx.TensorProto.FLOAT)
    if not raw:
        types.update(labels=onnx.TensorProto.INT64, batch_index=onnx.TensorProto.INT64)
    if inputs != [(INPUT_NAME, onnx.TensorProto.UINT8, 4)] or any(
        outputs.get(name) != kind for name, kind in types.items()
    ):
        # metadata copied onto another graph: it would fail at the first image
        raise ExportError(
            f"{source} carries detect metadata but its graph is not a detect export (inputs "
            f"{[i[0] for i in inputs]}, outputs {list(outputs)}; a detect export takes uint8 "
            f"{INPUT_NAME!r} and gives {', '.join(wanted)}); export it again with tools/export.py"
        )
    dims = graph.input[0].type.tensor_type.shape.dim
    if dims[1].HasField("dim_value") and dims[1].dim_value != 3:
        raise refuse(source, f"its input takes {dims[1].dim_value} channels")
    for dim in dims[2:]:
        if dim.HasField("dim_value"):
            check_side(dim.dim_value, source, "its input's side", MAX_IMAGE_SIDE)


class OnnxDetector(DeployedDetector):
    """An exported ``.onnx`` (whole pipeline or network only) on ONNX Runtime's CPU provider
    (``cuda``: its CUDA provider). The graph is checked against what ``detect export`` writes
    (:func:`check_graph`) before a session is made, and tried on one image (``probe``)."""

    runtime_errors = (RuntimeError, MemoryError, *ORT_ERRORS)

    def __init__(
        self,
        model: str | os.PathLike[str] | bytes,
        threads: int | None = None,
        spin: bool = False,
        cuda: bool = False,
    ) -> None:
        source = "the model" if isinstance(model, bytes) else str(model)
        data = read_model(model)
        proto = parse_graph(data, source)
        self.metadata = graph_metadata(proto, source)
        self.check(source)
        check_graph(proto, self.metadata, source)
        del proto
        self.session = open_session(data, threads, spin, cuda, source)
        self.output_names = list(
            RAW_OUTPUT_NAMES if self.metadata.outputs == "raw" else OUTPUT_NAMES
        )
        self.probe()

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        return self.session.run(self.output_names, {INPUT_NAME: batch})
