"""Inference: images in, detections in original pixels out.

The names below are imported on first use (PEP 562), so importing one light module of this
package — ``detect.inference.detections`` for ``from detect import Detections`` — does not load
the backends and torch with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from detect.inference.backends import LoadedDetector, load_detector
    from detect.inference.counting import CountConfig
    from detect.inference.outputs import OutputConfig, Outputs, Result, draw
    from detect.inference.sources import Frame, Reconnect, Source, open_sources
    from detect.inference.stats import SourceStats, StreamSummary
    from detect.inference.stream import DetectionStream, StreamConfig, run_stream
    from detect.inference.tracking import TrackerConfig

HOMES = {
    "detect.inference.backends": ("LoadedDetector", "load_detector"),
    "detect.inference.counting": ("CountConfig",),
    "detect.inference.outputs": ("OutputConfig", "Outputs", "Result", "draw"),
    "detect.inference.sources": ("Frame", "Reconnect", "Source", "open_sources"),
    "detect.inference.stats": ("SourceStats", "StreamSummary"),
    "detect.inference.stream": ("DetectionStream", "StreamConfig", "run_stream"),
    "detect.inference.tracking": ("TrackerConfig",),
}
HOME_OF = {name: module for module, names in HOMES.items() for name in names}
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


def __getattr__(name: str) -> Any:
    if name in HOME_OF:
        return getattr(importlib.import_module(HOME_OF[name]), name)
    raise AttributeError(f"module 'detect.inference' has no attribute {name!r}")
