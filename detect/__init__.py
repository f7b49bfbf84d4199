"""detect: MobileNet V1/V2/V3 + SSDLite object detection for phones, edge boxes and CPUs.

``from detect import Model, Detections``: the one object and the one result type (imported on
first use, so ``import detect`` and ``detect --help`` stay quick).
"""

from __future__ import annotations

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


def __getattr__(name: str) -> Any:
    if name == "Model":
        from detect.api import Model

        return Model
    if name == "Detections":
        from detect.inference.detections import Detections

        return Detections
    raise AttributeError(f"module 'detect' has no attribute {name!r}")
