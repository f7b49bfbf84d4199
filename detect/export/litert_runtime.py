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
from detect.export.deployed import DeployedDetector
from detect.export.tflite import read_metadata


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
        if self.metadata.outputs != "raw":
            raise ExportError(f"{source}: LiteRT exports hold the raw heads; export it again")
        try:
            self.interpreter = Interpreter(
                model_content=model, num_threads=threads or os.cpu_count()
            )
        except (RuntimeError, ValueError) as error:
            raise ExportError(f"{source} is not a loadable LiteRT model ({error})") from None
        self.input = self.interpreter.get_input_details()[0]["index"]
        outputs = self.interpreter.get_output_details()
        # the class logits have C > 4 columns, the box codes 4
        self.outputs = [d["index"] for d in sorted(outputs, key=lambda d: -d["shape"][-1])]
        self.shape: tuple[int, ...] | None = None

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
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
