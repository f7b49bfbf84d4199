"""detect: MobileNet V1/V2/V3 + SSDLite object detection for phones, edge boxes and CPUs.

``from detect import Model, Detections``: the one object and the one result type (imported on
first use, so ``import detect`` and ``detect --help`` stay quick).
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# albumentations checks PyPI for a newer version at import; detectors run offline and on edge
# boxes, so the check is off unless the user sets the variable.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"
__all__ = ["Detections", "Model", "__version__"]

if TYPE_CHECKING:
    from detect.api import Model
    from detect.inference.detections import Detections


LAZY = {"Model": "detect.api", "Detections": "detect.inference.detections"}


def __getattr__(name: str) -> Any:
    # imported by name at first use: the package itself imports nothing of its layers, so any
    # layer may read __version__ (import-linter sees no edge from `detect` to the API)
    if name in LAZY:
        return getattr(importlib.import_module(LAZY[name]), name)
    raise AttributeError(f"module 'detect' has no attribute {name!r}")
