"""Run a LiteRT (``.tflite``) export with ai_edge_litert and numpy only — no torch, no
onnxruntime: the phone format, here on the CPU with XNNPACK.

The file holds the network behind its preprocessing (uint8 images in, the raw heads out); the
numpy decoder (:mod:`detect.export.decode`) turns them into detections. LiteRT graphs have a
fixed batch of one, so a batch is run image by image, the input resized to each image's size.

    detector = LiteRTDetector("model.tflite", threads=2)
    [result] = detector([image_chw_uint8])  # result["boxes"], ["scores"], ["labels"], ["names"]
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from detect.errors import ExportError
from detect.export.admission import LITERT_OPS, MEDIAPIPE_OP, brief, check_ops, check_side, refuse
from detect.export.deployed import DeployedDetector
from detect.export.postprocessed import model_input, op_detections
from detect.export.tflite import read_metadata


def check_interpreter(interpreter: Interpreter, outputs: str, source: str) -> None:
    """The file's graph is one ``detect export`` writes: op types of the allow-list (the
    detection op only in a file whose metadata says it ends in it), each resize's fixed output
    side within the model's bounds, one input and two (raw heads) or four (the op's) outputs.
    (The op list is the interpreter's ``_get_ops_details``: LiteRT has no public one.)"""
    try:
        ops = interpreter._get_ops_details()
    except (RuntimeError, ValueError) as error:  # a damaged name: UnicodeDecodeError
        raise ExportError(f"{source} is not a readable LiteRT model ({brief(error)})") from None
    allowed = LITERT_OPS | ({MEDIAPIPE_OP} if outputs == "detections" else set())
    check_ops((op["op_name"] for op in ops), allowed, source, "LiteRT")
    for op in ops:
        if op["op_name"].startswith("RESIZE_") and len(op["inputs"]) > 1:
            try:
                sides = np.asarray(interpreter.get_tensor(int(op["inputs"][1]))).ravel()
            except ValueError:  # computed in the graph, not a constant: not ours
                raise refuse(source, "a resize's output side is computed in the graph") from None
            for side in sides:
                check_side(float(side), source, "a resize's output side")
    counts = len(interpreter.get_input_details()), len(interpreter.get_output_details())
    if counts != (1, 4 if outputs == "detections" else 2):
        raise refuse(source, f"its graph has {counts[0]} input(s) and {counts[1]} output(s)")


class LiteRTDetector(DeployedDetector):
    """An exported ``.tflite`` on LiteRT's interpreter (XNNPACK on the CPU)."""

    def __init__(self, model: str | os.PathLike[str] | bytes, threads: int | None = None) -> None:
        source = "the model" if isinstance(model, bytes) else str(model)
        if not isinstance(model, bytes):
            if not Path(model).is_file():
                raise ExportError(
                    f"exported model not found: {model}; write one with tools/export.py"
                )
            model = Path(model).read_bytes()
        self.metadata = read_metadata(model, source)
        self.check(source)
        if self.metadata.outputs == "detections":
            # LiteRT's multi-threaded regular NMS skips the class whose index equals the thread
            # count (detection_postprocess.cc starts its shared next column at num_threads and
            # pre-increments it; tensorflow/tensorflow#56058): the op's file runs on one thread
            threads = 1
        try:
            self.interpreter = Interpreter(
                model_content=model, num_threads=threads or os.cpu_count()
            )
        except (RuntimeError, ValueError) as error:
            raise ExportError(f"{source} is not a loadable LiteRT model ({brief(error)})") from None
        check_interpreter(self.interpreter, self.metadata.outputs, source)
        self.input = self.interpreter.get_input_details()[0]["index"]
        outputs = self.interpreter.get_output_details()
        # the class logits have C > 4 columns, the box codes 4; a MediaPipe export (outputs
        # "detections") ends in TFLite_Detection_PostProcess: boxes, classes, scores, count
        if self.metadata.outputs == "raw":
            outputs = sorted(outputs, key=lambda d: -d["shape"][-1])
        self.outputs = [d["index"] for d in outputs]
        self.shape: tuple[int, ...] | None = None
        self.probe()

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        if self.metadata.outputs == "detections":
            return self.run_postprocessed(batch)
        logits, codes = [], []
        for image in batch:
            if image.shape != self.shape:
                self.interpreter.resize_tensor_input(self.input, [1, *image.shape])
                self.interpreter.allocate_tensors()
                self.shape = image.shape
            self.interpreter.set_tensor(self.input, image[None])
            self.interpreter.invoke()
            logits.append(self.interpreter.get_tensor(self.outputs[0])[0])
            codes.append(self.interpreter.get_tensor(self.outputs[1])[0])
        return [np.stack(logits), np.stack(codes)]

    def run_postprocessed(self, batch: np.ndarray) -> list[np.ndarray]:
        """A MediaPipe export (:mod:`~detect.export.postprocessed`): each image resized to the
        file's fixed input as our preprocessing does, the op's outputs read as they are."""
        if self.shape is None:
            self.interpreter.allocate_tensors()
            self.shape = ()
        found = []
        for image in batch:
            self.interpreter.set_tensor(self.input, model_input(image, self.metadata.size))
            self.interpreter.invoke()
            outputs = [self.interpreter.get_tensor(index) for index in self.outputs]
            found.append(op_detections(outputs, image.shape[1:], self.metadata.coco_ids))
        return [
            np.concatenate([f["boxes"] for f in found]),
            np.concatenate([f["scores"] for f in found]),
            np.concatenate([f["labels"] for f in found]),
            np.concatenate([np.full(len(f["scores"]), i) for i, f in enumerate(found)]),
        ]
