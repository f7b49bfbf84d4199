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
import onnxruntime as ort

from detect.errors import ExportError
from detect.export.deployed import DeployedDetector
from detect.export.metadata import METADATA_KEY, ExportMetadata

INPUT_NAME = "images"
OUTPUT_NAMES = ("boxes", "scores", "labels", "batch_index")  # the whole graph's, in this order
CUDA_PROVIDER = "CUDAExecutionProvider"  # onnxruntime-gpu's
RAW_OUTPUT_NAMES = ("cls_logits", "bbox_regression")  # a network-only graph's


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
        name = "the serialized model" if isinstance(model, bytes) else str(model)
        raise ExportError(f"{name} is not a loadable ONNX model ({error})") from None


class OnnxDetector(DeployedDetector):
    """An exported ``.onnx`` (whole pipeline or network only) on ONNX Runtime's CPU provider
    (``cuda``: its CUDA provider)."""

    def __init__(
        self,
        model: str | os.PathLike[str] | bytes,
        threads: int | None = None,
        spin: bool = False,
        cuda: bool = False,
    ) -> None:
        self.session = open_session(model, threads, spin, cuda)
        meta = self.session.get_modelmeta().custom_metadata_map
        source = "the model" if isinstance(model, bytes) else str(model)
        if METADATA_KEY not in meta:
            raise ExportError(f"{source} has no detect metadata; export it with tools/export.py")
        self.metadata = ExportMetadata.from_json(meta[METADATA_KEY], source)
        self.check(source)
        raw = self.metadata.outputs == "raw"
        self.output_names = list(RAW_OUTPUT_NAMES if raw else OUTPUT_NAMES)
        inputs = [i.name for i in self.session.get_inputs()]
        outputs = [o.name for o in self.session.get_outputs()]
        if inputs != [INPUT_NAME] or not set(self.output_names) <= set(outputs):
            # metadata copied onto another graph: it would fail at the first image
            raise ExportError(
                f"{source} carries detect metadata but its graph is not a detect export (inputs "
                f"{inputs}, outputs {outputs}; a detect export takes {INPUT_NAME!r} and gives "
                f"{', '.join(self.output_names)}); export it again with tools/export.py"
            )

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        return self.session.run(self.output_names, {INPUT_NAME: batch})
