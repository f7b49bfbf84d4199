"""detect: MobileNet V1/V2/V3 + SSDLite object detection for phones, edge boxes and CPUs."""

import os

# albumentations checks PyPI for a newer version at import; detectors run offline and on edge
# boxes, so the check is off unless the user sets the variable.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"
