"""Inference: images in, detections in original pixels out."""

from detect.inference.backends import LoadedDetector, load_detector
from detect.inference.counting import CountConfig
from detect.inference.outputs import OutputConfig, Outputs, Result, draw
from detect.inference.sources import Frame, Reconnect, Source, open_sources
from detect.inference.stats import SourceStats, StreamSummary
from detect.inference.stream import DetectionStream, StreamConfig, run_stream
from detect.inference.tracking import TrackerConfig

__all__ = [
    "CountConfig",
    "DetectionStream",
    "Frame",
    "LoadedDetector",
    "OutputConfig",
    "Outputs",
    "Reconnect",
    "Result",
    "Source",
    "SourceStats",
    "StreamConfig",
    "StreamSummary",
    "TrackerConfig",
    "draw",
    "load_detector",
    "open_sources",
    "run_stream",
]
