"""Inference: images in, detections in original pixels out."""

from detect.inference.outputs import OutputConfig, Outputs, Result, draw
from detect.inference.sources import (
    Frame,
    Reconnect,
    Source,
    SourceError,
    open_sources,
)
from detect.inference.stats import SourceStats, StreamSummary
from detect.inference.stream import (
    DetectionStream,
    Detector,
    StreamConfig,
    StreamConfigError,
    run_stream,
)

__all__ = [
    "DetectionStream",
    "Detector",
    "Frame",
    "OutputConfig",
    "Outputs",
    "Reconnect",
    "Result",
    "Source",
    "SourceError",
    "SourceStats",
    "StreamConfig",
    "StreamConfigError",
    "StreamSummary",
    "draw",
    "open_sources",
    "run_stream",
]
