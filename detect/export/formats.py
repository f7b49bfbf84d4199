"""The export formats ``detect export format=…`` writes, named without importing any exporter
(a command line is checked before torch loads)."""

from __future__ import annotations

# format → the file's suffix; web writes a folder (its page, the .onnx and ONNX Runtime Web)
EXPORT_FORMATS = {
    "onnx": ".onnx",
    "tflite": ".tflite",
    "openvino": ".xml",  # + its .bin
    "mediapipe": ".mediapipe.tflite",  # MediaPipe's ObjectDetector (export.mediapipe)
    "ncnn": ".ncnn.param",  # + .bin and .json beside it (export.ncnn)
    "executorch": ".pte",  # XNNPACK-delegated, + .json beside it (export.executorch)
    "web": "_web",
}
